"""Node plans for renderer tests: a plan compile made for a lab node (lbcli/lab/plans.py:
manifests -> lint -> compile) with one section replaced by the case under test, then read
through the plan types (NodePlan.from_json), as a node reads a plan. So every section a test
does not write is compile's, and a section it writes must be one the plan types accept."""

from __future__ import annotations

import copy
import functools

from lbcli.plan.types import NodePlan


@functools.lru_cache(maxsize=None)
def _compiled() -> dict[str, dict]:
    from lbcli.lab.plans import LabService, node_plans
    from lbcli.lab.topology import DEFAULT

    return node_plans(DEFAULT, [LabService("default/echo", "100.64.0.101", 80)])


def compiled_plan(node: str) -> dict:
    """The JSON form of the plan compile made for lab node `node` (t1-a, t1-b, t2-a, t2-b)."""
    return copy.deepcopy(_compiled()[node])


def plan_with(node: str, *, tier2: dict | None = None, bgp: dict | None = None) -> dict:
    """Lab node `node`'s compiled plan with its tier2 (listeners, backendPools, vips) or bgp
    section replaced; tier 2's dispatch stays compile's unless the case sets one."""
    plan = compiled_plan(node)
    if tier2 is not None:
        plan["tier2"] = {**plan["tier2"], **tier2}
    if bgp is not None:
        plan["bgp"] = bgp
    return plan


def typed(plan: dict) -> NodePlan:
    return NodePlan.from_json(plan)
