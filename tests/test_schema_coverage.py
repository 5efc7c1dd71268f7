"""Valid means carried out: every property of every manifest schema is carried out (a plan
field, the node code acting on it, a test covering it), refused with a located
`not-implemented` finding, or inert by its meaning (tests/schema_registry.py says why).

The schemas are walked programmatically, so a field added to a schema fails here until it is
either carried out or refused."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from lbcli.lint.rules.not_implemented import BGP_REFUSED, BGP_REFUSED_VALUES, REFUSALS, REFUSED_KEYS
from lbcli.manifest.index import bgp_kinds

from .schema_registry import COMMON, REGISTRY, Carried, Refused

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "lbcli" / "schemas"


def _paths(schema: dict) -> set[tuple[str, ...]]:
    defs = schema.get("$defs") or schema.get("definitions") or {}
    out: set[tuple[str, ...]] = set()

    def walk(s, path, seen):
        if not isinstance(s, dict):
            return
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(defs[name], path, seen | {name})
        for k in ("allOf", "anyOf", "oneOf"):
            for sub in s.get(k, []):
                walk(sub, path, seen)
        for k, v in (s.get("properties") or {}).items():
            out.add(path + (k,))
            walk(v, path + (k,), seen)
        if isinstance(s.get("items"), dict):
            walk(s["items"], path + ("[]",), seen)
        for v in (s.get("patternProperties") or {}).values():
            walk(v, path + ("*",), seen)
        if isinstance(s.get("additionalProperties"), dict):
            walk(s["additionalProperties"], path + ("*",), seen)

    walk(schema, (), frozenset())
    return out


def _kinds() -> dict[str, set[tuple[str, ...]]]:
    out = {}
    for f in sorted(SCHEMAS.glob("*.schema.json")):
        if f.name == "plan.schema.json":
            continue
        out[f.name.removesuffix(".schema.json")] = _paths(json.loads(f.read_text()))
    return out


KINDS = _kinds()
PLAN = {".".join(p) for p in _paths(json.loads((SCHEMAS / "plan.schema.json").read_text()))}


def _steps(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.replace("[]", ".[]").replace("..", ".").split("."))


def _prefix(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return len(pattern) <= len(path) and all(p in ("*", q) for p, q in zip(pattern, path))


def _bgp(table: dict[str, tuple[str, ...]]) -> set[tuple[str, str]]:
    """(kind, path) of a not-implemented BGP table, on each family's kind that has the field."""
    return {(k, p) for suffix, paths in table.items() for k in bgp_kinds(suffix) for p in paths
            if _steps(p) in KINDS[k]}


BGP_ALWAYS = _bgp(BGP_REFUSED)


def _refused(kind: str, path: tuple[str, ...]) -> str | None:
    """The refusal covering `path` whatever its value (a refusal of some values only, such as
    `backendType: K8sService`, or of some resources only, such as what tier 1 does not do for
    t1-only services, leaves the field to the registry for the others)."""
    for r in REFUSALS:
        if r.kind == kind and r.when is None and r.applies is None and _prefix(r.steps, path):
            return r.path
    for k, p in REFUSED_KEYS | BGP_ALWAYS:
        if k == kind and _prefix(_steps(p), path):
            return p
    return None


def _entry(kind: str, path: tuple[str, ...]):
    entries = {**COMMON, **REGISTRY.get(kind, {})}
    best = None
    for pattern, what in entries.items():
        steps = _steps(pattern)
        if _prefix(steps, path) and (best is None or len(steps) > len(best[0])):
            best = (steps, what)
    return best[1] if best else None


def test_schemas_are_walked():
    assert len(KINDS) >= 13 and sum(len(p) for p in KINDS.values()) > 700
    assert ("spec", "applications", "httpsProxy", "routes", "[]", "rateLimits") in KINDS["LBService"]


def test_every_schema_property_is_carried_out_refused_or_inert():
    missing = [f"{kind}: {'.'.join(p)}" for kind, paths in KINDS.items() for p in sorted(paths)
               if _refused(kind, p) is None and _entry(kind, p) is None]
    assert not missing, "fields neither carried out, refused nor inert:\n" + "\n".join(missing)


def test_every_registry_entry_and_refusal_names_a_schema_field():
    stale = [f"{kind}: {pattern}" for kind, entries in REGISTRY.items() for pattern in entries
             if not any(_prefix(_steps(pattern), p) and len(_steps(pattern)) == len(p) for p in KINDS[kind])]
    stale += [f"{r.kind}: {r.path} (refusal)" for r in REFUSALS
              if not any(_prefix(r.steps, p) and len(r.steps) == len(p) for p in KINDS[r.kind])]
    stale += [f"*BGP{suffix}: {p} (BGP refusal)" for table in (BGP_REFUSED, BGP_REFUSED_VALUES)
              for suffix, paths in table.items() for p in paths
              if not any(_steps(p) in KINDS[k] for k in bgp_kinds(suffix))]
    assert not stale, "entries that match no schema field:\n" + "\n".join(stale)


def _attributes(json_key: str) -> set[str]:
    """Attribute names of the plan types whose JSON name is `json_key`."""
    import dataclasses

    from lbcli.plan import spec, types

    out = set()
    for cls in vars(types).values():
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            for fl in dataclasses.fields(cls):
                if (fl.metadata.get("key") or spec._camel(fl.name)) == json_key:
                    out.add(fl.name)
    return out


CARRIED = sorted({(k, pat, c) for k, e in REGISTRY.items() for pat, c in e.items() if isinstance(c, Carried)},
                 key=lambda x: (x[0], x[1]))


@pytest.mark.parametrize("kind, pattern, carried", CARRIED, ids=[f"{k}:{p}" for k, p, _ in CARRIED])
def test_carried_fields_reach_a_plan_field_node_code_and_a_test(kind, pattern, carried):
    assert carried.plan in PLAN, f"{carried.plan} is no field of the plan schema"
    module, attr = carried.node.split(":")
    assert hasattr(importlib.import_module(module), attr), carried.node
    # the node code's package reads the plan field it is said to act on: by its JSON name, or
    # (node code on the typed plan) by the attribute of lbcli/plan/types.py that holds it
    key = next(p for p in reversed(carried.plan.split(".")) if p != "[]")
    package = Path(importlib.import_module(module).__file__).parent
    names = [f'"{key}"'] + [f".{a}" for a in _attributes(key)]
    assert any(n in f.read_text() for f in package.rglob("*.py") for n in names), \
        f"no code under {package.relative_to(ROOT)} reads plan field {key!r}"
    file, func = carried.test.split("::")
    assert f"def {func}(" in (ROOT / file).read_text(), carried.test


def test_refused_entries_point_at_a_refusal():
    paths = {(r.kind, r.path) for r in REFUSALS} | BGP_ALWAYS | _bgp(BGP_REFUSED_VALUES)
    bad = [f"{k}: {pat} -> {r.path}" for k, e in REGISTRY.items() for pat, r in e.items()
           if isinstance(r, Refused) and (k, r.path) not in paths]
    assert not bad, bad


def test_refused_fields_carry_nothing_into_plans_silently():
    """A refused path is never also registered as carried out (one answer per field)."""
    both = [f"{k}: {pat}" for k, e in REGISTRY.items() for pat, c in e.items()
            if isinstance(c, Carried) and _refused(k, _steps(pat)) is not None]
    assert not both, both
