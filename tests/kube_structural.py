"""The structural-schema rules an API server applies to a CRD (apiextensions.k8s.io/v1),
written from the Kubernetes documentation ("Specifying a structural schema",
kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/):

1. every node (properties, additionalProperties, items) has a non-empty `type`, unless it is
   `x-kubernetes-int-or-string: true` or `x-kubernetes-preserve-unknown-fields: true`;
2. inside allOf/anyOf/oneOf/not no `description`, `type`, `default`, `additionalProperties`,
   `nullable`, and every property named there is also declared outside the junctor;
3. `properties` and `additionalProperties` are mutually exclusive; additionalProperties is a
   schema (never false);
4. at the root `metadata` may only restrict name/generateName (here: `type: object` only),
   and `apiVersion`/`kind` are strings;
5. v1 forbids `$ref`, `definitions`, `uniqueItems: true`, `x-kubernetes-preserve-unknown-fields:
   false`, a `type` beside `x-kubernetes-int-or-string`, and keywords outside JSONSchemaProps;
6. `exclusiveMinimum`/`exclusiveMaximum` are booleans (OpenAPI v3.0), enum values match the type.
Returns the violations as "path: why" strings.
"""

from __future__ import annotations

ALLOWED = {"type", "description", "properties", "required", "items", "enum", "default", "minimum", "maximum",
           "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems",
           "minProperties", "maxProperties", "multipleOf", "format", "nullable", "additionalProperties",
           "allOf", "anyOf", "oneOf", "not", "title", "example", "externalDocs",
           "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource",
           "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-validations"}
JUNCTOR_FORBIDDEN = {"description", "type", "default", "additionalProperties", "nullable"}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
PY = {"string": str, "integer": int, "number": (int, float), "boolean": bool}


def check_crd(crd: dict) -> list[str]:
    out = []
    for v in crd["spec"]["versions"]:
        root = v["schema"]["openAPIV3Schema"]
        at = f"{crd['metadata']['name']}/{v['name']}"
        props = root.get("properties", {})
        if props.get("metadata", {"type": "object"}) != {"type": "object"}:
            out.append(f"{at}.metadata: only type object allowed at the root")
        for k in ("apiVersion", "kind"):
            if k in props and props[k].get("type") != "string":
                out.append(f"{at}.{k}: must be a string")
        _node(root, at, out)
    return out


def _node(s, at, out, junctor=False):
    if not isinstance(s, dict):
        out.append(f"{at}: not a schema object")
        return
    for k in s:
        if k not in ALLOWED:
            out.append(f"{at}: keyword {k!r} is not allowed")
    if junctor:
        for k in JUNCTOR_FORBIDDEN & set(s):
            out.append(f"{at}: {k!r} inside a junctor")
    elif "type" not in s and not (s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields")):
        out.append(f"{at}: no type")
    t = s.get("type")
    if t is not None and t not in TYPES:
        out.append(f"{at}: type {t!r}")
    if s.get("x-kubernetes-int-or-string") and "type" in s:
        out.append(f"{at}: type beside x-kubernetes-int-or-string")
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        out.append(f"{at}: x-kubernetes-preserve-unknown-fields: false")
    if s.get("uniqueItems"):
        out.append(f"{at}: uniqueItems: true")
    for k in ("exclusiveMinimum", "exclusiveMaximum"):
        if k in s and not isinstance(s[k], bool):
            out.append(f"{at}: {k} must be a boolean")
    if "properties" in s and "additionalProperties" in s:
        out.append(f"{at}: additionalProperties beside properties")
    if s.get("additionalProperties") is False:
        out.append(f"{at}: additionalProperties: false")
    if "enum" in s and t in PY:
        for e in s["enum"]:
            if not isinstance(e, PY[t]) or (t != "boolean" and isinstance(e, bool)):
                out.append(f"{at}: enum value {e!r} is not a {t}")
    for name, sub in (s.get("properties") or {}).items():
        _node(sub, f"{at}.{name}", out, junctor)
    if isinstance(s.get("additionalProperties"), dict):
        _node(s["additionalProperties"], f"{at}.*", out, junctor)
    if "items" in s:
        _node(s["items"], f"{at}[]", out, junctor)
    declared = set((s.get("properties") or {}))
    for j in ("allOf", "anyOf", "oneOf"):
        for i, b in enumerate(s.get(j, [])):
            _node(b, f"{at}.{j}[{i}]", out, True)
            for name in (b.get("properties") or {}):
                if name not in declared:
                    out.append(f"{at}.{j}[{i}]: property {name!r} not declared outside the junctor")
    if "not" in s:
        _node(s["not"], f"{at}.not", out, True)
