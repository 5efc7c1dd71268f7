"""LB-IPAM as Cilium defines it: who claims an address, with which labels a pool's
serviceSelector sees, what each asks for, which pools may serve it and who may share.

Lint checks these and compile allocates from them, so a set lint passes cannot fail to
allocate for a reason lint does not know (`lbcli.compile.ipam` holds the allocator).

- Claimants: LBVIPs, and v1 Services of type LoadBalancer that Cilium handles (no
  `loadBalancerClass`, or one of `io.cilium/...`). A Service labelled
  `loadbalancer.isovalent.com/vip-name: X` with an LBVIP X in its namespace is the Service
  Isovalent creates for that LBVIP (e.g. exported with kubectl): part of it, not a claimant.
- Labels: the object's labels plus Cilium's `io.kubernetes.service.namespace` and
  `io.kubernetes.service.name`; an LBVIP also carries `loadbalancer.isovalent.com/vip-name`.
- Requests: LBVIP `spec.ipv4Request`; a Service's `lbipam.cilium.io/ips` (comma-separated;
  the deprecated `io.cilium/lb-ipam-ips` when it is absent), else `spec.loadBalancerIP`. One IPv4 address is allocated per claimant: the first IPv4
  request.
- Pools: not `disabled` and not Conflicting (a block overlapping an earlier pool's); their
  IPv4 blocks, without a CIDR's first and last address under `allowFirstLastIPs: No`
  (except /31 and /32).
- Sharing: the same `lbipam.cilium.io/sharing-key` (or the deprecated
  `io.cilium/lb-ipam-sharing-key`), disjoint (port, protocol) sets and, across
  namespaces, each allowing the other's in `lbipam.cilium.io/sharing-cross-namespace`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterator

from ..manifest.index import IPAM_IPS, IPAM_SHARING_KEY, VIP_NAME_LABEL, ResourceIndex, ipam_annotation
from ..manifest.ippool import address as _ip
from ..manifest.ippool import blocks
from ..manifest.resource import Resource
from ..manifest.selectors import matches
from .apps import protocol

SVC_NAMESPACE_LABEL = "io.kubernetes.service.namespace"
SVC_NAME_LABEL = "io.kubernetes.service.name"
SHARING_CROSS_NS = "lbipam.cilium.io/sharing-cross-namespace"
CONDITION = "lb.cilium.io/IPv4AddressAllocated"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Ports = frozenset  # of (port, protocol)


def labels(res: Resource) -> dict[str, str]:
    """Labels a CiliumLoadBalancerIPPool serviceSelector is matched against."""
    out = {k: v for k, v in res.labels.items() if isinstance(k, str) and isinstance(v, str)}
    out[SVC_NAMESPACE_LABEL] = res.namespace or "default"
    out[SVC_NAME_LABEL] = res.name
    if res.kind == "LBVIP":
        out.setdefault(VIP_NAME_LABEL, res.name)
    return out


def lbvip_of(index: ResourceIndex, svc: Resource) -> Resource | None:
    """The LBVIP a v1 Service was created for (its vip-name label), else None."""
    vip = svc.labels.get(VIP_NAME_LABEL)
    return index.get("LBVIP", svc.namespace, vip) if isinstance(vip, str) and vip else None


def handled(svc: Resource) -> bool:
    """Whether Cilium's LB-IPAM serves a v1 Service of type LoadBalancer."""
    cls = svc.spec.get("loadBalancerClass")
    return not (isinstance(cls, str) and cls and not cls.startswith("io.cilium/"))


def clients(index: ResourceIndex) -> list[Resource]:
    """Every claimant: valid LBVIPs, then valid v1 Services Cilium serves (see above)."""
    out = list(index.valid("LBVIP"))
    for svc in index.load_balancer_services():
        if svc.valid and handled(svc) and lbvip_of(index, svc) is None:
            out.append(svc)
    return out


def shared_clients(index: ResourceIndex) -> list[Resource]:
    """clients(index), found once per index and shared (several lint rules ask; do not change it)."""
    return index.derived("ipam.clients", clients)


def is_client(index: ResourceIndex, res: Resource) -> bool:
    return id(res) in index.derived("ipam.client-ids", lambda ix: {id(c) for c in shared_clients(ix)})


def shared_requests(index: ResourceIndex, res: Resource) -> tuple["Request", ...]:
    """requests(res) as a tuple, made once per index and resource (lint asks in two rules)."""
    memo = index.derived("ipam.requests", lambda _: {})
    got = memo.get(id(res))  # the index keeps every resource alive: ids stay unique meanwhile
    if got is None:
        got = memo[id(res)] = tuple(requests(res))
    return got


def order(res: Resource) -> tuple:
    """Allocation order: creation time (absent last), then kind/namespace/name."""
    ts = (res.body.get("metadata") or {}).get("creationTimestamp") or "~"
    return (str(ts), res.ref)


@dataclass(frozen=True)
class Request:
    """One explicitly requested address and the field it comes from."""

    resource: Resource
    address: Address | None  # None: the text is not an IP address
    text: str
    path: tuple


def requests(res: Resource) -> Iterator[Request]:
    """Every address a claimant asks for, in the order Cilium reads them."""
    if res.kind == "LBVIP":
        text = res.spec.get("ipv4Request")
        if isinstance(text, str) and text:
            yield Request(res, _ip(text), text, ("spec", "ipv4Request"))
        return
    found = ipam_annotation(res, IPAM_IPS)  # the deprecated io.cilium/ spelling counts too
    if found is not None and isinstance(found[1], str):
        key, ann = found
        for part in ann.split(","):
            if part.strip():
                yield Request(res, _ip(part.strip()), part.strip(), ("metadata", "annotations", key))
    lb_ip = res.spec.get("loadBalancerIP")
    if isinstance(lb_ip, str) and lb_ip:
        yield Request(res, _ip(lb_ip), lb_ip, ("spec", "loadBalancerIP"))


