"""The status of every LB service, from the per-node plans and, when given, observed facts.

Plans know what is meant to be: which T1/T2 nodes serve a VIP, which peers get its route, which
backends sit behind it, and why a service got no VIP (IPAM conditions). They cannot know whether
a BGP session is up or a health check passes: those stay None (unknown) unless `observed`
carries them, and the service status says "ok (planned)" instead of claiming health.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..plan.types import Condition, NodePlan
from .observed import Observed, ServiceFacts

PLANNED_OK = "ok (planned)"


@dataclass(frozen=True)
class Count:
    """`actual` of `total` (e.g. healthy T2 nodes of the planned ones); actual None = unknown."""
    total: int
    actual: int | None = None

    def to_json(self) -> dict:
        return {"total": self.total, "actual": self.actual}


@dataclass(frozen=True)
class ServiceStatus:
    namespace: str
    name: str
    vip: str | None
    port: int | None
    protocol: str | None
    type: str | None               # plan listener type (httpsProxy, ...)
    dispatch_modes: tuple[str, ...]  # tier-1 -> tier-2 dispatch ("vxlan")
    bgp_peers: Count               # distinct peers that get the VIP route / established
    bgp_routes: Count              # (T1 node, peer) announcements planned / advertised
    t1: Count                      # T1 nodes meant to program the VIP / programmed
    hc_t1_t2: Count                # T2 nodes behind the VIP / healthy
    t2: Count                      # T2 nodes with the listener
    hc_t2_b: Count                 # backends / healthy
    pools: int
    status: str                    # "ok (planned)", "ok", "degraded", "down", or a condition reason
    reason: str | None = None      # the condition reason when the service is not programmed
    message: str | None = None
    counters: dict | None = None   # observed {"packets", "bytes"}

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_json(self) -> dict:
        return {
            "namespace": self.namespace, "name": self.name, "vip": self.vip, "port": self.port,
            "protocol": self.protocol, "type": self.type, "dispatchModes": list(self.dispatch_modes),
            "bgpPeers": self.bgp_peers.to_json(), "bgpRoutes": self.bgp_routes.to_json(),
            "t1Nodes": self.t1.to_json(), "hcT1T2": self.hc_t1_t2.to_json(), "t2Nodes": self.t2.to_json(),
            "hcT2Backends": self.hc_t2_b.to_json(), "backendPools": self.pools, "backends": self.hc_t2_b.total,
            "status": self.status, "reason": self.reason, "message": self.message, "counters": self.counters,
        }


@dataclass(frozen=True)
class Status:
    t1_nodes: list[str]
    t2_nodes: list[str]
    services: list[ServiceStatus] = field(default_factory=list)
    observed: bool = False

    @property
    def vips(self) -> list[str]:
        return sorted({s.vip for s in self.services if s.vip}, key=lambda v: int(ipaddress.IPv4Address(v)))

    def to_json(self) -> dict:
        return {
            "summary": {"t1Nodes": len(self.t1_nodes), "t2Nodes": len(self.t2_nodes),
                        "services": len(self.services), "vips": len(self.vips), "observed": self.observed},
            "services": [s.to_json() for s in self.services],
        }


@dataclass
class _Acc:
    vip: str | None = None
    port: int | None = None
    protocol: str | None = None
    type: str | None = None
    modes: set = field(default_factory=set)
    t1: set = field(default_factory=set)
    t2: set = field(default_factory=set)
    t2_targets: set = field(default_factory=set)
    peers: set = field(default_factory=set)
    routes: int = 0
    pools: set = field(default_factory=set)
    backends: set = field(default_factory=set)


def build_status(plans: dict[str, NodePlan], observed: Observed | None = None) -> Status:
    """`plans`: node name -> plan (a plan directory); `observed`: facts that replace unknowns."""
    t1_nodes, t2_nodes = [], []
    acc: dict[str, _Acc] = {}
    conditions: dict[str, Condition] = {}
    for node in sorted(plans):
        plan = plans[node]
        if "t1" in plan.node.tiers:
            t1_nodes.append(node)
        if "t2" in plan.node.tiers:
            t2_nodes.append(node)
        for c in plan.ipam.conditions:
            conditions.setdefault(c.ref, c)
        if plan.tier1 is not None:
            for s in plan.tier1.services:
                a = acc.setdefault(s.service, _Acc())
                a.vip, a.port, a.protocol = s.vip, s.port, s.protocol
                a.t1.add(node)
                a.t2_targets.update(s.t2_nodes)
                a.modes.add(plan.tier1.dispatch.mode)
            _add_direct(acc, plan, node)
        for inst in plan.bgp.instances if plan.bgp is not None else ():
            for peer in inst.peers:
                for prefix in peer.prefixes:
                    for svc in prefix.services:
                        a = acc.setdefault(svc, _Acc())
                        a.peers.add(peer.address)
                        a.routes += 1
        if plan.tier2 is not None:
            pools = {p.name: p for p in plan.tier2.backend_pools}
            for l in plan.tier2.listeners:
                a = acc.setdefault(l.service, _Acc())
                a.vip, a.port, a.protocol, a.type = l.vip, l.port, l.protocol, l.type
                a.t2.add(node)
                for r in l.routes:
                    a.pools.add(r.backend_pool)
                    pool = pools.get(r.backend_pool)
                    for b in pool.backends if pool is not None else ():
                        a.backends.add((r.backend_pool, b.address, b.port))

    rows = [_row(key, a, (observed.get(key) if observed else None)) for key, a in acc.items()]
    # services that got no VIP are in no tier section: their conditions say why (the compiler
    # already put LB-IPAM's reason on the service's condition when the LBVIP got no address)
    for ref, c in conditions.items():
        kind, _, key = ref.partition("/")
        if kind != "LBService" or key in acc:
            continue
        ns, _, name = key.partition("/")
        zero = Count(0)
        rows.append(ServiceStatus(ns, name, None, None, None, None, (), zero, zero, zero, zero, zero, zero, 0,
                                  status=c.reason, reason=c.reason, message=c.message))
    rows.sort(key=lambda r: (r.namespace, r.name))
    return Status(t1_nodes, t2_nodes, rows, observed is not None)


T1_ONLY_MODE = "t1-only (NAT)"


def _add_direct(acc: dict[str, _Acc], plan: NodePlan, node: str) -> None:
    """t1-only services of a tier-1 plan: tier 1 sends straight to the backends (no T2)."""
    t1 = plan.tier1
    if not t1.direct_services:
        return
    backends = {b.id: b for b in t1.backends}
    tables = {t.id: t for t in t1.backend_tables}
    for s in t1.direct_services:
        a = acc.setdefault(s.service, _Acc())
        a.vip, a.port, a.protocol = s.vip, s.port, s.protocol
        a.type = "udpProxy" if s.protocol == "UDP" else "tcpProxy"
        a.t1.add(node)
        a.modes.add(T1_ONLY_MODE)
        a.pools.add(s.service)  # one pool per route; the plan keeps its backends, not its name
        for bid in tables[s.backend_table].backends:
            b = backends[bid]
            a.backends.add((s.service, b.ip, b.port))


def _row(key: str, a: _Acc, facts: ServiceFacts | None) -> ServiceStatus:
    f = facts or ServiceFacts()
    ns, _, name = key.partition("/")
    row = dict(
        bgp_peers=Count(len(a.peers), f.bgp_peers_established),
        bgp_routes=Count(a.routes, f.bgp_routes_advertised),
        t1=Count(len(a.t1), f.t1_programmed),
        hc_t1_t2=Count(len(a.t2_targets or a.t2),
                       f.t2_healthy if f.t2_healthy_by_t1 is None else f.t2_healthy_by_t1),
        t2=Count(len(a.t2)),
        hc_t2_b=Count(len(a.backends), f.backends_healthy),
    )
    counters = None
    if f.packets is not None or f.bytes is not None:
        counters = {"packets": f.packets, "bytes": f.bytes}
    return ServiceStatus(ns, name, a.vip, a.port, a.protocol, a.type, tuple(sorted(a.modes)), pools=len(a.pools),
                         status=_health(row, facts), counters=counters, **row)


def _health(counts: dict[str, Count], facts: ServiceFacts | None) -> str:
    """From observed facts: down when a whole tier is gone, degraded when part of one is."""
    known = [c for c in counts.values() if c.actual is not None]
    if facts is None or not known:
        return PLANNED_OK
    if any(c.actual == 0 and c.total > 0 for c in known):
        return "down"
    if any(c.actual < c.total for c in known):
        return "degraded"
    return "ok"
