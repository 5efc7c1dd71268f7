"""Observe one node (run inside its network namespace): the facts `lb status` cannot get from
plans — BGP sessions and exported routes from BIRD, tier-1 counters from the BPF maps, backend
health from HAProxy's runtime API — in the `--observed` JSON shape, per service of the plan the
node last applied. Each node reports its own; `lbcli.status.observed.merge` adds several nodes'
reports up."""

from __future__ import annotations

from typing import Any

from .reconciler import NodeContext


def collect(ctx: NodeContext, plan, secrets: dict | None = None) -> dict[str, Any]:
    """`plan`: the NodePlan the node last applied."""
    plan = plan.to_json()
    services: dict[str, dict[str, int]] = {}

    def put(svc: str, key: str, value: int) -> None:
        services.setdefault(svc, {})[key] = services.get(svc, {}).get(key, 0) + value

    t1 = plan.get("tier1") or {}
    if t1:
        from .datapath.reconciler import service_counters

        counters = service_counters(ctx)
        for s in (t1.get("services") or []) + (t1.get("directServices") or []):  # two-tier, t1-only
            c = counters.get(f"{s['vip']}:{s['port']}/{s['protocol']}")
            put(s["service"], "t1Programmed", 1 if c is not None else 0)
            if c is not None:
                put(s["service"], "packets", int(c.get("packets") or 0))
                put(s["service"], "bytes", int(c.get("bytes") or 0))
    if plan.get("bgp"):
        from .bgp.reconciler import BgpReconciler
        from .bgp.status import advertised_to

        observed = BgpReconciler(ctx).observe()
        for inst in plan["bgp"].get("instances") or []:
            for peer in inst.get("peers") or []:
                for pfx in peer.get("prefixes") or []:
                    sent = advertised_to(observed, pfx["prefix"])
                    for svc in pfx.get("services") or []:
                        put(svc, "bgpPeersEstablished", 1 if sent else 0)  # this peer has it
                        put(svc, "bgpRoutesAdvertised", len(sent))
    if plan.get("tier2"):
        from .l7.reconciler import L7Reconciler

        rec = L7Reconciler(ctx)
        desired = rec.desired(plan, secrets or {}) if secrets is not None else None  # (JSON form)
        health = {h.service: h for h in rec.status(desired).services}
        for lst in plan["tier2"].get("listeners") or []:
            h = health.get(lst["service"])
            put(lst["service"], "t2Healthy", 1 if h is not None and h.healthy else 0)
            backends = {s.address for s in h.servers if s.healthy and s.weight > 0} if h else set()
            services.setdefault(lst["service"], {})["backendsHealthy"] = len(backends)
    return {"node": ctx.node, "services": {k: dict(sorted(v.items())) for k, v in sorted(services.items())}}
