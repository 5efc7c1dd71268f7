"""Writing plans to a directory: atomic per file, stale plans of vanished nodes removed, and the
previous IPAM assignments read back so addresses stay where they were."""

from __future__ import annotations

import os
from pathlib import Path

from .plan import dumps


def read_plan(p: Path) -> dict | None:
    """The plan in file `p`, or None when the file holds something else; OSError propagates."""
    import orjson

    try:
        doc = orjson.loads(p.read_bytes())
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("kind") == "NodePlan" else None


def _read_plan(p: Path) -> dict | None:
    try:
        return read_plan(p)
    except OSError:
        return None


def previous_plan_ipam(d: Path) -> dict[str, str]:
    """The IPAM of the plans already in `d` (every plan holds the whole set's assignments, so
    the first readable one is enough)."""
    if d.is_dir():
        for p in sorted(d.glob("*.json")):
            doc = _read_plan(p)
            if doc is not None:
                return previous_ipam({p.stem: doc})
    return {}


def previous_ipam(plans: dict[str, dict]) -> dict[str, str]:
    out = {}
    for plan in plans.values():
        for a in (plan.get("ipam") or {}).get("assignments") or []:
            if a.get("ref") and a.get("ipv4"):
                out.setdefault(a["ref"], a["ipv4"])
    return out


def write_plans(d: Path, plans: dict[str, dict], prune: bool = True) -> tuple[list[str], list[str]]:
    """Write DIR/<node>.json; returns (written, removed) file names."""
    d.mkdir(parents=True, exist_ok=True)
    written = []
    for node, plan in sorted(plans.items()):
        target = d / f"{node}.json"
        data = dumps(plan)
        if target.exists() and target.read_bytes() == data:
            continue
        tmp = d / f".{node}.json.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        written.append(target.name)
    removed = []
    candidates = sorted(p.stem for p in d.glob("*.json") if p.stem not in plans) if prune else []
    for stale in (n for n in candidates if _read_plan(d / f"{n}.json") is not None):
        (d / f"{stale}.json").unlink()
        removed.append(f"{stale}.json")
    return written, removed
