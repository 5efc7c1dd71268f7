"""apiextensions.k8s.io/v1 CustomResourceDefinitions generated from lbcli/schemas.

The JSON Schemas (draft 2020-12, $ref and $defs, strict additionalProperties) are turned into
the structural OpenAPI v3 schemas an API server accepts
(https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema):
- every $ref inlined, $defs and non-Kubernetes `x-` annotations dropped;
- every node typed; `["string", "null"]` -> `type: string, nullable: true`; a node with only an
  enum or const gets the type of its values; `const` -> a one-value enum;
- `additionalProperties: false` dropped (the server prunes unknown fields instead; beside
  `properties` it is not allowed), a map's value schema kept; `propertyNames`,
  `patternProperties`, `if`/`then`/`else`, `dependentRequired` and `uniqueItems` dropped
  (not in the structural subset; `uniqueItems` becomes `x-kubernetes-list-type: set` on lists
  of scalars);
- numeric `exclusiveMinimum: n` -> `minimum: n, exclusiveMinimum: true` (OpenAPI v3.0);
- junctors (anyOf/oneOf/allOf/not) kept only as value validation (`required`, enums, bounds)
  over fields the outer schema declares, else dropped;
- root `metadata` is `type: object` only (the server owns its schema).
What a CRD cannot express is still checked by `cilium-lb validate` (it reads the same objects
with the full schemas), so a cluster is never less strict than files.
"""

from __future__ import annotations

from ..manifest.kinds import group_of, schemas
from .resources import plural_of, version_priority

_VALUE = ("enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
          "pattern", "minItems", "maxItems", "minProperties", "maxProperties", "multipleOf", "format")
_JUNCTORS = ("anyOf", "oneOf", "allOf")
_FORMATS = {"ipv4", "ipv6", "cidr", "date-time", "date", "uri", "hostname", "email", "uuid", "byte", "int32",
            "int64", "float", "double", "password", "mac", "duration"}

# printer columns (kubectl get), after Isovalent's and Cilium's CRDs
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_COLUMNS = {
    "LBVIP": [{"name": "Status", "type": "string", "jsonPath": ".status.status"},
              {"name": "IPv4 Requested", "type": "string", "jsonPath": ".spec.ipv4Request"},
              {"name": "IPv4 Assigned", "type": "string", "jsonPath": ".status.addresses.ipv4"}],
    "LBService": [{"name": "VIP", "type": "string", "jsonPath": ".spec.vipRef.name"},
                  {"name": "Port", "type": "integer", "jsonPath": ".spec.port"},
                  {"name": "Status", "type": "string", "jsonPath": ".status.status"}],
    "LBBackendPool": [{"name": "Type", "type": "string", "jsonPath": ".spec.backendType"},
                      {"name": "Status", "type": "string", "jsonPath": ".status.status"}],
    "CiliumLoadBalancerIPPool": [
        {"name": "Disabled", "type": "boolean", "jsonPath": ".spec.disabled"},
        {"name": "Conflicting", "type": "string", "jsonPath": '.status.conditions[?(@.type=="cilium.io/PoolConflict")].status'},
        {"name": "IPs Available", "type": "string", "jsonPath": '.status.conditions[?(@.type=="cilium.io/IPsAvailable")].message'}],
}
_SHORT = {"LBVIP": ["lbvip"], "LBService": ["lbsvc"], "LBBackendPool": ["lbbp"], "LBDeployment": ["lbdeploy"],
          "CiliumLoadBalancerIPPool": ["ippools", "ippool", "lbippool", "lbippools"]}


def crds() -> list[dict]:
    """One CRD per LB kind (isovalent.com, cilium.io), every version of it served, the best
    stored; sorted by name."""
    by_kind: dict[str, list[tuple[str, dict]]] = {}
    for (api_version, kind), schema in schemas().items():
        if group_of(api_version) in ("isovalent.com", "cilium.io"):
            by_kind.setdefault(kind, []).append((api_version, schema))
    out = [crd(kind, versions) for kind, versions in by_kind.items()]
    return sorted(out, key=lambda c: c["metadata"]["name"])


def crd(kind: str, versions: list[tuple[str, dict]]) -> dict:
    from ..manifest.resource import CLUSTER_SCOPED

    group = group_of(versions[0][0])
    plural = plural_of(kind)
    versions = sorted(versions, key=lambda v: version_priority(v[0].rsplit("/", 1)[1]), reverse=True)
    vers = []
    for i, (api_version, schema) in enumerate(versions):
        open_api = structural(schema)
        v = {"name": api_version.rsplit("/", 1)[1], "served": True, "storage": i == 0,
             "schema": {"openAPIV3Schema": open_api},
             "additionalPrinterColumns": _COLUMNS.get(kind, []) + [_AGE]}
        if "status" in open_api.get("properties", {}):
            v["subresources"] = {"status": {}}
        vers.append(v)
    names = {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"}
    if kind in _SHORT:
        names["shortNames"] = _SHORT[kind]
    names["categories"] = ["cilium-lb"]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}", "labels": {"app.kubernetes.io/part-of": "cilium-lb"}},
            "spec": {"group": group, "names": names,
                     "scope": "Cluster" if kind in CLUSTER_SCOPED else "Namespaced", "versions": vers}}


def structural(schema: dict) -> dict:
    """The root of a kind's structural schema."""
    root = _convert(schema, schema, 0)
    props = root.setdefault("properties", {})
    props["metadata"] = {"type": "object"}
    for key in ("apiVersion", "kind"):
        props[key] = {"type": "string"}
    root["required"] = [r for r in root.get("required", []) if r not in ("apiVersion", "kind", "metadata")]
    if not root["required"]:
        root.pop("required")
    root.pop("description", None)
    desc = schema.get("description")
    if desc:
        root["description"] = desc
    return root


