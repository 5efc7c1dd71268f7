"""Where plans to compare come from: plan files, directories of plans, and the plan last
applied on a node (`<state-dir>/<node>/applied-plan.json`, written by `apply`)."""

from __future__ import annotations

from pathlib import Path


class PlanSourceError(Exception):
    """A plan that exists but cannot be read (the CLI exits 2)."""


def _plan_file(p: Path) -> dict | None:
    from ..compile.output import read_plan

    try:
        return read_plan(p)
    except OSError as e:
        raise PlanSourceError(f"{p}: {e.strerror or e}") from None


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
    from ..agent.apply import applied_plan as read_applied

    try:
        return read_applied(state_dir, node)
    except OSError as e:
        raise PlanSourceError(f"{Path(state_dir) / node}: {e.strerror or e}") from None
    except ValueError as e:
        raise PlanSourceError(str(e)) from None
