"""Compare our per-kind schemas with upstream CRDs: fields, types, enums and required fields.

    python -m lbcli.schemas.upstream DIR [DIR...]

DIR holds upstream CustomResourceDefinition YAML files, fetched by the developer (this tool
never touches the network), e.g. a checkout's `pkg/k8s/apis/cilium.io/client/crds/v2/`. For
every CRD version whose kind we have a schema for (our `x-kubernetes-kind`), the two schemas are
walked side by side and each difference is printed as one line:

    CiliumBGPPeerConfig cilium.io/v2 spec.transport.sourceInterface: only upstream
    CiliumBGPAdvertisement cilium.io/v2 spec.advertisements[].advertisementType: enum: upstream adds Foo

Versions of our kinds that upstream does not serve, and upstream versions of our kinds that
we lack, are listed too (upstream kinds we have no schema for are not: they are known kinds
cilium-lb does not carry out). Exit status: 0 no differences, 1 differences, 2 usage or unreadable input.
Deliberate differences (grammars cilium-lb tightens, fields it adds) show up as differences:
each carries `x-tightened` or a description in our schema, so a reader can tell them apart.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
# metadata, apiVersion and kind: Kubernetes' own, upstream leaves them unspecified
_SKIP_TOP = {"metadata", "apiVersion", "kind"}


@dataclass(frozen=True)
class Difference:
    kind: str
    version: str
    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.kind} {self.version} {self.path or '(root)'}: {self.what}"


def ours() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> our schema."""
    out = {}
    for p in sorted(HERE.glob("*.schema.json")):
        s = json.loads(p.read_text())
        kind = s.get("x-kubernetes-kind")
        for v in s.get("x-kubernetes-api-versions", []):
            if kind:
                out[(v, kind)] = s
    return out


def upstream_crds(dirs: list[Path]) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> openAPIV3Schema, from every CRD document in the files under dirs."""
    import yaml

    out = {}
    for d in dirs:
        files = sorted(d.rglob("*.y*ml")) if d.is_dir() else [d]
        for f in files:
            for doc in yaml.safe_load_all(f.read_text()):
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc.get("spec") or {}
                group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
                for ver in spec.get("versions") or []:
                    schema = ((ver.get("schema") or {}).get("openAPIV3Schema"))
                    if group and kind and isinstance(schema, dict):
                        out[(f"{group}/{ver.get('name')}", kind)] = schema
    return out


def compare(mine: dict, theirs: dict, kind: str, version: str) -> list[Difference]:
    return sorted(_walk(mine, theirs, mine, "", kind, version, top=True), key=lambda d: (d.path, d.what))


def _resolve(s: Any, root: dict) -> Any:
    while isinstance(s, dict) and "$ref" in s:
        target: Any = root
        for part in s["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        s = target
    if isinstance(s, dict) and "allOf" in s and "properties" not in s:
        # our metadata schemas are allOf(objectMeta, annotations): merge the properties
        merged: dict = {"type": "object", "properties": {}}
        for part in s["allOf"]:
            part = _resolve(part, root)
            if isinstance(part, dict):
                merged["properties"].update(part.get("properties", {}))
        return merged
    return s


def _types(s: dict, root: dict) -> set[str]:
    t = s.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return set(t)
    found: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for alt in s.get(key, []):
            alt = _resolve(alt, root)
            if isinstance(alt, dict):
                found |= _types(alt, root)
    if "x-kubernetes-int-or-string" in s:
        found |= {"integer", "string"}
    return found


def _enum(s: dict) -> set | None:
    e = s.get("enum")
    return set(map(str, e)) if isinstance(e, list) else None


def _walk(mine: Any, theirs: Any, root: dict, path: str, kind: str, version: str,
          top: bool = False) -> Iterator[Difference]:
    mine = _resolve(mine, root)
    if not isinstance(mine, dict) or not isinstance(theirs, dict):
        return
    d = lambda what: Difference(kind, version, path, what)  # noqa: E731
    mt, tt = _types(mine, root), _types(theirs, root)
    # upstream "number"/"integer" vs ours: integer is the narrower spelling of a whole number
    if mt and tt and not (mt & tt) and not (mt == {"integer"} and tt == {"number"}):
        yield d(f"type: ours {'/'.join(sorted(mt))}, upstream {'/'.join(sorted(tt))}")
    me, te = _enum(mine), _enum(theirs)
    if te is not None:
        if me is None:
            if mine.get("const") is None:
                yield d(f"enum: upstream allows only {', '.join(sorted(te))}")
        else:
            if te - me:
                yield d(f"enum: upstream adds {', '.join(sorted(te - me))}")
            if me - te:
                yield d(f"enum: ours adds {', '.join(sorted(me - te))}")
    elif me is not None:
        yield d(f"enum: ours allows only {', '.join(sorted(me))}")
    mreq, treq = set(mine.get("required", [])), set(theirs.get("required", []))
    if top:
        mreq, treq = mreq - _SKIP_TOP, treq - _SKIP_TOP
    if treq - mreq:
        yield d(f"required: upstream also requires {', '.join(sorted(treq - mreq))}")
    if mreq - treq:
        yield d(f"required: ours also requires {', '.join(sorted(mreq - treq))}")
    mp, tp = mine.get("properties", {}) or {}, theirs.get("properties", {}) or {}
    for name in sorted(set(mp) | set(tp)):
        if top and name in _SKIP_TOP:
            continue
        sub = f"{path}.{name}" if path else name
        if name not in mp:
            yield Difference(kind, version, sub, "only upstream")
        elif name not in tp:
            if theirs.get("x-kubernetes-preserve-unknown-fields") or isinstance(theirs.get("additionalProperties"), dict):
                continue  # upstream accepts any field here
            yield Difference(kind, version, sub, "only ours")
        else:
            yield from _walk(mp[name], tp[name], root, sub, kind, version)
    mi, ti = mine.get("items"), theirs.get("items")
    if isinstance(mi, dict) and isinstance(ti, dict):
        yield from _walk(mi, ti, root, path + "[]", kind, version)
    ma, ta = mine.get("additionalProperties"), theirs.get("additionalProperties")
    if isinstance(ma, dict) and isinstance(ta, dict):
        yield from _walk(ma, ta, root, path + "{}", kind, version)


def report(dirs: list[Path]) -> tuple[list[str], int]:
    mine, theirs = ours(), upstream_crds(dirs)
    lines: list[str] = []
    for key in sorted(set(mine) | set(theirs), key=lambda k: (k[1], k[0])):
        version, kind = key
        if key not in theirs:
            if any(k == kind for _, k in theirs):  # a version upstream does not serve
                lines.append(f"{kind} {version}: only ours")
            continue
        if key not in mine:
            if any(k == kind for _, k in mine):
                lines.append(f"{kind} {version}: only upstream")
            continue
        lines += [str(x) for x in compare(mine[key], theirs[key], kind, version)]
    return lines, 1 if lines else 0


def main(argv: list[str]) -> int:
    if not argv or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    dirs = [Path(a) for a in argv]
    missing = [str(p) for p in dirs if not p.exists()]
    if missing:
        print(f"no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        lines, rc = report(dirs)
    except (OSError, UnicodeDecodeError) as e:
        print(f"cannot read upstream CRDs: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # YAML errors: say which, never a traceback
        print(f"cannot parse upstream CRDs: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        return 2
    print("\n".join(lines) if lines else "no differences")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
