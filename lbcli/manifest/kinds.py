"""Which (apiVersion, kind) pairs cilium-lb knows, read from the JSON Schemas it ships.

Each schema names its kind and accepted apiVersions (`x-kubernetes-kind`,
`x-kubernetes-api-versions`), so adding a kind is adding a schema file.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

# API groups we own the meaning of: an unknown kind or version there is a finding, not a skip.
OWN_GROUPS = ("isovalent.com", "cilium.io")
# Core kinds the toolchain reads (apiVersion "v1"); other core kinds are skipped.


def schema_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "schemas"


@functools.lru_cache(maxsize=None)
def schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> schema."""
    out: dict[tuple[str, str], dict] = {}
    d = schema_dir()
    for p in sorted(d.glob("*.schema.json")):
        if p.name == "plan.schema.json" or p.name.startswith("config"):
            continue
        schema = json.loads(p.read_text())
        kind = schema.get("x-kubernetes-kind")
        for version in schema.get("x-kubernetes-api-versions", []):
            if kind:
                out[(version, kind)] = schema
    return out


@functools.lru_cache(maxsize=None)
def known_kinds() -> dict[str, list[str]]:
    """kind -> sorted apiVersions."""
    kinds: dict[str, list[str]] = {}
    for version, kind in schemas():
        kinds.setdefault(kind, []).append(version)
    return {k: sorted(v) for k, v in kinds.items()}


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def is_own_group(api_version: str) -> bool:
    g = group_of(api_version)
    return any(g == o or g.endswith("." + o) for o in OWN_GROUPS)


@functools.lru_cache(maxsize=None)
def validator(api_version: str, kind: str):
    """A compiled jsonschema_rs validator for the kind (cached per process)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(schemas()[(api_version, kind)])


@functools.lru_cache(maxsize=None)
def default_of(kind: str, *path: str):
    """The schema's documented `default` for a field (the one source of truth for defaults);
    `[]` in a path steps into array items."""
    schema = next((s for (_, k), s in schemas().items() if k == kind), None)
    node = schema
    for step in path:
        node = _resolve(node, schema)
        if node is None:
            return None
        if step == "[]":
            node = node.get("items")
            continue
        found = None
        for cand in [node] + [_resolve(b, schema) for key in ("anyOf", "oneOf", "allOf") for b in node.get(key, [])]:
            if isinstance(cand, dict) and step in cand.get("properties", {}):
                found = cand["properties"][step]
                break
        node = found
    node = _resolve(node, schema)
    return node.get("default") if isinstance(node, dict) else None


def _resolve(node, root):
    while isinstance(node, dict) and "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node
