"""Writing plans to a directory: atomic per file, stale plans of vanished nodes removed, and the
previous IPAM assignments read back so addresses stay where they were."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .plan import dumps


def read_plan_dir(d: Path) -> dict[str, dict]:
    plans = {}
    if d.is_dir():
        for p in sorted(d.glob("*.json")):
            try:
                doc = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("kind") == "NodePlan":
                plans[p.stem] = doc
    return plans


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
    for stale in sorted(set(read_plan_dir(d)) - set(plans)) if prune else ():
        (d / f"{stale}.json").unlink()
        removed.append(f"{stale}.json")
    return written, removed
