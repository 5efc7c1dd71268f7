"""Kubernetes objects as one YAML stream (`kubectl apply -f -`), deterministic."""

from __future__ import annotations


def dump_all(objects: list[dict]) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    # long descriptions and patterns stay on one line; no anchors for shared sub-schemas
    _Dumper.ignore_aliases = lambda self, data: True  # type: ignore[method-assign]
    return "".join("---\n" + yaml.dump(o, Dumper=_Dumper, sort_keys=False, width=1 << 16, allow_unicode=True)
                   for o in objects)
