"""LB-IPAM: an IPv4 address for every LBVIP and LoadBalancer Service, as Cilium assigns them.

Requested addresses (LBVIP `spec.ipv4Request`, Service annotation `lbipam.cilium.io/ips` or
`spec.loadBalancerIP`) come first, in creation order (then by name). Others are allocated from
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

from ..manifest.index import IPAM_IPS, IPAM_SHARING_KEY, VIP_NAME_LABEL, ResourceIndex, ipam_annotation
from ..manifest.resource import Resource
from ..manifest.selectors import matches

CONDITION = "lb.cilium.io/IPv4AddressAllocated"


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
class Pool:
    name: str
    ranges: list[tuple[int, int]]  # inclusive
    selector: dict | None

    @property
    def size(self) -> int:
        return sum(b - a + 1 for a, b in self.ranges)

    def contains(self, ip: int) -> bool:
        return any(a <= ip <= b for a, b in self.ranges)

    def nth(self, n: int) -> int:
        for a, b in self.ranges:
            if n <= b - a:
                return a + n
            n -= b - a + 1
        raise IndexError(n)


@dataclass
class IpamResult:
    assignments: dict[str, dict] = field(default_factory=dict)  # ref -> {ipv4, pool, sharingKey, ports}
    conditions: list[dict] = field(default_factory=list)

    def address(self, ref: str) -> str | None:
        a = self.assignments.get(ref)
        return a["ipv4"] if a else None


def pools_of(index: ResourceIndex) -> list[Pool]:
    """Enabled pools with their IPv4 blocks as ranges (reserved first/last addresses left out)."""
    from ..manifest.ippool import blocks

    pools = []
    for p in sorted(index.valid("CiliumLoadBalancerIPPool"), key=lambda r: r.name):
        if str(p.spec.get("disabled", False)).lower() == "true":
            continue
        ranges = [(b.first + (b.first in b.reserved), b.last - (b.last in b.reserved))
                  for b in blocks(p) if b.version == 4]
        pools.append(Pool(p.name, sorted(ranges), p.spec.get("serviceSelector")))
    return pools


def claimants_of(index: ResourceIndex) -> list[Claimant]:
    ports_by_vip: dict[tuple, set] = {}
    for svc in index.valid("LBService"):
        vip = (svc.spec.get("vipRef") or {}).get("name")
        proto = "UDP" if "udpProxy" in (svc.spec.get("applications") or {}) else "TCP"
        if vip and svc.spec.get("port"):
            ports_by_vip.setdefault((svc.namespace, vip), set()).add((svc.spec["port"], proto))
    out = []
    for v in index.valid("LBVIP"):
        labels = {**v.labels, VIP_NAME_LABEL: v.name}
        out.append(Claimant(v.ref, v, labels, v.spec.get("ipv4Request"), _ann(v, IPAM_SHARING_KEY),
                            frozenset(ports_by_vip.get((v.namespace, v.name), ())), _order(v)))
    for s in index.load_balancer_services():
        if not s.valid:
            continue
        req = None
        ann = _ann(s, IPAM_IPS)
        if ann:
            req = next((x.strip() for x in str(ann).split(",") if ":" not in x and x.strip()), None)
        req = req or s.spec.get("loadBalancerIP")
        ports = frozenset((p.get("port"), p.get("protocol", "TCP")) for p in s.spec.get("ports") or [] if isinstance(p, dict))
        out.append(Claimant(s.ref, s, dict(s.labels), req, _ann(s, IPAM_SHARING_KEY), ports, _order(s)))
    out.sort(key=lambda c: c.order)
    return out


def _ann(res: Resource, key: str):
    """An LB-IPAM annotation's value; the deprecated io.cilium/ spelling counts too."""
    found = ipam_annotation(res, key)
    return found[1] if found else None


def _order(r: Resource) -> tuple:
    ts = ((r.body.get("metadata") or {}).get("creationTimestamp")) or "~"
    return (str(ts), r.ref)


def allocate(index: ResourceIndex, previous: dict[str, str] | None = None) -> IpamResult:
    pools = pools_of(index)
    claims = claimants_of(index)
    result = IpamResult()
    holders: dict[int, list[Claimant]] = {}

    def fits(c: Claimant, ip: int) -> str | None:
        """None when `c` may take `ip`, else the reason it may not."""
        for other in holders.get(ip, []):
            if not (c.sharing_key and c.sharing_key == other.sharing_key):
                return "AddressAlreadyInUse"
            if c.ports & other.ports:
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

    eligible = {c.ref: [p for p in pools if matches(p.selector, c.labels)] for c in claims}
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
