"""Requested VIP addresses lie in an enabled CiliumLoadBalancerIPPool that selects the service.

LB-IPAM hands out an address only from a pool whose `serviceSelector` matches the service
(an absent selector matches every service) and which is not `disabled`; otherwise the VIP stays
without address and Isovalent reports `IPv4AddressAllocated=False`. The reasons in findings use
that vocabulary: `NoPool` (no enabled pool selecting the service holds the address, or none
selects it at all) and `NoAvailableAddress` (the address is reserved in its pool).

Requests checked: LBVIP `spec.ipv4Request`; for v1 Services of type LoadBalancer handled by
Cilium, each address of the `lbipam.cilium.io/ips` annotation (comma-separated) and
`spec.loadBalancerIP`. A claimant without request is reported when no enabled pool selects it
(nothing to allocate from, NoPool), and when its pools may run out (NoAvailableAddress): when
the requests inside them plus the claimants without request that may use them outnumber their
addresses. Claimants, labels and pools are `lbcli.model.ipam`'s, the compiler's too.

Blocks are CIDRs or start[-stop] ranges. With `allowFirstLastIPs: No` the first and last
address of each CIDR are reserved (Cilium's network and broadcast addresses), except in /31
and /32 (/127, /128) blocks, which would otherwise be empty; the default is `Yes`, as in the
schema and Cilium >= 1.16. Ranges never reserve anything.

Selector labels: a Service's labels; an LBVIP's labels plus
`loadbalancer.isovalent.com/vip-name`; both plus Cilium's `io.kubernetes.service.namespace`
and `io.kubernetes.service.name`.

A set without any CiliumLoadBalancerIPPool (pools kept with the cluster, not with the
services) is not checked; one info says so.

Example of a finding:

    vip.yaml:7:16: error: 10.0.0.5 is in no enabled pool that selects LBVIP default/web
    (NoPool); pools selecting it: lb-pool (100.64.0.0/24) [vip-in-pool]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.ippool import Block, blocks
from ...manifest.selectors import describe
from ...model import ipam
from ...model.ipam import Request
from ..finding import Context, Finding
from ..problem import Severity

ID = "vip-in-pool"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    pools = list(ctx.index.valid("CiliumLoadBalancerIPPool"))
    if not ctx.index.of_kind("CiliumLoadBalancerIPPool"):
        # pools are often kept with the cluster, not with the services: nothing to check against
        first = next(iter(ipam.shared_clients(ctx.index)), None)
        if first is not None:
            yield Finding(first, ("metadata", "name"), "the set has no CiliumLoadBalancerIPPool: "
                          "requested addresses not checked against pools", severity=Severity.INFO)
        return
    all_blocks = [b for p in pools for b in blocks(p)]
    enabled = ipam.pools(ctx.index)
    conflicting = ipam.conflicting(ctx.index)
    unrequested = []
    described: dict[int, str] = {}  # id(pool) -> its blocks in words, for messages (made once)
    for client in ipam.shared_clients(ctx.index):
        selecting = [p.resource for p in ipam.eligible(enabled, client)]
        reqs = ipam.shared_requests(ctx.index, client)
        if not reqs:
            if not selecting:
                yield Finding(client, ("metadata", "name"),
                              f"no enabled CiliumLoadBalancerIPPool selects {client.kind} {client.key}: "
                              f"nothing to allocate its address from (NoPool)")
            else:
                unrequested.append(client)
        for req in reqs:
            msg = _problem(req, client, selecting, all_blocks, conflicting, described)
            if msg:
                yield Finding(client, req.path, msg)
    yield from _exhausted(ctx, enabled, unrequested)


def _exhausted(ctx: Context, enabled: list, unrequested: list) -> Iterator[Finding]:
    """Claimants without request that may find their pools full. LB-IPAM serves requests
    first, then the others in its order; a claimant gets no address only when every address
    of its pools is held by then, each by a request inside them or by an earlier claimant
    that may use one of them. Where those are fewer than the addresses, it cannot fail
    (sharing only needs fewer)."""
    eligible = {id(c): ipam.eligible(enabled, c) for c in unrequested}
    requested = set()
    for c in ipam.shared_clients(ctx.index):
        req = ipam.requested_ipv4(c, ipam.shared_requests(ctx.index, c))
        if req is not None and req.address is not None and req.address.version == 4:
            requested.add(int(req.address))
    ordered = sorted(unrequested, key=ipam.order)
    # claimants share few distinct pool sets: count per set, not per pair of claimants (that
    # was quadratic: seconds for a few thousand LBVIPs allocated from pools)
    seen: dict[frozenset, int] = {}  # pool names -> claimants so far eligible for exactly those
    pinned_in: dict[frozenset, int] = {}
    for c in ordered:
        mine = eligible[id(c)]
        names = frozenset(p.name for p in mine)
        size = sum(p.size for p in mine)
        pinned = pinned_in.get(names)
        if pinned is None:
            pinned = pinned_in[names] = sum(1 for ip in requested if any(p.contains(ip) for p in mine))
        before = sum(n for other, n in seen.items() if names & other)
        seen[names] = seen.get(names, 0) + 1
        if pinned + before >= size:
            yield Finding(c, ("metadata", "name"),
                          f"{c.kind} {c.key} may get no address (NoAvailableAddress): pool(s) "
                          f"{', '.join(sorted(names))} hold {size} usable address(es), {pinned} requested "
                          f"and {before} for claimants before it in LB-IPAM's order; add blocks or "
                          "request addresses")





def describe_blocks(pool) -> str:
    return ", ".join(b.text for b in blocks(pool)) or "no blocks"


def _problem(req: Request, client, selecting: list, all_blocks: list[Block], conflicting: set,
             described: dict[int, str]) -> str | None:
    who = f"{client.kind} {client.key}"
    if req.address is None:
        return f"{req.text!r} is not an IP address"
    addr, value = req.address, int(req.address)
    for b in all_blocks:
        if b.pool in selecting and b.holds(addr):
            if value in b.reserved:
                return (f"{addr} is the first or last address of block {b.text} of pool {b.pool.name}, "
                        f"reserved by allowFirstLastIPs: No (NoAvailableAddress)")
            return None
    why = ""
    holders = [b for b in all_blocks if b.holds(addr)]
    if holders:
        b = holders[0]
        if id(b.pool) in conflicting:
            why = (f"; it is in pool {b.pool.name} ({b.text}), which overlaps an earlier pool: "
                   f"Cilium marks it Conflicting and allocates nothing from it")
        elif not ipam.enabled(b.pool):
            why = f"; it is in pool {b.pool.name} ({b.text}), which is disabled"
        else:
            sel = b.pool.spec.get("serviceSelector")
            sel = describe(sel if isinstance(sel, dict) else None)
            why = f"; it is in pool {b.pool.name} ({b.text}), whose serviceSelector ({sel}) does not match"
    elif selecting:
        for p in selecting[:3]:
            if id(p) not in described:
                described[id(p)] = describe_blocks(p)
        shown = "; ".join(f"{p.name} ({described[id(p)]})" for p in selecting[:3])
        why = f"; pools selecting it: {shown}"
    return f"{addr} is in no enabled pool that selects {who} (NoPool){why}"
