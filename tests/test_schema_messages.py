"""Schema findings speak the manifest's language and point at the key that is wrong.

- Every ValidationErrorKind jsonschema_rs can produce has its own wording in the schema rule.
- A mutation walk over every field of the example manifests (plus a Service) breaks each
  constraint the schema puts on that field (type, enum, const, pattern, lengths, bounds, item
  counts, uniqueness, required, unknown fields, key names, exactly-one groups, huge numbers) and
  asserts: a schema finding is reported at the field's own key (line:col of the key text), and
  no schema message anywhere holds JSON Schema vocabulary.
- The issue's examples, word for word.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections import Counter

import jsonschema_rs
import pytest
import yaml

from lbcli.lint.rules import schema as rule
from lbcli.manifest.kinds import schemas
from lbcli.lint.engine import lint
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import EXAMPLES, by_rule, lint_text

BANNED = (
    "is not valid under any of the schemas", "is valid under more than one", "was expected",
    "is not of type", "does not match", "is too long", "is too short", "additional properties",
    "additionalproperties", "is a required property", "is not one of", "greater than the maximum",
    "less than the minimum", "non-unique", "is not allowed for", "anyof", "oneof", "allof",
    "$ref", "$defs", "schema", "minitems", "maxitems", "minlength", "maxlength", "minproperties",
    "maxproperties", "propertynames", "'^", '"^', "null is", "keyword", "subschema",
)
SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "default",
                        "annotations": {"lbipam.cilium.io/ips": "10.0.0.1"}},
           "spec": {"type": "LoadBalancer", "loadBalancerIP": "10.0.0.1",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                    "selector": {"app": "web"}}}


def vocabulary(msg: str) -> list[str]:
    low = msg.lower()
    return [b for b in BANNED if b in low]


# -- every error kind has a wording ------------------------------------------------------------

def test_every_validation_error_kind_is_worded():
    kinds = {n for n in dir(jsonschema_rs.ValidationErrorKind)
             if n[:1].isupper() and isinstance(getattr(jsonschema_rs.ValidationErrorKind, n), type)}
    assert kinds, "jsonschema_rs exposes no error kinds"
    assert kinds <= set(rule.WORDED), sorted(kinds - set(rule.WORDED))


SYNTHETIC = [
    # (schema of property "a", bad value of "a", words the message must hold)
    ({"type": "string"}, 5, "must be a string, not a number"),
    ({"type": ["integer", "boolean"]}, "x", "true or false"),  # order as the validator lists them
    ({"type": ["integer", "boolean"]}, "x", "a whole number"),
    ({"enum": ["ipv4", "ipv6"]}, "ipv9", "must be one of: ipv4, ipv6"),
    ({"const": "Hostname"}, "IP", "must be Hostname"),
    ({"type": "string", "pattern": "^[a-z]+$", "x-grammar": "lowercase letters only"}, "A", "must be lowercase letters only"),
    ({"type": "string", "pattern": "^[a-z]+$"}, "A", "must be in the allowed format"),
    ({"type": "string", "minLength": 1}, "", "must not be empty"),
    ({"type": "string", "minLength": 3}, "ab", "at least 3 characters long (it has 2)"),
    ({"type": "string", "maxLength": 3}, "abcd", "at most 3 characters long (it has 4)"),
    ({"minimum": 3}, 2, "must be at least 3"),
    ({"maximum": 3}, 4, "must be at most 3"),
    ({"exclusiveMinimum": 3}, 3, "must be greater than 3"),
    ({"exclusiveMaximum": 3}, 3, "must be less than 3"),
    ({"multipleOf": 4}, 6, "must be a multiple of 4"),
    ({"minItems": 1}, [], "must list at least one item"),
    ({"minItems": 2}, [1], "must have at least 2 items (it has 1)"),
    ({"maxItems": 0}, [1], "must be empty"),
    ({"maxItems": 1}, [1, 2], "must have at most 1 item (it has 2)"),
    ({"uniqueItems": True}, ["x", "y", "x"], "must not list the same item twice ('x' is repeated)"),
    ({"type": "object", "properties": {"b": {}, "c": {}}, "minProperties": 1, "maxProperties": 1}, {"b": 1, "c": 2},
     "set exactly one of `b` or `c`, not `b` and `c`"),
    ({"minProperties": 2}, {"b": 1}, "must set at least 2 fields"),
    ({"maxProperties": 1}, {"b": 1, "c": 1}, "must set at most 1 field"),
    ({"required": ["b"]}, {}, "missing required field 'b' in a"),
    ({"properties": {"b": {}}, "additionalProperties": False}, {"bb": 1}, "unknown field 'bb' in a; did you mean 'b'?"),
    ({"properties": {"b": {}}, "unevaluatedProperties": False}, {"x": 1}, "unknown field 'x' in a"),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"Bad Key": 1}, "key 'Bad Key' must be"),
    ({"propertyNames": {"maxLength": 2}}, {"abc": 1}, "key 'abc' must be at most 2 characters long"),
    ({"oneOf": [{"required": ["http"]}, {"required": ["tcp"]}]}, {}, "set exactly one of `http` or `tcp`"),
    ({"oneOf": [{"required": ["http"]}, {"required": ["tcp"]}]}, {"http": 1, "tcp": 1}, "set exactly one of `http` or `tcp`, not `http` and `tcp`"),
    ({"anyOf": [{"const": 0}, {"minimum": 3, "maximum": 9}]}, 2, "must be 0 or from 3 to 9 (got 2)"),
    ({"anyOf": [{"required": ["x"]}, {"required": ["y"]}]}, {}, "set at least one of `x` or `y`"),
    ({"not": {"required": ["x"]}}, {"x": 1}, "`x` is not allowed here"),
    ({"dependentRequired": {"stop": ["start"]}}, {"stop": 1}, "`stop` is only used together with `start`"),
    ({"format": "ipv4"}, "1.2.3", "must be an IPv4 address"),
    ({"contains": {"const": 1}}, [2], "must include at least one matching item"),
    ({"prefixItems": [{}], "items": False}, [1, 2], "is not allowed here"),
    ({"prefixItems": [{}], "unevaluatedItems": False}, [1, 2], "has more items than allowed"),
    (False, 1, "is not allowed here"),
    ({"if": {"properties": {"t": {"const": "S"}}, "required": ["t"]}, "then": {"required": ["s"]}}, {"t": "S"},
     "missing required field 's' in a (needed with `t: S`)"),
    ({"if": {"properties": {"t": {"const": "S"}}}, "else": {"not": {"required": ["s"]}}}, {"t": "P", "s": 1},
     "`s` is only used with `t: S`"),
    ({"if": {"required": ["dns"]}, "then": {"properties": {"t": {"const": "Hostname"}}}}, {"dns": {}, "t": "IP"},
     "`dns` is only used with `t: Hostname`"),
]


@pytest.mark.parametrize("sub,value,words", SYNTHETIC, ids=[s[2][:40] for s in SYNTHETIC])
def test_each_error_kind_is_said_in_words(sub, value, words):
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "properties": {"a": sub}}
    body = {"a": value}
    errs = list(jsonschema_rs.validator_for(root, validate_formats=True).iter_errors(body))
    assert errs, "the bad value must fail"
    msgs = [m for e in errs for _, m, _ in rule._explain(e, root, body, secret=False)]
    assert any(words in m for m in msgs), msgs
    for m in msgs:
        assert not vocabulary(m), (m, vocabulary(m))
        assert "is not valid here" not in m  # the catch-all never fires for a known kind


def test_secret_kinds_never_quote_values():
    root = {"properties": {"a": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}}}
    body = {"a": "Hunter2-SECRET"}
    errs = list(jsonschema_rs.validator_for(root).iter_errors(body))
    for secret in (True, False):
        msgs = [m for e in errs for _, m, _ in rule._explain(e, root, body, secret=secret)]
        quoted = [m for m in msgs if "Hunter2" in m]
        assert msgs and (not quoted if secret else quoted), msgs
    assert any("a string of 14 characters" in m for e in errs for _, m, _ in rule._explain(e, root, body, secret=True))


# -- mutation walk over real manifests ----------------------------------------------------------

def _seeds() -> list[dict]:
    docs = []
    for p in sorted(EXAMPLES.rglob("*.y*ml")):
        docs += [d for d in yaml.safe_load_all(p.read_text()) if isinstance(d, dict) and "kind" in d]
    return docs + [SERVICE]


def _resolve(s, root):
    seen = 0
    while isinstance(s, dict) and "$ref" in s and seen < 20:
        s = rule._at(root, s["$ref"][2:].split("/"))
        seen += 1
    return s if isinstance(s, dict) else {}


def _field_schema(root: dict, path: tuple) -> dict | None:
    """The schema node a field sits under (following properties/items/additionalProperties
    and allOf; None where alternatives make it ambiguous)."""
    node = _resolve(root, root)
    for step in path:
        cands = [node] + [_resolve(b, root) for b in node.get("allOf", [])]
        nxt = None
        for c in cands:
            if isinstance(step, int) and isinstance(c.get("items"), dict):
                nxt = _resolve(c["items"], root)
            elif isinstance(step, str) and step in c.get("properties", {}):
                nxt = _resolve(c["properties"][step], root)
            elif isinstance(step, str) and isinstance(c.get("additionalProperties"), dict):
                nxt = _resolve(c["additionalProperties"], root)
            if nxt is not None:
                break
        if nxt is None:
            return None
        node = nxt
    return node


def _walk(obj, path=()):
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, path + (i,))


def _mutations(s: dict, value, root: dict):
    """(keyword, bad value[, key the finding must point at]) for the constraints at one
    field; without a third item the finding points at the field's own key."""
    t = s.get("type")
    if t == "string" or isinstance(value, str):
        yield "type", 12345
    elif t in ("integer", "number") or (isinstance(value, int) and not isinstance(value, bool)):
        yield "type", "text"
        yield "huge-integer", 10**40
    elif t == "boolean":
        yield "type", "yes please"
    elif t == "object" or isinstance(value, dict):
        yield "type", "text"
    elif t == "array" or isinstance(value, list):
        yield "type", "text"
    if "enum" in s and len(s["enum"]) > 0:
        yield "enum", "not-an-option"
    if "const" in s:
        yield "const", "not-the-constant"
    if "pattern" in s:
        yield "pattern", "Bad Value!\n\x1b[31m"
    if "minLength" in s:
        yield "minLength", ""
    if "maxLength" in s:
        yield "maxLength", "a" * (s["maxLength"] + 1)
    if "minimum" in s:
        yield "minimum", s["minimum"] - 1
    if "maximum" in s:
        yield "maximum", s["maximum"] + 1
    if "minItems" in s and s["minItems"] > 0:
        yield "minItems", []
    if "maxItems" in s and isinstance(value, list) and value:
        yield "maxItems", [copy.deepcopy(value[0]) for _ in range(s["maxItems"] + 1)]
    if s.get("uniqueItems") and isinstance(value, list) and value:
        yield "uniqueItems", value + [copy.deepcopy(value[0])], None  # at the repeated item
    if isinstance(value, dict):
        if s.get("additionalProperties") is False:
            yield "additionalProperties", {**value, "surplusField": 1}, "surplusField"
        if "propertyNames" in s:
            yield "propertyNames", {**value, "Bad Key!": value[next(iter(value))] if value else "x"}, "Bad Key!"
        for req in s.get("required", []):
            if req in value:
                yield "required", {k: v for k, v in value.items() if k != req}
        if s.get("maxProperties") == 1 and len(s.get("properties", {})) > 1:
            other = next(p for p in s["properties"] if p not in value)
            yield "maxProperties", {**value, other: copy.deepcopy(next(iter(value.values()), {}))}, other
        for key in ("oneOf", "anyOf"):
            if key in s and all("required" in _resolve(b, root) for b in s[key]):
                yield key, {}


