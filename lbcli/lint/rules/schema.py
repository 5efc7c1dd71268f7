"""Every resource matches its kind's JSON Schema (strict: unknown fields are errors).

The schemas in `schemas/` hold every field with its defaults and bounds. An unknown field is
reported at its key with a suggestion: a close spelling among the allowed fields, or the
sibling it probably belongs under (the seed's rebel-base route puts `headers` beside
`persistentBackend` instead of under it).
"""

from __future__ import annotations

import difflib
from typing import Any, Iterator

from ...manifest.kinds import schemas, validator
from ..finding import Context, Finding
from ..problem import Severity

ID = "schema"
SEVERITY = Severity.ERROR
PHASE = 0


def check(ctx: Context) -> Iterator[Finding]:
    for res in ctx.index.resources:
        if res.extra.get("unknown"):
            continue
        bad = _non_string_key(res.body, ())
        if bad is not None:  # JSON Schema (and Kubernetes) only know string keys
            path, key = bad
            yield Finding(res, path, f"mapping key {key!r} is not a string; quote it", key=False)
            continue
        v = validator(res.api_version, res.kind)
        if v.is_valid(res.body):
            continue
        root = schemas()[(res.api_version, res.kind)]
        for err in v.iter_errors(res.body):
            yield from _finding(res, err, root)


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


def _finding(res, err, root: dict) -> Iterator[Finding]:
    path = tuple(err.instance_path)
    kind = type(err.kind).__name__
    where = _dotted(path)
    if kind == "AdditionalProperties":
        obj_schema = _at(root, list(err.schema_path)[:-1])
        allowed = sorted((obj_schema or {}).get("properties", {}))
        for name in err.kind.unexpected:
            hint = suggest(name, obj_schema or {}, root)
            msg = f"unknown field '{name}'" + (f" in {where}" if where else "")
            yield Finding(res, path + (name,), msg + (f"; {hint}" if hint else _allowed(allowed)), key=True)
        return
    if kind == "Required":
        prop = err.kind.property
        yield Finding(res, path, f"missing required field '{prop}'" + (f" in {where}" if where else ""), key=bool(path))
        return
    msg = err.message
    if kind in ("OneOfNotValid", "AnyOf"):
        msg = _branch_message(err, root) or msg
    yield Finding(res, path, f"{where}: {msg}" if where else msg)


def _branch_message(err, root: dict) -> str | None:
    s = _at(root, list(err.schema_path))
    if isinstance(s, list):
        names = []
        for b in s:
            b = _deref(b, root)
            req = b.get("required") if isinstance(b, dict) else None
            if req:
                names.append(" + ".join(req))
        if names:
            return "must have exactly one of: " + ", ".join(names)
    return None


def suggest(name: str, obj_schema: dict, root: dict) -> str:
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


def _allowed(allowed: list[str]) -> str:
    if not allowed:
        return ""
    shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
    return f" (allowed: {shown})"


def _object_branches(s: Any, root: dict) -> list[dict]:
    s = _deref(s, root)
    if not isinstance(s, dict):
        return []
    out = [s]
    for key in ("anyOf", "oneOf", "allOf"):
        for b in s.get(key, []) or []:
            out.extend(_object_branches(b, root))
    if s.get("type") == "array" or "items" in s:
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
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