def _resolve(node, root):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        seen += 1
        if seen > 64:
            raise ValueError("a $ref cycle in a schema")
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra}
    return node


def _type_of(node: dict) -> tuple[str | None, bool]:
    """(type, nullable) of a JSON Schema node."""
    t = node.get("type")
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return (rest[0] if len(rest) == 1 else None), "null" in t
    if t is not None:
        return t, False
    values = node.get("enum") or ([node["const"]] if "const" in node else [])
    kinds = {type(v) for v in values if v is not None}
    if kinds == {str}:
        return "string", None in values
    if kinds == {bool}:
        return "boolean", None in values
    if kinds and kinds <= {int}:
        return "integer", None in values
    if "properties" in node or "additionalProperties" in node:
        return "object", False
    if "items" in node:
        return "array", False
    return None, False


def _convert(node, root, depth: int) -> dict:
    if depth > 64:
        raise ValueError("schema nested too deeply")
    node = _resolve(node, root)
    if not isinstance(node, dict):
        return {"x-kubernetes-preserve-unknown-fields": True}
    typ, nullable = _type_of(node)
    out: dict = {}
    branches = [_resolve(b, root) for j in _JUNCTORS for b in node.get(j, []) if isinstance(b, dict)]
    branch_types = {_type_of(b)[0] for b in branches} - {None}
    if typ is None and branch_types == {"integer", "string"}:
        return {"x-kubernetes-int-or-string": True, **({"description": node["description"]} if "description" in node else {})}
    if typ is None and len(branch_types) == 1:
        typ = branch_types.pop()
    if typ is None:
        # free-form (any JSON value): kept as it is
        out["x-kubernetes-preserve-unknown-fields"] = True
        if "description" in node:
            out["description"] = node["description"]
        return out
    out["type"] = typ
    if nullable:
        out["nullable"] = True
    if "description" in node:
        out["description"] = node["description"]
    if "const" in node:
        out["enum"] = [node["const"]]
    for k in _VALUE:
        if k in node:
            out[k] = node[k]
    if "enum" in out:
        out["enum"] = [v for v in out["enum"] if v is not None]
    if out.get("format") not in _FORMATS:
        out.pop("format", None)
    for k, b in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if k in out and not isinstance(out[k], bool):
            out[b] = out.pop(k)
            out[k] = True
    if "default" in node:
        out["default"] = node["default"]
    if typ == "object":
        props = {}
        # properties declared only in junctor branches are declared here too (structural rule)
        for src in [node] + branches:
            for name, sub in (src.get("properties") or {}).items():
                if name not in props and (src is node or _declares(sub, root)):
                    props[name] = _convert(sub, root, depth + 1)
        if props:
            out["properties"] = props
        elif isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = _convert(node["additionalProperties"], root, depth + 1)
        elif isinstance(node.get("patternProperties"), dict) and node["patternProperties"]:
            out["additionalProperties"] = _convert(next(iter(node["patternProperties"].values())), root, depth + 1)
        elif node.get("additionalProperties") is not False:
            out["x-kubernetes-preserve-unknown-fields"] = True
        if node.get("required"):
            out["required"] = list(node["required"])
    if typ == "array":
        items = node.get("items")
        out["items"] = _convert(items, root, depth + 1) if isinstance(items, dict) else {"x-kubernetes-preserve-unknown-fields": True}
        if node.get("uniqueItems") and out["items"].get("type") in ("string", "integer", "number", "boolean"):
            out["x-kubernetes-list-type"] = "set"
    for j in _JUNCTORS:
        kept = [v for v in (_validation_only(_resolve(b, root), out, root) for b in node.get(j, [])) if v is not None]
        if kept and len(kept) == len(node.get(j, [])):
            out[j] = kept
    if isinstance(node.get("not"), dict):
        v = _validation_only(_resolve(node["not"], root), out, root)
        if v:
            out["not"] = v
    return out


def _declares(sub, root) -> bool:
    """A junctor branch's property that carries its own schema (not only a value check)."""
    sub = _resolve(sub, root)
    return isinstance(sub, dict) and _type_of(sub)[0] is not None


def _validation_only(branch, outer: dict, root) -> dict | None:
    """The value validation of a junctor branch (no type, description, default: the structural
    rule), over fields `outer` declares; None when nothing of it can be kept exactly."""
    if not isinstance(branch, dict):
        return None
    out: dict = {}
    for k, v in branch.items():
        if k == "required":
            if not all(r in outer.get("properties", {}) for r in v):
                return None
            out["required"] = list(v)
        elif k in ("enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems",
                   "maxItems", "minProperties", "maxProperties"):
            out[k] = v
        elif k == "const":
            out["enum"] = [v]
        elif k == "properties":
            props = {}
            for name, sub in v.items():
                if name not in outer.get("properties", {}):
                    return None
                kept = _validation_only(_resolve(sub, root), outer["properties"][name], root)
                if kept is None:
                    return None
                if kept:
                    props[name] = kept
            if props:
                out["properties"] = props
        elif k == "not":
            kept = _validation_only(_resolve(v, root), outer, root)
            if kept is None:
                return None
            out["not"] = kept
        elif k in ("type", "description", "additionalProperties", "title", "x-grammar", "default", "$comment"):
            continue  # the outer schema says these
        else:
            return None
    return out
