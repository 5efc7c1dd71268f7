"""Every resource has the shape its kind allows (strict: unknown fields are errors).

The schemas in `schemas/` hold every field with its type, defaults and bounds. Each finding
names the field that is wrong, points at its key (line:col) and says what it must be in the
manifest's own terms: "must be one of: ipv4, ipv6", "set exactly one of `http` or `tcp`",
"`dnsResolverConfig` is only used with `backendType: Hostname`", "integer too large".

An unknown field is reported at its key with a suggestion: a close spelling among the allowed
fields, or the sibling it probably belongs under (the seed's rebel-base route puts `headers`
beside `persistentBackend` instead of under it).

`cilium-lb fix` renames an unknown field that has exactly one close spelling among the
allowed fields, moves one that belongs under exactly one sibling mapping there, and adds a
required field whose value the object states beyond doubt (an LBBackendPool without
`backendType` whose backends all give `ip` gets `backendType: IP`; likewise `host` ->
`Hostname`, `k8sServiceRef` -> `K8sService`).

Values are quoted escaped and cut short; nothing of a Secret's content, and no value of a
field that holds a password or key, is ever quoted: such findings say what is wrong and how
long the value is.

Example (error):

    pool.yaml:9:3: error: spec.healthCheck: set exactly one of `http` or `tcp` [schema]
"""

from __future__ import annotations

import math
from typing import Any, Iterator


from ...manifest.kinds import schemas, validator
from ..finding import Context, Finding
from ..problem import Severity
from ..redact import describe, escape_controls, kind_of, secret_field, show

ID = "schema"
SEVERITY = Severity.ERROR
PHASE = 0

INT_LIMIT = 2**63 - 1  # Kubernetes integers are int64; beyond that a value cannot be carried out
_TYPE_NOUN = {"string": "a string", "integer": "a whole number", "number": "a number",
              "boolean": "true or false", "object": "a mapping", "array": "a list", "null": "null"}
_FORMAT_NOUN = {"ipv4": "an IPv4 address", "ipv6": "an IPv6 address", "hostname": "a DNS host name",
                "date-time": "a date and time (RFC 3339)", "date": "a date (YYYY-MM-DD)",
                "email": "an e-mail address", "uri": "a URI", "uuid": "a UUID", "duration": "a duration"}
# Phrases for the patterns of the current schemas, used when a schema has no `x-grammar`.
_IPV4 = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}"
_GRAMMAR = {
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$":
        "a DNS subdomain name (lowercase letters, digits, '-' and '.')",
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "a DNS label (lowercase letters, digits and '-')",
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$":
        "a label or annotation key ([prefix/]name: letters, digits, '-', '_' and '.')",
    r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$":
        "a label value (letters, digits, '-', '_' and '.', starting and ending with a letter or digit)",
    "^" + _IPV4 + "$": "an IPv4 address",
    r"^[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}$": "an IPv6 address",
    "^" + _IPV4 + "/(3[0-2]|[12]?[0-9])$": "an IPv4 CIDR (a.b.c.d/n)",
    r"^[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$": "an IPv6 CIDR",
    r"^[A-Za-z0-9_.+-]+$": "a name of letters, digits and '_.+-'",
    r"^[A-Za-z0-9+/\r\n]*=?=?[\r\n]*$": "base64 (letters, digits, '+', '/', '=' padding)",
    r"^[-._a-zA-Z0-9]+$": "a key of letters, digits, '-', '_' and '.'",
    r"^[0-9]+(\.[0-9]+)+$": "an OID in dotted decimal (1.3.6.1...)",
    r"^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$":
        "a DNS host name, a wildcard '*.example.com', or '*'",
    r"^https?://": "an http:// or https:// URL",
    r"^/": "a path starting with '/'",
    r"^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$": "a large BGP community (n:n:n)",
    r"^([0-9A-Fa-f]{2})+$": "hex-encoded bytes",
}