def _set(body, path, value):
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the pure one spends seconds on PEM data


def _schema_only(text: str):
    result = LoadResult(files=["m.yaml"], texts={"m.yaml": text})
    load_text("m.yaml", text, result)
    return by_rule(lint(result, only={"schema"}), "schema")


def _line_col_text(text: str, line: int, col: int) -> str:
    return text.splitlines()[line - 1][col - 1:]


def test_mutations_are_reported_at_the_key_in_words():
    covered: Counter = Counter()
    failures = []
    done: set = set()
    for seed in _seeds():
        key = (seed["apiVersion"], seed["kind"])
        root = schemas().get(key)
        if root is None:
            continue
        for path, value in list(_walk(seed)):
            if not path or path[0] in ("apiVersion", "kind"):
                continue
            s = _field_schema(root, path)
            if s is None:
                continue
            for keyword, bad, *expect in _mutations(s, value, root):
                once = (seed["kind"], keyword, tuple(step for step in path if isinstance(step, str)))
                if once in done:  # the same field of another item or example: same schema
                    continue
                done.add(once)
                body = copy.deepcopy(seed)
                _set(body, path, bad)
                text = yaml.dump(body, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=10**6)
                probs = _schema_only(text)
                for p in probs:
                    if vocabulary(p.message):
                        failures.append((keyword, path, p.message, vocabulary(p.message)))
                    if "\x1b" in p.message or "\n" in p.message:
                        failures.append((keyword, path, p.message, "raw control character"))
                if not probs:
                    continue  # the mutation was still valid (e.g. a default-equal value)
                covered[keyword] += 1
                # the finding sits at the field's key: the text there is the key itself
                last = expect[0] if expect else (path[-1] if keyword != "required" else None)
                if isinstance(last, str):
                    at_key = [p for p in probs if _line_col_text(text, p.line, p.column).lstrip("'\"").startswith(last)]
                    if not at_key:
                        failures.append((keyword, path, [(p.line, p.column, p.message) for p in probs], "not at the key"))
    assert not failures, failures[:10]
    for keyword in ("type", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum",
                    "minItems", "uniqueItems", "additionalProperties", "propertyNames", "required",
                    "maxProperties", "oneOf", "huge-integer"):
        assert covered[keyword], f"no field exercised {keyword}: {dict(covered)}"


