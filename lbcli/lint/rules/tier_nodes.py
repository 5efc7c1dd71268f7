"""LBServices have nodes to run on: at least one tier-1 and one tier-2 Node.

Tier 1 (BGP + eBPF dispatch) runs on Nodes labelled `service.cilium.io/node: t1`, tier 2 (the
L7 proxy) on `service.cilium.io/node: t2`; `t1-t2` nodes serve both (the default selectors are
`in (t1, t1-t2)` and `in (t2, t1-t2)`, as Isovalent's). An LBDeployment whose `services.labelSelector`
selects an LBService (in its namespace) replaces those defaults with its
`nodes.labelSelectors.t1/t2`. With no Node for a tier, compile produces no plan for it and the
VIPs are never announced (tier 1) or never answered (tier 2).

One finding per tier and selector, at the first LBService (in file order) that needs it,
counting the others. Sets without LBServices are not checked.

Most repositories do not keep their Nodes in git: when the set has no v1 Node (and none came
with `--nodes`), the node-dependent checks (this rule, selector-match on node selectors and
maglev-prime's tier-2 count) are skipped, said once at info.

A node in both tiers dispatches to itself as to any other tier-2 node (its tier-1 program
sends through its tier-2 receive device: the kernel allows one external VXLAN device per UDP
port).

Example of a finding:

    vip-service.yaml:13:9: error: no Node matches the tier-2 selector
    (service.cilium.io/node=t2) of LBService default/https-proxy; label the proxy nodes
    service.cilium.io/node=t2 [tier-nodes]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.index import TIER_LABEL, TIER_VALUES
from ...manifest.resource import Resource, get_in
from ...manifest.selectors import describe, matches
from ..finding import Context, Finding
from ..problem import Severity

ID = "tier-nodes"
SEVERITY = Severity.ERROR

TIERS = ("t1", "t2")
ROLE = {"t1": "BGP/dispatch nodes", "t2": "proxy nodes"}


def check(ctx: Context) -> Iterator[Finding]:
    nodes = [n.labels for n in ctx.index.of_kind("Node")]
    deployments = list(ctx.index.valid("LBDeployment"))
    services = list(ctx.index.valid("LBService"))
    if not nodes:
        if services:
            yield Finding(services[0], ("metadata", "name"),
                          "the set has no v1 Node (add them, or pass --nodes): node-dependent checks "
                          "skipped (tier-nodes, selector-match on node selectors, maglev-prime's "
                          "tier-2 count)", severity=Severity.INFO)
        return
    needs: dict[tuple[str, str], list] = {}  # (tier, selectors) -> [selectors, services]
    defaults = {tier: [_default(tier)] for tier in TIERS}  # shared, never changed
    worded = {tier: _describe_all(sels) for tier, sels in defaults.items()}
    for svc in services:
        for tier in TIERS:
            sels = _selectors(svc, tier, deployments, defaults) if deployments else defaults[tier]
            key = (tier, worded[tier] if sels is defaults[tier] else _describe_all(sels))
            needs.setdefault(key, [sels, []])[1].append(svc)
    for (tier, text), (sels, svcs) in needs.items():
        if any(matches(s, lab) for s in sels for lab in nodes):
            continue
        first, more = svcs[0], len(svcs) - 1
        others = f" (and {more} more LBService{'s' if more > 1 else ''})" if more else ""
        fix = (f"label the {ROLE[tier]} {TIER_LABEL}={tier}" if sels == [_default(tier)]
               else "label nodes to match it or fix the LBDeployment")
        yield Finding(first, ("metadata", "name"),
                      f"no Node matches the tier-{tier[1]} selector ({text}) of LBService "
                      f"{first.key}{others}; {fix}")


_DESCRIBED: dict[str, str] = {}


def _describe_all(sels: list[dict]) -> str:
    """The selectors in words, worded once per distinct set (most services share one)."""
    key = repr(sels)
    text = _DESCRIBED.get(key)
    if text is None:
        if len(_DESCRIBED) > 1024:  # bounded: a long-running agent lints changing sets
            _DESCRIBED.clear()
        text = _DESCRIBED[key] = " | ".join(describe(s) for s in sels)
    return text


def _default(tier: str) -> dict:
    return {"matchExpressions": [{"key": TIER_LABEL, "operator": "In", "values": list(TIER_VALUES[tier])}]}


def _selectors(svc: Resource, tier: str, deployments: list[Resource], defaults: dict) -> list[dict]:
    """The node selectors of the LBDeployments selecting svc, else the default tier label."""
    out = []
    for dep in deployments:
        if dep.namespace != svc.namespace:
            continue
        if not matches(get_in(dep.spec, ("services", "labelSelector")), svc.labels):
            continue
        sel = get_in(dep.spec, ("nodes", "labelSelectors", tier))
        if isinstance(sel, dict) and sel not in out:
            out.append(sel)
    return out or defaults[tier]