def check(ctx: Context) -> Iterator[Finding]:
    index = ctx.index
    validators: dict[tuple[str, str], Any] = {}
    for res in index.resources:
        extra = res.extra
        if extra and (extra.get("unknown") or extra.get("foreign")):
            continue
        secret = res.kind == "Secret"
        # orjson decides in C that the body has only string keys and no number out of range: it
        # refuses a non-string key and (strict) an integer beyond 53 bits, and writes a
        # non-finite float as `null`; a failed screen only means "walk it" (a real null, a
        # large integer).
        text = index.json_text(res)
        if text is not None and b"null" not in text:
            # nothing for the two walks below to find (the common case): straight to the validator
            key = (res.api_version, res.kind)
            v = validators.get(key)
            if v is None:
                v = validators[key] = validator(*key)
            if v.is_valid(res.body):
                continue
            root = schemas()[key]
            for err in v.iter_errors(res.body):
                yield from _finding(res, err, root, secret)
            continue
        bad = _non_string_key(res.body, ())
        if bad is not None:  # JSON Schema (and Kubernetes) only know string keys
            path, key = bad
            shown = f"({kind_of(key)})" if secret else show(key)
            yield Finding(res, path, _at_where(path, f"mapping key {shown} is not a string; quote it"), key=False)
            continue
        numbers = dict(_bad_numbers(res.body, ()))
        for path, msg in numbers.items():
            yield Finding(res, path, _at_where(path, msg), key=_keyed(path))
        v = validator(res.api_version, res.kind)
        if not numbers and v.is_valid(res.body):
            continue
        root = schemas()[(res.api_version, res.kind)]
        for err in v.iter_errors(res.body):
            path = tuple(err.instance_path)
            if path in numbers and type(err.kind).__name__ != "Type":
                continue  # said as "integer too large"; the validator saw a converted number
            yield from _finding(res, err, root, secret)


def _non_string_key(obj: Any, path: tuple) -> tuple[tuple, Any] | None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                return path, k
            found = _non_string_key(v, path + (k,))
            if found:
                return found
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _non_string_key(v, path + (i,))
            if found:
                return found
    return None