def requested_ipv4(res: Resource, reqs: tuple | None = None) -> Request | None:
    """The request the allocator honours: the annotation's first entry that is not IPv6,
    else `spec.loadBalancerIP` (a text that is no address is returned too: NoPool). `reqs`:
    requests(res) when the caller has them."""
    reqs = list(requests(res)) if reqs is None else reqs
    ann = [r for r in reqs if r.path[0] == "metadata" and ":" not in r.text]
    if ann:
        return ann[0]
    rest = [r for r in reqs if r.path[0] == "spec"]
    return rest[0] if rest else None


def sharing_key(res: Resource) -> str | None:
    found = ipam_annotation(res, IPAM_SHARING_KEY)  # or its deprecated io.cilium/ spelling
    key = found[1] if found else None
    return key if isinstance(key, str) and key else None


def shares_across(a: Resource, b: Resource) -> bool:
    """Different namespaces share only when each lists the other's (or `*`) in
    `lbipam.cilium.io/sharing-cross-namespace`."""
    if a.namespace == b.namespace:
        return True

    def allows(res: Resource, ns: str | None) -> bool:
        val = res.annotations.get(SHARING_CROSS_NS)
        names = {p.strip() for p in val.split(",")} if isinstance(val, str) else set()
        return "*" in names or (ns or "") in names

    return allows(a, b.namespace) and allows(b, a.namespace)


def lbvip_ports(index: ResourceIndex) -> dict[tuple, Ports]:
    """(namespace, LBVIP name) -> the (port, protocol) pairs of the LBServices on it."""
    out: dict[tuple, set] = {}
    for svc in index.valid("LBService"):
        ref = svc.spec.get("vipRef")
        vip = ref.get("name") if isinstance(ref, dict) else None
        port = svc.spec.get("port")
        if isinstance(vip, str) and vip and isinstance(port, int) and not isinstance(port, bool):
            out.setdefault((svc.namespace, vip), set()).add((port, protocol(svc)))
    return {k: frozenset(v) for k, v in out.items()}


def ports(res: Resource, by_vip: dict[tuple, Ports]) -> Ports:
    """The (port, protocol) pairs a claimant serves on its address."""
    if res.kind == "LBVIP":
        return by_vip.get((res.namespace, res.name), frozenset())
    out = set()
    for p in res.spec.get("ports") or []:
        if isinstance(p, dict) and isinstance(p.get("port"), int):
            out.add((p["port"], p.get("protocol") or "TCP"))
    return frozenset(out)


def share_problem(a: Resource, pa: Ports, b: Resource, pb: Ports) -> str | None:
    """Why claimants a and b cannot hold one address, or None when Cilium lets them."""
    ka, kb = sharing_key(a), sharing_key(b)
    if ka is None or ka != kb:
        if a.kind == b.kind == "LBVIP":
            return f"to serve more ports on it, reference LBVIP {b.key} from more LBServices"
        return "sharing needs the same lbipam.cilium.io/sharing-key on both"
    if not shares_across(a, b):
        return f"sharing across namespaces needs {SHARING_CROSS_NS} on both"
    both = sorted(pa & pb)
    if both:
        return f"they share key {ka} but both use {', '.join(f'{p}/{proto}' for p, proto in both)}"
    return None


def enabled(pool: Resource) -> bool:
    return str(pool.spec.get("disabled", False)).lower() != "true"


@dataclass(frozen=True)
class Pool:
    """An enabled pool's IPv4 addresses as sorted inclusive ranges."""

    resource: Resource
    ranges: tuple[tuple[int, int], ...]

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def selector(self):
        return self.resource.spec.get("serviceSelector")

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

    def selects(self, res: Resource) -> bool:
        selector = self.selector
        # no selector selects everything (as `matches` says): no labels to make for each claimant
        return True if not selector else matches(selector, labels(res))


def conflicting(index: ResourceIndex) -> set[int]:
    """id() of the pools Cilium marks Conflicting: a block overlaps a block of an earlier pool
    (set order; disabled pools count, they keep their addresses). Nothing is allocated from
    them; lint's pool-overlap reports each overlap."""
    earlier: list = []
    out: set[int] = set()
    for p in index.valid("CiliumLoadBalancerIPPool"):
        mine = blocks(p)
        if any(e.overlaps(b) for b in mine for e in earlier):
            out.add(id(p))
        earlier.extend(mine)
    return out


def pools(index: ResourceIndex) -> list[Pool]:
    """Enabled, not Conflicting pools by name, with their usable IPv4 addresses (blocks of one
    pool that overlap are merged, so each address counts once)."""
    bad = conflicting(index)
    out = []
    for p in sorted(index.valid("CiliumLoadBalancerIPPool"), key=lambda r: r.name):
        if not enabled(p) or id(p) in bad:
            continue
        ranges = sorted((b.first + (b.first in b.reserved), b.last - (b.last in b.reserved))
                        for b in blocks(p) if b.version == 4)
        merged: list[list[int]] = []
        for lo, hi in ranges:
            if lo > hi:
                continue
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        out.append(Pool(p, tuple((lo, hi) for lo, hi in merged)))
    return out


def eligible(all_pools: list[Pool], res: Resource) -> list[Pool]:
    """The enabled pools whose serviceSelector selects claimant `res`, by name."""
    return [p for p in all_pools if p.selects(res)]
