"""LB-IPAM: an IPv4 address for every LBVIP and LoadBalancer Service, as Cilium assigns them.

Claimants, requests, labels, pools and sharing are lbcli.model.ipam's (the meaning lint checks).
Requested addresses (LBVIP `spec.ipv4Request`, Service annotation `lbipam.cilium.io/ips` or
its deprecated `io.cilium/lb-ipam-ips`, or `spec.loadBalancerIP`) come first, in creation order (then by name). Others are allocated from
the pools whose `serviceSelector` matches, skipping disabled pools and, with
`allowFirstLastIPs: "No"`, a CIDR's first and last address. Allocation is stable: addresses
already assigned in the previous plans are kept, and a new address is found by probing from a
hash of the object's name, so adding a VIP does not move another. Sharing an address needs the
same `lbipam.cilium.io/sharing-key` and disjoint ports. Unsatisfiable requests become
conditions with Isovalent's reasons: NoPool, AddressAlreadyInUse, NoAvailableAddress.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from ..manifest.index import ResourceIndex
from ..manifest.resource import Resource
from ..model import ipam as M
from ..model.ipam import CONDITION, Pool  # noqa: F401  (re-exported)


@dataclass
class Claimant:
    ref: str  # LBVIP/ns/name or Service/ns/name
    resource: Resource
    labels: dict
    requested: str | None
    sharing_key: str | None
    ports: frozenset  # (port, protocol)
    order: tuple


@dataclass
class IpamResult:
    assignments: dict[str, dict] = field(default_factory=dict)  # ref -> {ipv4, pool, sharingKey, ports}
    conditions: list[dict] = field(default_factory=list)

    def address(self, ref: str) -> str | None:
        a = self.assignments.get(ref)
        return a["ipv4"] if a else None


def pools_of(index: ResourceIndex) -> list[Pool]:
    """Enabled pools with their IPv4 blocks as ranges (the model's meaning)."""
    return M.pools(index)


def claimants_of(index: ResourceIndex) -> list[Claimant]:
    by_vip = M.lbvip_ports(index)
    out = []
    for r in M.clients(index):
        req = M.requested_ipv4(r)
        out.append(Claimant(r.ref, r, M.labels(r), req.text if req else None, M.sharing_key(r),
                            M.ports(r, by_vip), M.order(r)))
    out.sort(key=lambda c: c.order)
    return out


def allocate(index: ResourceIndex, previous: dict[str, str] | None = None) -> IpamResult:
    pools = pools_of(index)
    claims = claimants_of(index)
    result = IpamResult()
    holders: dict[int, list[Claimant]] = {}

    def fits(c: Claimant, ip: int) -> str | None:
        """None when `c` may take `ip`, else the reason it may not."""
        for other in holders.get(ip, []):
            if M.share_problem(c.resource, c.ports, other.resource, other.ports) is not None:
                return "AddressAlreadyInUse"
        return None

    def take(c: Claimant, ip: int, pool: Pool) -> None:
        holders.setdefault(ip, []).append(c)
        result.assignments[c.ref] = {
            "ref": c.ref, "ipv4": str(ipaddress.IPv4Address(ip)), "pool": pool.name,
            "sharingKey": c.sharing_key, "ports": sorted(p for p, _ in c.ports if p is not None),
        }

    def fail(c: Claimant, reason: str, msg: str) -> None:
        result.conditions.append({"ref": c.ref, "type": CONDITION, "status": "False", "reason": reason, "message": msg})

    eligible = {c.ref: M.eligible(pools, c.resource) for c in claims}
    # 1. explicit requests
    for c in claims:
        if not c.requested:
            continue
        try:
            ip = int(ipaddress.IPv4Address(c.requested))
        except ValueError:
            fail(c, "NoPool", f"requested address {c.requested} is not an IPv4 address")
            continue
        pool = next((p for p in eligible[c.ref] if p.contains(ip)), None)
        if pool is None:
            fail(c, "NoPool", f"requested address {c.requested} is in no enabled pool that selects {c.ref}")
            continue
        why = fits(c, ip)
        if why:
            owner = holders[ip][0].ref
            fail(c, why, f"requested address {c.requested} is already used by {owner}")
            continue
        take(c, ip, pool)
    # 2. addresses kept from the previous plans, then 3. new allocations
    pending = [c for c in claims if not c.requested]
    for c in list(pending):
        prev = (previous or {}).get(c.ref)
        if not prev:
            continue
        try:
            ip = int(ipaddress.IPv4Address(prev))
        except ValueError:
            continue
        pool = next((p for p in eligible[c.ref] if p.contains(ip)), None)
        if pool is not None and fits(c, ip) is None:
            take(c, ip, pool)
            pending.remove(c)
    for c in pending:
        if not eligible[c.ref]:
            fail(c, "NoPool", f"no enabled pool selects {c.ref}")
            continue
        got = _share(c, holders, eligible[c.ref], fits) or _probe(c, eligible[c.ref], holders)
        if got is None:
            fail(c, "NoAvailableAddress", "every address of the pools selecting it is in use")
            continue
        take(c, got[0], got[1])
    result.conditions.sort(key=lambda x: x["ref"])
    return result


def _share(c: Claimant, holders, pools: list[Pool], fits):
    if not c.sharing_key:
        return None
    for ip in sorted(holders):
        if any(o.sharing_key == c.sharing_key for o in holders[ip]) and fits(c, ip) is None:
            pool = next((p for p in pools if p.contains(ip)), None)
            if pool:
                return ip, pool
    return None


def _probe(c: Claimant, pools: list[Pool], holders):
    h = int.from_bytes(hashlib.sha256(c.ref.encode()).digest()[:8], "big")
    for pool in pools:
        n = pool.size
        if n <= 0:
            continue
        start = h % n
        for i in range(n):
            ip = pool.nth((start + i) % n)
            if ip not in holders:
                return ip, pool
    return None
