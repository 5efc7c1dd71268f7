"""The small vocabulary the plan types are written in: one description per field that both
checks a JSON value (from_json, errors naming the JSON path) and emits its JSON Schema, so
lbcli/schemas/plan.schema.json is generated from the types and can never disagree with them.

A type is a frozen dataclass deriving from PlanObject whose fields are declared with `f(spec)`;
`PlanObject.from_json` checks every key (unknown keys, missing keys, types, bounds, patterns)
and builds the object, `to_json` gives back exactly the JSON that came in.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from .names import shown

MISSING = dataclasses.MISSING


class PlanFormatError(ValueError):
    """A JSON value that is not a valid plan part: `path` (keys and indices) and what is wrong,
    never the value found there."""

    def __init__(self, path: tuple, message: str, joined: bool = False) -> None:
        self.path = tuple(path)
        self.message = message
        self.joined = joined  # "node.name is too long" rather than "node.name: ..."
        super().__init__(self.located())

    def under(self, step) -> PlanFormatError:
        """The same error one level further down (`step`: the key or index it sits under)."""
        return PlanFormatError((step, *self.path), self.message, self.joined)

    def located(self) -> str:
        if not self.path:
            return self.message
        return f"{dotted(self.path)}{' ' if self.joined else ': '}{self.message}"


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def dotted(path) -> str:
    out = ""
    for step in path:  # keys a user chose (labels) are quoted and escaped
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(step):
            out += f".{step}" if out else step
        else:
            out += f"[{shown(step)}]"
    return out


def json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true or false"
    return {dict: "an object", list: "a list", str: "a string", int: "an integer",
            float: "a number"}.get(type(v), type(v).__name__)


class Spec:
    noun = "a value"

    def is_type(self, v: Any) -> bool:
        return True

    def load(self, v: Any, path: tuple) -> Any:
        if not self.is_type(v):
            raise PlanFormatError(path, f"expected {self.noun}, got {json_type(v)}")
        return self.check(v, path)

    def check(self, v: Any, path: tuple) -> Any:
        return v

    def trust(self, v: Any) -> Any:
        """`v` built without checks: the compiler's own output (`PlanObject.trusted`)."""
        return v

    def dump(self, v: Any) -> Any:
        return v

    def schema(self, defs: dict) -> dict:
        raise NotImplementedError


class Str(Spec):
    noun = "a string"

    def __init__(self, pattern: str | None = None, min_len: int | None = None, max_len: int | None = None,
                 ref: str | None = None, desc: str | None = None) -> None:
        self.pattern, self.min_len, self.max_len, self.ref, self.desc = pattern, min_len, max_len, ref, desc
        # JSON Schema patterns are searched, ECMA `$` is the very end (Python's allows a '\n')
        self._re = re.compile(pattern[:-1] + r"\Z" if pattern and pattern.endswith("$") else pattern) if pattern else None

    def is_type(self, v):
        return isinstance(v, str)

    def check(self, v, path):
        if self.min_len is not None and len(v) < self.min_len:
            raise PlanFormatError(path, "is empty" if self.min_len == 1 else f"is shorter than {self.min_len} characters")
        if self.max_len is not None and len(v) > self.max_len:
            raise PlanFormatError(path, f"is longer than {self.max_len} characters")
        if self._re is not None and not self._re.search(v):
            raise PlanFormatError(path, "is not in the expected format")
        return v

    def schema(self, defs):
        s: dict = {"type": "string"}
        if self.desc:
            s["description"] = self.desc
        if self.min_len is not None:
            s["minLength"] = self.min_len
        if self.max_len is not None:
            s["maxLength"] = self.max_len
        if self.pattern:
            s["pattern"] = self.pattern
        return _def(defs, self.ref, s)


