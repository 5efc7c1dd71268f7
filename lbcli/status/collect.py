"""Observe one node (run inside its network namespace): the facts `lb status` cannot get from
plans — BGP sessions and exported routes from BIRD, tier-1 counters from the BPF maps, backend
health from HAProxy's runtime API — in the `--observed` JSON shape, per service of the plan the
node last applied. Each node reports its own; `merge` adds several nodes' reports up."""

from __future__ import annotations

from typing import Any

from ..agent.reconciler import NodeContext
from .observed import _KEYS, Observed, ServiceFacts


def collect(ctx: NodeContext, plan, secrets: dict | None = None) -> dict[str, Any]:
    """`plan`: the NodePlan the node last applied."""
    plan = plan.to_json()
    services: dict[str, dict[str, int]] = {}

    def put(svc: str, key: str, value: int) -> None:
        services.setdefault(svc, {})[key] = services.get(svc, {}).get(key, 0) + value

    t1 = plan.get("tier1") or {}
    if t1:
        from ..agent.datapath.reconciler import service_counters

        counters = service_counters(ctx)
        for s in t1.get("services") or []:
            c = counters.get(f"{s['vip']}:{s['port']}/{s['protocol']}")
            put(s["service"], "t1Programmed", 1 if c is not None else 0)
            if c is not None:
                put(s["service"], "packets", int(c.get("packets") or 0))
                put(s["service"], "bytes", int(c.get("bytes") or 0))
    if plan.get("bgp"):
        from ..agent.bgp.reconciler import BgpReconciler
        from ..agent.bgp.status import advertised_to

        observed = BgpReconciler(ctx).observe()
        for inst in plan["bgp"].get("instances") or []:
            for peer in inst.get("peers") or []:
                for pfx in peer.get("prefixes") or []:
                    sent = advertised_to(observed, pfx["prefix"])
                    for svc in pfx.get("services") or []:
                        put(svc, "bgpPeersEstablished", 1 if sent else 0)  # this peer has it
                        put(svc, "bgpRoutesAdvertised", len(sent))
    if plan.get("tier2"):
        from ..agent.l7.reconciler import L7Reconciler

        rec = L7Reconciler(ctx)
        desired = rec.desired(plan, secrets or {}) if secrets is not None else None
        health = {h.service: h for h in rec.status(desired).services}
        for lst in plan["tier2"].get("listeners") or []:
            h = health.get(lst["service"])
            put(lst["service"], "t2Healthy", 1 if h is not None and h.healthy else 0)
            backends = {s.address for s in h.servers if s.healthy and s.weight > 0} if h else set()
            services.setdefault(lst["service"], {})["backendsHealthy"] = len(backends)
    return {"node": ctx.node, "services": {k: dict(sorted(v.items())) for k, v in sorted(services.items())}}


def merge(reports: list[dict]) -> Observed:
    """Several nodes' reports as one: counts add up across nodes, except backendsHealthy,
    where the tier-2 node seeing the fewest healthy backends speaks for the service, and
    bgpPeersEstablished, where the tier-1 nodes peer with the same routers (one cluster config
    selects them all) so the best node's count is the number of peers that have the VIP."""
    acc: dict[str, dict[str, int]] = {}
    for rep in reports:
        one = Observed.from_dict({"services": rep.get("services", {})})  # validates the shape
        for svc, facts in one.services.items():
            cur = acc.setdefault(svc, {})
            for key, attr in _KEYS.items():
                v = getattr(facts, attr)
                if v is None:
                    continue
                if key == "backendsHealthy":
                    cur[key] = v if key not in cur else min(cur[key], v)
                elif key == "bgpPeersEstablished":
                    cur[key] = max(cur.get(key, 0), v)
                else:
                    cur[key] = cur.get(key, 0) + v
    return Observed({svc: ServiceFacts(**{_KEYS[k]: v for k, v in f.items()}) for svc, f in acc.items()})