# -- the issue's examples ------------------------------------------------------------------------

POOL = """\
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {name: p}
spec:
  backendType: IP
  backends: [{ip: 10.0.0.1, port: 80}]
  dnsResolverConfig:
    resolvers: [{ip: 1.1.1.1, port: 53}]
  healthCheck:
    intervalSeconds: 2
    http: {path: /}
    tcp: {}
"""


def _at(text: str, line: int, col: int) -> str:
    return textwrap.dedent(text).splitlines()[line - 1][col - 1:]


def test_issue_examples_word_for_word():
    report = lint_text(POOL)
    got = {(p.line, p.column): p.message for p in by_rule(report, "schema")}
    dns = [k for k, m in got.items() if m == "spec: `dnsResolverConfig` is only used with `backendType: Hostname`"]
    assert dns and _at(POOL, *dns[0]).startswith("dnsResolverConfig:"), got
    both = [k for k, m in got.items() if m == "spec.healthCheck: set exactly one of `http` or `tcp`, not `http` and `tcp`"]
    assert both and _at(POOL, *both[0]).startswith("tcp:"), got

    none = POOL.replace("    http: {path: /}\n    tcp: {}\n", "").replace("  dnsResolverConfig:\n    resolvers: [{ip: 1.1.1.1, port: 53}]\n", "")
    probs = by_rule(lint_text(none), "schema")
    assert [p.message for p in probs] == ["spec.healthCheck: set exactly one of `http` or `tcp`"]
    assert _at(none, probs[0].line, probs[0].column).startswith("healthCheck:")