def _bad_numbers(obj: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    """Numbers no field can hold. The validator converts them (an infinite float or a huge
    integer becomes `null` or a wrong sign inside it), so they are said here, exactly."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _bad_numbers(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _bad_numbers(v, path + (i,))
    elif isinstance(obj, bool):
        return
    elif isinstance(obj, int) and not -INT_LIMIT - 1 <= obj <= INT_LIMIT:
        digits = "more than 4000" if obj.bit_length() > 13000 else str(len(str(abs(obj))))
        yield path, f"integer too large ({digits} digits; the largest is {INT_LIMIT})"
    elif isinstance(obj, float) and not math.isfinite(obj):
        yield path, "not a number (.nan)" if obj != obj else "number too large (infinite)"


# -- one finding per validation error ---------------------------------------------------------

def _finding(res, err, root: dict, secret: bool) -> Iterator[Finding]:
    kind = type(err.kind).__name__
    for p, msg, key in _explain(err, root, res.body, secret):
        hint = None  # what `fix` may do (see _repair and _obvious)
        if kind in ("AdditionalProperties", "UnevaluatedProperties") and p and isinstance(p[-1], str):
            hint = _repair(p[-1], _object_schema(root, tuple(err.schema_path)[:-1])[0], root)
        elif kind == "Required":
            default = _obvious(res, p, err.kind.property)
            hint = ("add", err.kind.property, default) if default is not None else None
        yield Finding(res, p, msg, key=key, hint=hint)


def _explain(err, root: dict, body: dict, secret: bool) -> list[tuple[tuple, str, bool]]:
    """(path, message, point-at-key) for one error, worded from our own reading of the value
    (never the validator's text, which speaks JSON Schema and echoes values)."""
    kind = type(err.kind).__name__
    path = tuple(err.instance_path)
    schema_path = list(err.schema_path)
    parent = tuple(schema_path[:-1])
    if kind == "AdditionalProperties" or kind == "UnevaluatedProperties":  # reads neither value nor condition
        obj_schema, allowed = _object_schema(root, parent)
        out = []
        for name in err.kind.unexpected:
            hint = suggest(name, obj_schema, root)
            msg = f"unknown field {_name(name)}" + (f" in {_dotted(path)}" if path else "")
            out.append((path + (name,), msg + (f"; {hint}" if hint else allowed), True))
        return out
    value = _value_at(body, path)
    cond = _condition(err, root, body)
    if kind == "Required":
        prop = err.kind.property
        if schema_path and schema_path[-1] == "dependentRequired" or "dependentRequired" in schema_path[-2:]:
            deps = _at(root, schema_path) or {}
            obj = value if isinstance(value, dict) else {}
            trigger = next((k for k, need in sorted(deps.items()) if k in obj and prop in need), None)
            if trigger is not None:
                return [(path + (trigger,), _at_where(path, f"`{trigger}` is only used together with "
                                                           f"`{prop}`: set `{prop}` too, or remove `{trigger}`"), True)]
        msg = f"missing required field {_name(prop)}" + (f" in {_dotted(path)}" if path else "")
        if cond is not None and cond.text:
            msg += f" (needed with {cond.text})"
        return [(path, msg, bool(path))]
    # `x-tightened`: the schema is stricter than upstream's here, and says why
    tight = _tightened(root, parent)

    def one(msg: str, at: tuple = path, key: bool | None = None) -> list[tuple[tuple, str, bool]]:
        if cond is not None and cond.text and not cond.used:
            msg += f" (with {cond.text})"
        if tight and kind not in ("Type", "Required"):
            msg += f"; {tight}"
        return [(at, _at_where(path, msg), _keyed(at) if key is None else key)]

    if kind == "Type":
        want = _join_or([_TYPE_NOUN.get(t, t) for t in err.kind.types])
        have = kind_of(value)
        fix = "; quote it" if "string" in err.kind.types and isinstance(value, (int, float)) else ""
        return one(f"must be {want}, not {have}{fix}")
    hide = secret or secret_field(path)
    got = describe(value) if hide else show(value)  # the value as the messages below quote it
    if kind == "Enum":
        opts = list(err.kind.options)
        shown = ", ".join(_plain(o) for o in opts[:12]) + (", ..." if len(opts) > 12 else "")
        trig = _only_with(cond, path, opts[0] if len(opts) == 1 else None)
        if trig:
            return trig
        return one(f"must be one of: {shown} (got {got})" if len(opts) > 1 else f"must be {shown} (got {got})")
    if kind == "Constant":
        expected = err.kind.expected_value
        trig = _only_with(cond, path, expected)
        if trig:
            return trig
        return one(f"must be {_plain(expected) if expected != '' else 'empty'} (got {got})")
    if kind == "Pattern":
        return one(f"must be {_grammar(_at(root, schema_path[:-1]))} (got {got})")
    if kind == "Format":
        noun = _FORMAT_NOUN.get(str(err.kind.format), f"in {err.kind.format} format")
        return one(f"must be {noun} (got {got})")
    if kind == "MinLength":
        n = len(value) if isinstance(value, str) else 0
        if err.kind.limit <= 1:
            return one("must not be empty")
        return one(f"must be at least {err.kind.limit} characters long (it has {n})")
    if kind == "MaxLength":
        n = len(value) if isinstance(value, str) else 0
        return one(f"must be at most {err.kind.limit} characters long (it has {n})")
    if kind in ("Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum"):
        bound = {"Minimum": "at least", "Maximum": "at most", "ExclusiveMinimum": "greater than",
                 "ExclusiveMaximum": "less than"}[kind]
        return one(f"must be {bound} {_plain(err.kind.limit)} (got {got})")
    if kind == "MultipleOf":
        return one(f"must be a multiple of {_plain(err.kind.multiple_of)} (got {got})")
    if kind in ("MinItems", "MaxItems"):
        n = len(value) if isinstance(value, list) else 0
        limit = err.kind.limit
        if kind == "MaxItems" and limit == 0:
            if cond is not None and cond.text:
                cond.used = True
                return one(f"must be empty with {cond.text}")
            return one("must be empty")
        if kind == "MinItems" and limit == 1:
            return one("must list at least one item")
        word = "least" if kind == "MinItems" else "most"
        return one(f"must have at {word} {limit} item{'s' if limit != 1 else ''} (it has {n})")
    if kind in ("MinProperties", "MaxProperties"):
        obj_schema = _at(root, schema_path[:-1]) or {}
        props = sorted(obj_schema.get("properties", {}))
        if obj_schema.get("maxProperties") == 1 and props:
            msg = f"set exactly one of {_join_or([f'`{p}`' for p in props])}"
            present = [k for k in (value or {}) if k in props] if isinstance(value, dict) else []
            if kind == "MaxProperties" and len(present) > 1:
                return one(msg + f", not {_join_and([f'`{p}`' for p in present])}", path + (present[1],), True)
            return one(msg)
        limit = err.kind.limit
        word = "least" if kind == "MinProperties" else "most"
        return one(f"must set at {word} {limit} field{'s' if limit != 1 else ''}")
    if kind == "UniqueItems":
        dup = _first_duplicate(value)
        if dup is None:
            return one("must not list the same item twice")
        i, item = dup
        if isinstance(item, (dict, list)):
            return one(f"must not list the same item twice (item [{i}] repeats an earlier one)", path + (i,), True)
        shown = describe(item) if hide else show(item)
        return one(f"must not list the same item twice ({shown} is repeated)", path + (i,), True)
    if kind == "PropertyNames":
        inner = err.kind.error
        name = inner.instance if isinstance(inner.instance, str) else str(inner.instance)
        sub = _at(root, schema_path[:-1]) or {}
        ikind = type(inner.kind).__name__
        if ikind == "MaxLength":
            why = f"must be at most {inner.kind.limit} characters long"
        elif ikind == "MinLength":
            why = "must not be empty"
        else:
            why = f"must be {_grammar(sub)}"
        shown = describe(name) if secret else show(name)
        return [(path + (name,), _at_where(path, f"key {shown} {why}"), True)]
    if kind in ("OneOfNotValid", "OneOfMultipleValid", "AnyOf"):
        return _branches(err, kind, root, body, path, value, got, hide, secret, cond)
    if kind == "Not":
        neg = err.kind.schema if isinstance(err.kind.schema, dict) else {}
        banned = [k for k in neg.get("required", []) if isinstance(value, dict) and k in value]
        if banned:
            if cond is not None and cond.positive:
                return [(path + (banned[0],), _at_where(path, f"`{banned[0]}` is only used with {cond.positive}"), True)]
            return [(path + (banned[0],), _at_where(path, f"`{banned[0]}` is not allowed here"), True)]
        return one("is not allowed here")
    if kind == "FalseSchema":
        return one("is not allowed here")
    if kind == "Contains":
        return one("must include at least one matching item")
    if kind in ("AdditionalItems", "UnevaluatedItems"):
        return one("has more items than allowed")
    if kind == "ContentEncoding":
        return one(f"must be {err.kind.content_encoding}-encoded")
    if kind == "ContentMediaType":
        return one(f"must hold {err.kind.content_media_type} content")
    if kind == "FromUtf8":
        return one("is not valid UTF-8 text")
    if kind in ("BacktrackLimitExceeded", "RegexEngineFailure"):
        return one("could not be checked: the value is too complex for its format check")
    if kind == "Custom":
        return one(escape_controls(str(err.kind.message)))
    if kind == "Referencing":
        return one("could not be checked: cilium-lb's definition of this kind is broken (please report it)")
    return one("is not valid here")


# the wording of each ValidationErrorKind jsonschema_rs has (tests check the list is complete)
WORDED = ("AdditionalItems", "AdditionalProperties", "AnyOf", "BacktrackLimitExceeded", "Constant",
          "Contains", "ContentEncoding", "ContentMediaType", "Custom", "Enum", "ExclusiveMaximum",
          "ExclusiveMinimum", "FalseSchema", "Format", "FromUtf8", "MaxItems", "MaxLength",
          "MaxProperties", "Maximum", "MinItems", "MinLength", "MinProperties", "Minimum",
          "MultipleOf", "Not", "OneOfMultipleValid", "OneOfNotValid", "Pattern", "PropertyNames",
          "Referencing", "RegexEngineFailure", "Required", "Type", "UnevaluatedItems",
          "UnevaluatedProperties", "UniqueItems")


def _branches(err, kind, root, body, path, value, got, hide, secret, cond):
    """oneOf / anyOf: "set exactly one of `http` or `tcp`" when the branches each require a
    field, else the alternatives described ("must be 0 or from 3 to 65535"); pointed at the key."""
    branches = [_deref(b, root) for b in (_at(root, list(err.schema_path)) or [])]
    names = [b["required"][0] for b in branches
             if isinstance(b, dict) and len(b.get("required") or []) == 1 and set(b) <= {"required"}]
    suffix = f" (with {cond.text})" if cond is not None and cond.text else ""
    if branches and len(names) == len(branches):
        choice = _join_or([f"`{n}`" for n in names])
        present = [n for n in names if isinstance(value, dict) and n in value]
        if kind == "OneOfMultipleValid" and len(present) > 1:
            return [(path + (present[1],), _at_where(path, f"set exactly one of {choice}, not "
                                                           f"{_join_and([f'`{p}`' for p in present])}{suffix}"), True)]
        if kind == "AnyOf":
            return [(path, _at_where(path, f"set at least one of {choice}{suffix}"), _keyed(path))]
        return [(path, _at_where(path, f"set exactly one of {choice}{suffix}"), _keyed(path))]
    descs = [_describe(b, root) for b in branches]
    if branches and all(descs):
        fields = all(isinstance(b, dict) and b.get("required") for b in branches)
        if kind == "OneOfMultipleValid":
            msg = f"must match exactly one of: {_join_or(descs)}"
        elif fields:
            msg = f"must set {_join_or(descs)}"
        else:
            msg = f"must be {_join_or(descs)}" + (f" (got {got})" if not isinstance(value, (dict, list)) else "")
        at = path
        if not path:  # a whole document: point at the field the condition names, else `kind`
            at = (cond.props[0],) if cond is not None and cond.props else ("kind",)
        return [(at, _at_where(path, msg + suffix), _keyed(at))]
    # complex alternatives: the error of the alternative that got furthest says the most
    inner = [e for branch in (err.kind.context or []) for e in branch]
    if inner:
        best = max(inner, key=lambda e: len(list(e.instance_path)))
        return _explain(best, root, body, secret)
    return [(path, _at_where(path, "does not have any of the allowed forms" + suffix), _keyed(path))]


def _describe(s: Any, root: dict) -> str | None:
    """A noun phrase for one alternative, or None when it is too complex to say briefly."""
    s = _deref(s, root)
    if not isinstance(s, dict):
        return None
    if "x-grammar" in s:
        return str(s["x-grammar"])
    if "const" in s:
        return "empty" if s["const"] == "" else _plain(s["const"])
    if "enum" in s:
        return _join_or([_plain(o) for o in s["enum"]])
    if "format" in s and s["format"] in _FORMAT_NOUN:
        return _FORMAT_NOUN[s["format"]]
    if "pattern" in s:
        g = _GRAMMAR.get(s["pattern"])
        if g is None:
            return None
        return g + (f" of at most {s['maxLength']} characters" if "maxLength" in s else "")
    lo, hi = s.get("minimum"), s.get("maximum")
    noun = {"integer": "a whole number", "number": "a number"}.get(s.get("type"), "")
    if lo is not None and hi is not None:
        return (noun + " " if noun else "") + f"from {_plain(lo)} to {_plain(hi)}"
    if lo is not None:
        return (noun + " " if noun else "") + f"of at least {_plain(lo)}"
    if hi is not None:
        return (noun + " " if noun else "") + f"of at most {_plain(hi)}"
    if isinstance(s.get("type"), str) and set(s) <= {"type", "description"}:
        return _TYPE_NOUN.get(s["type"])
    req = s.get("required")
    if req and set(s) <= {"required", "properties"}:
        parts = []
        for k in req:
            inner = (s.get("properties") or {}).get(k)
            inner_req = inner.get("required") if isinstance(inner, dict) else None
            parts.append(f"`{k}`" + (f" with {_join_and([f'`{r}`' for r in inner_req])}" if inner_req else ""))
        return _join_and(parts)
    return None


def _grammar(s: Any) -> str:
    """What a pattern-constrained string must be, in words: the schema's `x-grammar`, else a
    phrase for a known pattern, else its description."""
    if isinstance(s, dict):
        if s.get("x-grammar"):
            return str(s["x-grammar"])
        g = _GRAMMAR.get(s.get("pattern", ""))
        if g:
            return g
        d = s.get("description")
        if isinstance(d, str) and 0 < len(d) <= 100:
            return "in the form: " + d.rstrip(".")
    return "in the allowed format"


# -- if / then / else: say which other field makes a field needed or unused -------------------

class _Cond:
    def __init__(self, text: str, positive: str, trigger: list[str], inst: tuple, props: list[str]):
        self.props = props  # the fields the `if` looks at
        self.text = text  # "`backendType: IP`" (the value that made `then` apply)
        self.positive = positive  # the `if` stated positively (for `else` branches)
        self.trigger = trigger  # `if: {required: [x]}`: the fields whose presence applies it
        self.inst = inst  # instance path of the object the condition is about
        self.used = False


def _condition(err, root: dict, body: dict) -> _Cond | None:
    ev = list(err.evaluation_path)
    if "then" not in ev and "else" not in ev:  # most errors: no condition to look for
        return None
    at = [i for i, s in enumerate(ev) if s in ("then", "else")]
    i = at[-1]
    holder = _walk(root, ev[:i])
    if not isinstance(holder, dict) or not isinstance(holder.get("if"), dict):
        return None
    cond = holder["if"]
    path = tuple(err.instance_path)
    steps = _instance_steps(ev[i + 1:])
    inst = path[: len(path) - steps] if steps else path
    obj = _value_at(body, inst)
    obj = obj if isinstance(obj, dict) else {}
    texts, positive = [], []
    for prop, sub in (cond.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if "const" in sub:
            positive.append(f"`{prop}: {_plain(sub['const'])}`")
        elif "enum" in sub:
            positive.append(_join_or([f"`{prop}: {_plain(o)}`" for o in sub["enum"]]))
        if prop in obj and ev[i] == "then":
            texts.append(f"`{prop}: {_plain(obj[prop])}`")
    trigger = [k for k in cond.get("required", []) if k not in (cond.get("properties") or {})]
    if ev[i] == "then" and not texts and trigger:
        texts = [f"`{k}`" for k in trigger]
    text = _join_and(texts) if ev[i] == "then" else ""
    props = [p for p in (cond.get("properties") or {}) if p in obj]
    return _Cond(text, _join_and(positive), trigger if ev[i] == "then" else [], inst, props)


def _only_with(cond: _Cond | None, path: tuple, expected: Any) -> list | None:
    """`then` of `if: {required: [K]}` fixing another field: "`K` is only used with `P: V`"."""
    if cond is None or not cond.trigger or expected is None or not path:
        return None
    prop = path[-1]
    k = cond.trigger[0]
    return [(cond.inst + (k,), _at_where(cond.inst, f"`{k}` is only used with `{prop}: {_plain(expected)}`"), True)]


def _instance_steps(ev: list) -> int:
    """How many instance path steps an evaluation path (after then/else) descends."""
    n, j = 0, 0
    while j < len(ev):
        s = ev[j]
        if s in ("properties", "patternProperties", "prefixItems", "dependentSchemas"):
            n += 1 if s != "dependentSchemas" else 0
            j += 2
            continue
        if s in ("items", "additionalProperties", "contains", "unevaluatedProperties", "unevaluatedItems"):
            n += 1
        elif s in ("allOf", "anyOf", "oneOf"):
            j += 1  # the branch index
        j += 1
    return n


# -- helpers -----------------------------------------------------------------------------------

def _keyed(path: tuple) -> bool:
    """Point at the key of a field (line:col of `key:`), at the item itself in a list."""
    return bool(path) and isinstance(path[-1], str)


def _at_where(path: tuple, msg: str) -> str:
    where = _dotted(path)
    return f"{where}: {msg}" if where else msg


# Schema locations read per error, once per location: a set with a mistake copied across many
# objects has thousands of errors at a few places. Entries keep their root alive, so its id
# cannot be reused while cached (schemas are never changed once read).
_AT_SCHEMA: dict[tuple[int, tuple], tuple[dict, Any]] = {}


def _schema_memo(root: dict, key: tuple, make) -> Any:
    k = (id(root), key)
    hit = _AT_SCHEMA.get(k)
    if hit is None:
        hit = (root, make())
        if len(_AT_SCHEMA) < 4096:
            _AT_SCHEMA[k] = hit
    return hit[1]


def _object_schema(root: dict, at: tuple) -> tuple[dict, str]:
    """The object schema at schema path `at` and its " (allowed: ...)" text."""
    def make():
        obj = _at(root, list(at)) or {}
        return obj, _allowed(sorted(obj.get("properties", {})))
    return _schema_memo(root, ("object",) + at, make)


def _tightened(root: dict, at: tuple) -> Any:
    def make():
        here = _deref(_at(root, list(at)), root)
        return here.get("x-tightened") if isinstance(here, dict) else None
    return _schema_memo(root, ("tight",) + at, make)


def _value_at(body: Any, path: tuple) -> Any:
    node = body
    for step in path:
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return None
    return node


def _first_duplicate(items: Any) -> tuple[int, Any] | None:
    if not isinstance(items, list):
        return None
    import json

    seen: set[str] = set()
    for i, item in enumerate(items):
        k = json.dumps(item, sort_keys=True, default=str)
        if k in seen:
            return i, item
        seen.add(k)
    return None


def _plain(v: Any) -> str:
    """A schema-side value (enum option, bound, const) as a user writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return escape_controls(str(v))


def _name(field: str) -> str:
    return "'" + escape_controls(field if len(field) <= 60 else field[:60] + "...") + "'"


def _join_or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1] if items else ""


def _join_and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


_SUGGESTED: dict[tuple[str, int, int], tuple[dict, dict, str]] = {}


def suggest(name: str, obj_schema: dict, root: dict) -> str:
    # a typo copied across many documents is worded once; the entry keeps both schema objects
    # alive, so their ids cannot be reused by other objects while cached
    key = (name, id(obj_schema), id(root))
    hit = _SUGGESTED.get(key)
    if hit is not None:
        return hit[2]
    hint = _suggest(name, obj_schema, root)
    if len(_SUGGESTED) < 4096:
        _SUGGESTED[key] = (obj_schema, root, hint)
    return hint


def _suggest(name: str, obj_schema: dict, root: dict) -> str:
    import difflib  # only for an unknown field: not at every start

    props = obj_schema.get("properties", {})
    close = difflib.get_close_matches(name, list(props), n=1, cutoff=0.75)
    if close:
        return f"did you mean '{close[0]}'?"
    # a field that belongs one level down, under a sibling
    homes = []
    for sibling, sub in sorted(props.items()):
        for candidate in _object_branches(sub, root):
            if name in candidate.get("properties", {}):
                homes.append(sibling)
                break
    if homes:
        return "did you mean to nest it under " + " or ".join(f"'{h}'" for h in homes) + "?"
    close = difflib.get_close_matches(name, list(props), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


_REPAIRS: dict[tuple[str, int, int], tuple[dict, dict, tuple | None]] = {}


def _repair(name: str, obj_schema: dict, root: dict) -> tuple | None:
    """What `fix` may do about an unknown field: rename it when exactly one allowed field is
    close in spelling, nest it when exactly one sibling's object holds a field of that name.
    Cached like `suggest` (difflib took ~0.2 ms per finding)."""
    key = (name, id(obj_schema), id(root))
    hit = _REPAIRS.get(key)
    if hit is not None:
        return hit[2]
    out = _repair_uncached(name, obj_schema, root)
    if len(_REPAIRS) < 4096:
        _REPAIRS[key] = (obj_schema, root, out)
    return out


def _repair_uncached(name: str, obj_schema: dict, root: dict) -> tuple | None:
    import difflib

    props = obj_schema.get("properties", {})
    close = difflib.get_close_matches(name, list(props), n=2, cutoff=0.75)
    if close:
        return ("rename", close[0]) if len(close) == 1 else None
    homes = [sib for sib, sub in sorted(props.items())
             if any(name in c.get("properties", {}) for c in _object_branches(sub, root, items=False))]
    return ("nest", homes[0]) if len(homes) == 1 else None


# Required fields whose value the rest of the object names beyond doubt: (kind, path) ->
# field -> the value read from the object, or None when it is not certain.
def _backend_type(spec: dict) -> str | None:
    backends = spec.get("backends")
    if not isinstance(backends, list) or not backends:
        return None
    seen = {k for b in backends if isinstance(b, dict) for k in ("ip", "host", "k8sServiceRef") if k in b}
    if len(seen) != 1 or not all(isinstance(b, dict) and seen <= set(b) for b in backends):
        return None
    return {"ip": "IP", "host": "Hostname", "k8sServiceRef": "K8sService"}[seen.pop()]


_OBVIOUS = {("LBBackendPool", ("spec",), "backendType"): _backend_type}


def _obvious(res, path: tuple, prop: str) -> str | None:
    read = _OBVIOUS.get((res.kind, tuple(path), prop))
    obj = _value_at(res.body, path)
    return read(obj) if read is not None and isinstance(obj, dict) else None


def fix(finding: Finding, doc) -> Any:
    """Rename a misspelt field (one close match), nest a field under the one sibling that
    holds it (the seed's `headers` beside `persistentBackend`), add a required field whose
    value the object names beyond doubt (`backendType: IP` when every backend has an `ip`)."""
    hint = finding.hint
    if not hint:
        return None
    if hint[0] == "rename":
        old = finding.path[-1]
        return doc.rename_key(finding.path, hint[1], f"renamed {_name(old)} to {_name(hint[1])}")
    if hint[0] == "nest":
        return doc.nest(finding.path, hint[1], f"moved {_name(finding.path[-1])} under {_name(hint[1])}")
    if hint[0] == "add":
        where = f" to {_dotted(finding.path)}" if finding.path else ""
        return doc.add_key(finding.path, hint[1], hint[2], f"added `{hint[1]}: {hint[2]}`{where}")
    return None


def _allowed(allowed: list[str]) -> str:
    if not allowed:
        return ""
    shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
    return f" (allowed: {shown})"


def _object_branches(s: Any, root: dict, items: bool = True) -> list[dict]:
    """The object schemas `s` may be (with `items`: also those of its list items)."""
    s = _deref(s, root)
    if not isinstance(s, dict):
        return []
    out = [s] if items or s.get("type") != "array" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for b in s.get(key, []) or []:
            out.extend(_object_branches(b, root, items))
    if items and (s.get("type") == "array" or "items" in s):
        out.extend(_object_branches(s.get("items"), root))
    return out


def _deref(s: Any, root: dict) -> Any:
    seen = 0
    while isinstance(s, dict) and "$ref" in s and seen < 16:
        ref = s["$ref"]
        if not ref.startswith("#/"):
            return s
        s = _at(root, ref[2:].split("/"))
        seen += 1
    return s


def _walk(root: dict, path: list) -> Any:
    """A schema location along an evaluation path (which steps through `$ref`)."""
    node: Any = root
    for step in path:
        if step == "$ref" and isinstance(node, dict):
            node = _deref(node, root)
            continue
        node = _at(node, [step])
    return _deref(node, root)


def _at(root: Any, path: list) -> Any:
    node = root
    for step in path:
        if isinstance(node, dict):
            node = node.get(step) if step in node else node.get(str(step))
        elif isinstance(node, list):
            try:
                node = node[int(step)]
            except (ValueError, IndexError):
                return None
        else:
            return None
    return node


def _dotted(path: tuple) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            name = escape_controls(step if len(step) <= 60 else step[:60] + "...")
            out += f".{name}" if out else name
    return out