class Int(Spec):
    noun = "an integer"

    def __init__(self, lo: int | None = None, hi: int | None = None, ref: str | None = None) -> None:
        self.lo, self.hi, self.ref = lo, hi, ref

    def is_type(self, v):
        return isinstance(v, int) and not isinstance(v, bool)

    def check(self, v, path):
        if self.lo is not None and v < self.lo:
            raise PlanFormatError(path, f"is below the minimum {self.lo}")
        if self.hi is not None and v > self.hi:
            raise PlanFormatError(path, f"is above the maximum {self.hi}")
        return v

    def schema(self, defs):
        s: dict = {"type": "integer"}
        if self.lo is not None:
            s["minimum"] = self.lo
        if self.hi is not None:
            s["maximum"] = self.hi
        return _def(defs, self.ref, s)


class Num(Spec):
    """A number (integer or not) of at least `lo`: durations a node carries out below a second."""

    noun = "a number"

    def __init__(self, lo: float) -> None:
        self.lo = lo

    def is_type(self, v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def check(self, v, path):
        if v < self.lo:
            raise PlanFormatError(path, f"is below the minimum {self.lo}")
        return v

    def schema(self, defs):
        return {"type": "number", "minimum": self.lo}


class Bool(Spec):
    noun = "true or false"

    def is_type(self, v):
        return isinstance(v, bool)

    def schema(self, defs):
        return {"type": "boolean"}


class Enum(Spec):
    def __init__(self, *values: Any, ref: str | None = None) -> None:
        self.values, self.ref = values, ref

    def load(self, v, path):
        if not any(v == x and type(v) is type(x) for x in self.values):
            raise PlanFormatError(path, "must be one of " + ", ".join(
                "null" if x is None else shown(x) if isinstance(x, str) else str(x) for x in self.values))
        return v

    def schema(self, defs):
        return _def(defs, self.ref, {"enum": list(self.values)})


class Const(Spec):
    def __init__(self, value: Any) -> None:
        self.value = value

    def load(self, v, path):
        if v != self.value or type(v) is not type(self.value):
            raise PlanFormatError(path, f"must be {shown(self.value) if isinstance(self.value, str) else str(self.value).lower()}")
        return v

    def schema(self, defs):
        return {"const": self.value}


class Nullable(Spec):
    def __init__(self, inner: Spec) -> None:
        self.inner = inner

    def load(self, v, path):
        if v is None:
            return None
        if not self.inner.is_type(v):
            raise PlanFormatError(path, f"expected null or {self.inner.noun}, got {json_type(v)}")
        return self.inner.load(v, path)

    def trust(self, v):
        return None if v is None else self.inner.trust(v)

    def dump(self, v):
        return None if v is None else self.inner.dump(v)

    def schema(self, defs):
        return {"anyOf": [{"type": "null"}, self.inner.schema(defs)]}


class ListOf(Spec):
    noun = "a list"

    def __init__(self, item: Spec, min_items: int | None = None, max_items: int | None = None,
                 unique: bool = False) -> None:
        self.item, self.min_items, self.max_items, self.unique = item, min_items, max_items, unique

    def is_type(self, v):
        return isinstance(v, list)

    def check(self, v, path):
        if self.min_items is not None and len(v) < self.min_items:
            raise PlanFormatError(path, f"has fewer than {self.min_items} items")
        if self.max_items is not None and len(v) > self.max_items:
            raise PlanFormatError(path, f"has more than {self.max_items} items")
        load = self.item.load
        out = tuple(load(x, (*path, i)) for i, x in enumerate(v))
        if self.unique and len(set(map(_hashable, v))) != len(v):
            raise PlanFormatError(path, "holds the same item twice")
        return out

    def trust(self, v):
        if type(self.item).trust is Spec.trust:  # scalars stay as they are
            return tuple(v)
        trust = self.item.cls._trusted if type(self.item) is Obj else self.item.trust
        try:
            return tuple(map(trust, v))
        except PlanFormatError:
            for i, x in enumerate(v):  # again, to name the item
                try:
                    trust(x)
                except PlanFormatError as e:
                    raise e.under(i) from None
            raise

    def dump(self, v):
        if type(self.item).dump is Spec.dump:  # scalars are their own JSON
            return list(v)
        if type(self.item) is Obj:
            return [x.to_json() for x in v]
        dump = self.item.dump
        return [dump(x) for x in v]

    def schema(self, defs):
        s: dict = {"type": "array", "items": self.item.schema(defs)}
        if self.min_items is not None:
            s["minItems"] = self.min_items
        if self.max_items is not None:
            s["maxItems"] = self.max_items
        if self.unique:
            s["uniqueItems"] = True
        return s


def _hashable(v):
    return repr(v) if isinstance(v, (dict, list)) else (type(v).__name__, v)


class StrMap(Spec):
    """A mapping of strings to strings (node labels)."""

    noun = "an object"

    def is_type(self, v):
        return isinstance(v, dict)

    def check(self, v, path):
        for k, x in v.items():
            if not isinstance(x, str):
                raise PlanFormatError((*path, k), f"expected a string, got {json_type(x)}")
        return dict(v)

    def trust(self, v):
        return dict(v)

    def dump(self, v):
        return dict(v)

    def schema(self, defs):
        return {"type": "object", "additionalProperties": {"type": "string"}}


class OpaqueObject(Spec):
    """An object passed through as it is (its meaning is checked where it is used)."""

    noun = "an object"

    def is_type(self, v):
        return isinstance(v, dict)

    def check(self, v, path):
        import copy

        return copy.deepcopy(v)

    def trust(self, v):
        import copy

        return copy.deepcopy(v)

    def dump(self, v):
        import copy

        return copy.deepcopy(v)

    def schema(self, defs):
        return {"type": "object"}


class Obj(Spec):
    """A nested plan type; placed in the schema's $defs when the type names one."""

    noun = "an object"

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def is_type(self, v):
        return isinstance(v, dict)

    def load(self, v, path):
        return self.cls.from_json(v, path)

    def trust(self, v):
        return self.cls._trusted(v)

    def dump(self, v):
        return v.to_json()

    def schema(self, defs):
        return self.cls.json_schema(defs)


def _def(defs: dict, name: str | None, s: dict) -> dict:
    if name is None:
        return s
    defs.setdefault(name, s)
    return {"$ref": f"#/$defs/{name}"}


def f(spec: Spec, key: str | None = None, default: Any = MISSING, omit_if: Any = MISSING,
      desc: str | None = None) -> Any:
    """A plan field: `spec` checks and describes it; `key` is its JSON name (default: the
    attribute name in camelCase); with `omit_if`, the key is optional and left out of the JSON
    when the value equals it."""
    if omit_if is not MISSING and default is MISSING:
        default = omit_if
    return dataclasses.field(default=default, metadata={"spec": spec, "key": key, "omit_if": omit_if, "desc": desc})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


_TRUST: dict = {}  # class -> ((attr, key, trust or None, omit), has validate) for PlanObject._trusted
_DUMP: dict = {}  # class -> (attr, key, dump or None, omit) for PlanObject.to_json


def _trust_of(spec: Spec):
    """`spec.trust`, or None where it gives the value back as it is."""
    inner = spec.inner if isinstance(spec, Nullable) else spec
    return None if type(inner).trust is Spec.trust else spec.trust


def _dump_of(spec: Spec):
    """`spec.dump`, or None where the value is its own JSON (scalars, null)."""
    inner = spec.inner if isinstance(spec, Nullable) else spec
    return None if type(inner).dump is Spec.dump else spec.dump


class PlanObject:
    """Base of the plan types: checked construction from JSON and the JSON back."""

    SCHEMA_DEF: ClassVar[str | None] = None  # the $defs name, or None to inline
    DESCRIPTION: ClassVar[str | None] = None
    _table: ClassVar[tuple]
    _descs: ClassVar[dict]

    @classmethod
    def _fields(cls) -> tuple:
        t = cls.__dict__.get("_table")
        if t is None:
            t = tuple((fl.name, fl.metadata["key"] or _camel(fl.name), fl.metadata["spec"], fl.metadata["omit_if"])
                      for fl in dataclasses.fields(cls))
            cls._table = t
            cls._descs = {fl.metadata["key"] or _camel(fl.name): fl.metadata["desc"] for fl in dataclasses.fields(cls)}
        return t

    @classmethod
    def from_json(cls, doc: Any, path: tuple = ()):
        if not isinstance(doc, dict):
            raise PlanFormatError(path, f"expected an object, got {json_type(doc)}")
        fields = cls._fields()
        keys = {k for _, k, _, _ in fields}
        unknown = [k for k in doc if k not in keys]
        if unknown:
            raise PlanFormatError(path, "unknown field " + ", ".join(shown(u) for u in unknown))
        kwargs = {}
        for attr, key, spec, omit in fields:
            if key in doc:
                kwargs[attr] = spec.load(doc[key], (*path, key))
            elif omit is MISSING:
                raise PlanFormatError(path, f"missing field {shown(key)}")
        obj = cls(**kwargs)
        obj.validate(path)
        obj.validate_outside(path)
        return obj

    @classmethod
    def trusted(cls, doc: dict, path: tuple = ()):
        """The object for JSON this program built itself (the compiler's plan): no type, bound or
        pattern checks, which cost 2.5x the whole compile on a large set (bench/bench_compile.py);
        what comes from outside (`apply --plan`, a state file) goes through `from_json`. Only a
        missing key is refused, and the cross-field checks (`validate`) still run; tests check
        that every compiled plan passes `from_json` and reads back equal."""
        try:
            return cls._trusted(doc)
        except PlanFormatError as e:
            raise PlanFormatError((*path, *e.path), e.message, e.joined) from None

    @classmethod
    def _trusted(cls, doc: dict):
        hit = _TRUST.get(cls)
        if hit is None:
            hit = _TRUST[cls] = (tuple((attr, key, _trust_of(spec), omit) for attr, key, spec, omit in cls._fields()),
                                 cls.validate is not PlanObject.validate)
        table, cross = hit
        obj = object.__new__(cls)
        d = obj.__dict__
        key = None
        try:
            for attr, key, trust, omit in table:
                if key in doc:
                    d[attr] = doc[key] if trust is None else trust(doc[key])
                elif omit is MISSING:
                    missing, key = key, None
                    raise PlanFormatError((), f"missing field {shown(missing)}")
                else:
                    d[attr] = omit
        except PlanFormatError as e:
            raise (e if key is None else e.under(key)) from None
        if cross:
            obj.validate(())
        return obj

    def validate(self, path: tuple) -> None:
        """Checks across fields (a subclass's); raises PlanFormatError."""

    def validate_outside(self, path: tuple) -> None:
        """Checks only what comes from outside needs (`from_json`: `apply --plan`, state files),
        too dear for the compiler's own output; raises PlanFormatError."""

    def to_json(self) -> dict:
        """The JSON form, built once per object (objects are frozen; one shared by several
        plans, like a backend pool, gives one shared dict, as orjson needs for speed). The
        result must not be mutated: copy it first."""
        d = self.__dict__
        out = d.get("_json")
        if out is not None:
            return out
        cls = type(self)
        table = _DUMP.get(cls)
        if table is None:  # per class, like _TRUST: 100,000 backends make this loop the cost
            table = _DUMP[cls] = tuple((attr, key, _dump_of(spec), omit) for attr, key, spec, omit in cls._fields())
        out = {}
        for attr, key, dump, omit in table:
            v = d[attr]
            if omit is not MISSING and v == omit:
                continue
            out[key] = v if dump is None else dump(v)
        d["_json"] = out  # frozen: the cache goes past __setattr__, like dataclasses' own __init__
        return out

    @classmethod
    def json_schema(cls, defs: dict) -> dict:
        name = cls.SCHEMA_DEF
        if name is not None and name in defs:
            return {"$ref": f"#/$defs/{name}"}
        if name is not None:
            defs[name] = {}  # reserve: a type may refer to itself
        props, required = {}, []
        for _, key, spec, omit in cls._fields():
            props[key] = spec.schema(defs)
            if cls._descs.get(key):
                props[key] = {"description": cls._descs[key], **props[key]}
            if omit is MISSING:
                required.append(key)
        s: dict = {"type": "object"}
        if cls.DESCRIPTION:
            s["description"] = cls.DESCRIPTION
        s.update({"properties": props, "required": sorted(required), "additionalProperties": False})
        if name is None:
            return s
        defs[name] = s
        return {"$ref": f"#/$defs/{name}"}
