"""Requested VIP addresses lie in an enabled CiliumLoadBalancerIPPool that selects the service.

LB-IPAM hands out an address only from a pool whose `serviceSelector` matches the service
(an absent selector matches every service) and which is not `disabled`; otherwise the VIP stays
without address and Isovalent reports `IPv4AddressAllocated=False`. The reasons in findings use
that vocabulary: `NoPool` (no enabled pool selecting the service holds the address, or none
selects it at all) and `NoAvailableAddress` (the address is reserved in its pool).

Requests checked: LBVIP `spec.ipv4Request`; for v1 Services of type LoadBalancer handled by
Cilium, each address of the `lbipam.cilium.io/ips` annotation (comma-separated) and
`spec.loadBalancerIP`. An LBVIP without request is reported when no enabled pool selects it
(nothing to allocate from).

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

from ...manifest.selectors import describe, matches
from ..finding import Context, Finding
from ..problem import Severity
from ...manifest.ippool import Block, blocks
from ._ipam import Request, describe_blocks, ipam_clients, ipam_labels, requests

ID = "vip-in-pool"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    pools = list(ctx.index.valid("CiliumLoadBalancerIPPool"))
    if not ctx.index.of_kind("CiliumLoadBalancerIPPool"):
        # pools are often kept with the cluster, not with the services: nothing to check against
        first = next(iter(ipam_clients(ctx.index)), None)
        if first is not None:
            yield Finding(first, ("metadata", "name"), "the set has no CiliumLoadBalancerIPPool: "
                          "requested addresses not checked against pools", severity=Severity.INFO)
        return
    all_blocks = [b for p in pools for b in blocks(p)]
    for client in ipam_clients(ctx.index):
        labels = ipam_labels(client)
        selecting = [p for p in pools if not p.spec.get("disabled") and matches(p.spec.get("serviceSelector"), labels)]
        reqs = list(requests(client))
        if not reqs and client.kind == "LBVIP" and not selecting:
            yield Finding(client, ("metadata", "name"),
                          f"no enabled CiliumLoadBalancerIPPool selects LBVIP {client.key}: "
                          f"nothing to allocate its address from (NoPool)")
        for req in reqs:
            msg = _problem(req, client, selecting, all_blocks)
            if msg:
                yield Finding(client, req.path, msg)


def _problem(req: Request, client, selecting: list, all_blocks: list[Block]) -> str | None:
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
        if b.pool.spec.get("disabled"):
            why = f"; it is in pool {b.pool.name} ({b.text}), which is disabled"
        else:
            sel = b.pool.spec.get("serviceSelector")
            sel = describe(sel if isinstance(sel, dict) else None)
            why = f"; it is in pool {b.pool.name} ({b.text}), whose serviceSelector ({sel}) does not match"
    elif selecting:
        shown = "; ".join(f"{p.name} ({describe_blocks(p)})" for p in selecting[:3])
        why = f"; pools selecting it: {shown}"
    return f"{addr} is in no enabled pool that selects {who} (NoPool){why}"
