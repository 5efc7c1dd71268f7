"""LB-IPAM as Cilium evaluates it: who asks for addresses, with which labels, from which pool
blocks (not a rule: underscore module; pure, also usable by the compiler)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterator

from ...manifest.index import IPAM_IPS, IPAM_SHARING_KEY, VIP_NAME_LABEL, ResourceIndex
from ...manifest.resource import Resource
from ._refs import as_list

# Cilium adds these to the labels a pool's serviceSelector sees.
SVC_NAMESPACE_LABEL = "io.kubernetes.service.namespace"
SVC_NAME_LABEL = "io.kubernetes.service.name"
SHARING_CROSS_NS = "lbipam.cilium.io/sharing-cross-namespace"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def ipam_labels(res: Resource) -> dict[str, str]:
    """Labels a CiliumLoadBalancerIPPool serviceSelector is matched against. An LBVIP gets its
    address through the Service Isovalent creates for it, labelled with the VIP name."""
    labels = {k: v for k, v in res.labels.items() if isinstance(v, str)}
    labels[SVC_NAMESPACE_LABEL] = res.namespace or "default"
    labels[SVC_NAME_LABEL] = res.name
    if res.kind == "LBVIP":
        labels.setdefault(VIP_NAME_LABEL, res.name)
    return labels


def ipam_clients(index: ResourceIndex) -> list[Resource]:
    """What LB-IPAM serves: LBVIPs and v1 Services of type LoadBalancer that Cilium handles."""
    out = list(index.valid("LBVIP"))
    for svc in index.load_balancer_services():
        if not svc.valid:
            continue
        cls = svc.spec.get("loadBalancerClass")
        if isinstance(cls, str) and cls and not cls.startswith("io.cilium/"):
            continue  # another controller's service
        out.append(svc)
    return out


@dataclass(frozen=True)
class Request:
    """One explicitly requested address and the field it comes from."""

    resource: Resource
    address: Address | None  # None: the text is not an IP address
    text: str
    path: tuple


def requests(res: Resource) -> Iterator[Request]:
    """Addresses a client asks for: LBVIP spec.ipv4Request; a Service's `lbipam.cilium.io/ips`
    annotation (comma-separated) and spec.loadBalancerIP."""
    if res.kind == "LBVIP":
        text = res.spec.get("ipv4Request")
        if isinstance(text, str) and text:
            yield Request(res, _ip(text), text, ("spec", "ipv4Request"))
        return
    ann = res.annotations.get(IPAM_IPS)
    if isinstance(ann, str):
        for part in ann.split(","):
            if part.strip():
                yield Request(res, _ip(part.strip()), part.strip(), ("metadata", "annotations", IPAM_IPS))
    lb_ip = res.spec.get("loadBalancerIP")
    if isinstance(lb_ip, str) and lb_ip:
        yield Request(res, _ip(lb_ip), lb_ip, ("spec", "loadBalancerIP"))


def sharing_key(res: Resource) -> str | None:
    key = res.annotations.get(IPAM_SHARING_KEY)
    return key if isinstance(key, str) and key else None


def shares_across(a: Resource, b: Resource) -> bool:
    """Cilium lets services of different namespaces share an address only when each lists the
    other's namespace (or `*`) in `lbipam.cilium.io/sharing-cross-namespace`."""
    if a.namespace == b.namespace:
        return True

    def allows(res: Resource, ns: str | None) -> bool:
        val = res.annotations.get(SHARING_CROSS_NS)
        names = {p.strip() for p in val.split(",")} if isinstance(val, str) else set()
        return "*" in names or (ns or "") in names

    return allows(a, b.namespace) and allows(b, a.namespace)


@dataclass(frozen=True)
class Block:
    """One pool block as an inclusive integer range, with what is reserved in it."""

    pool: Resource
    index: int
    text: str  # "100.64.0.0/24" or "10.0.0.1-10.0.0.9"
    version: int
    first: int
    last: int
    reserved: frozenset[int]  # network/broadcast addresses kept out by allowFirstLastIPs: No

    def holds(self, addr: Address) -> bool:
        return addr.version == self.version and self.first <= int(addr) <= self.last

    def overlaps(self, other: "Block") -> bool:
        return self.version == other.version and self.first <= other.last and other.first <= self.last


def blocks(pool: Resource) -> list[Block]:
    """The blocks of a pool; unparsable ones are skipped (the schema reports them)."""
    allow_first_last = pool.spec.get("allowFirstLastIPs", "Yes") != "No"
    out = []
    for i, b in enumerate(as_list(pool.spec.get("blocks"))):
        if not isinstance(b, dict):
            continue
        if isinstance(b.get("cidr"), str):
            try:
                net = ipaddress.ip_network(b["cidr"], strict=False)
            except ValueError:
                continue
            first, last = int(net.network_address), int(net.broadcast_address)
            reserved: frozenset[int] = frozenset()
            # /31, /32 (/127, /128) would be unusable without their first and last address
            if not allow_first_last and net.max_prefixlen - net.prefixlen >= 2:
                reserved = frozenset({first, last})
            out.append(Block(pool, i, str(net), net.version, first, last, reserved))
        elif isinstance(b.get("start"), str):
            start = _ip(b["start"])
            stop = _ip(b["stop"]) if isinstance(b.get("stop"), str) else start
            if start is None or stop is None or start.version != stop.version:
                continue
            lo, hi = sorted((int(start), int(stop)))
            text = str(start) if start == stop else f"{start}-{stop}"
            out.append(Block(pool, i, text, start.version, lo, hi, frozenset()))
    return out


def describe_blocks(pool: Resource) -> str:
    return ", ".join(b.text for b in blocks(pool)) or "no blocks"


def _ip(text: str) -> Address | None:
    from ...manifest.addr import parse_ip

    return parse_ip(text.strip()) if isinstance(text, str) else None