@pytest.mark.parametrize("value,words", [
    ("9" * 30, "integer too large (30 digits"),
    ("9" * 5000, "integer too large (more than 4000 digits"),
    ("1e400", "number too large (infinite)"),
    (".nan", "not a number"),
], ids=["30-digits", "5000-digits", "1e400", "nan"])
def test_huge_numbers_are_not_null(value, words):
    text = f"""\
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {{name: v}}
spec:
  vipRef: {{name: v}}
  port: {value}
  applications:
    tcpProxy:
      routes: [{{backendRef: {{name: p}}}}]
"""
    probs = by_rule(lint_text(text), "schema")
    assert any(words in p.message for p in probs), [p.message for p in probs]
    assert not any("null" in p.message for p in probs)
    assert all(_at(text, p.line, p.column).startswith("port:") for p in probs)


def test_echoed_keys_and_values_are_escaped():
    text = "apiVersion: v1\nkind: Node\nmetadata:\n  name: \"bad\\e[31mname\\nx\"\n  \"evil\\e[2Jkey\\r\": 1\n"
    probs = by_rule(lint_text(text), "schema")
    assert probs
    for p in probs:
        assert not re.search(r"[\x00-\x1f\x7f]", p.message), p.message
    assert any("\\x1b[2Jkey\\r" in p.message for p in probs), [p.message for p in probs]
    assert any("\\x1b[31mname\\nx" in p.message for p in probs), [p.message for p in probs]


def test_long_values_are_cut():
    long = "a" * 300 + "B"
    text = f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {long}\n"
    msgs = [p.message for p in by_rule(lint_text(text), "schema")]
    assert msgs and all(long not in m and len(m) < 300 for m in msgs), msgs
    assert any("(301 characters)" in m for m in msgs), msgs
