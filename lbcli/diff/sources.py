"""Where plans to compare come from: plan files, directories of plans, and the plan last
applied on a node (`<state-dir>/<node>/applied-plan.json`, written by `apply`)."""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_STATE_DIR = "/var/lib/cilium-lb"
APPLIED_PLAN = "applied-plan.json"


class PlanSourceError(Exception):
    """A plan that exists but cannot be read (the CLI exits 2)."""


def _plan_file(p: Path) -> dict | None:
    try:
        doc = json.loads(p.read_bytes())
    except OSError as e:
        raise PlanSourceError(f"{p}: {e.strerror or e}") from None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("kind") == "NodePlan" else None


def read_plan_source(path: str) -> dict[str, dict] | None:
    """node -> plan for a plan file or a directory holding plans (`<node>.json`); None when
    `path` holds no plan at all (then it is manifests)."""
    p = Path(path)
    if p.is_file():
        plan = _plan_file(p)
        if plan is None:
            return None
        return {(plan.get("node") or {}).get("name") or p.stem: plan}
    if p.is_dir():
        plans = {}
        for f in sorted(p.glob("*.json")):
            plan = _plan_file(f)
            if plan is not None:
                plans[(plan.get("node") or {}).get("name") or f.stem] = plan
        return plans or None
    return None  # stdin, globs and missing paths are the manifest loader's to judge


def applied_plan(state_dir: str | Path, node: str) -> dict | None:
    """The plan last applied on `node`, or None when nothing was applied yet."""
    p = Path(state_dir) / node / APPLIED_PLAN
    if not p.exists():
        return None
    plan = _plan_file(p)
    if plan is None:
        raise PlanSourceError(f"{p}: not a NodePlan (corrupt state? re-run apply)")
    return plan
