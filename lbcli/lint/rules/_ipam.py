"""LB-IPAM as Cilium evaluates it: who asks for addresses, with which labels, from which pool
blocks (not a rule: underscore module; pure, also usable by the compiler)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterator

from ...manifest.index import IPAM_IPS, IPAM_SHARING_KEY, VIP_NAME_LABEL, ResourceIndex, ipam_annotation
from ...manifest.resource import Resource
from ...manifest.ippool import address as _ip
from ...manifest.ippool import blocks

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
    found = ipam_annotation(res, IPAM_IPS)  # the deprecated io.cilium/ spelling counts too
    if found is not None and isinstance(found[1], str):
        key, ann = found
        for part in ann.split(","):
            if part.strip():
                yield Request(res, _ip(part.strip()), part.strip(), ("metadata", "annotations", key))
    lb_ip = res.spec.get("loadBalancerIP")
    if isinstance(lb_ip, str) and lb_ip:
        yield Request(res, _ip(lb_ip), lb_ip, ("spec", "loadBalancerIP"))


def sharing_key(res: Resource) -> str | None:
    found = ipam_annotation(res, IPAM_SHARING_KEY)
    key = found[1] if found else None
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


def describe_blocks(pool: Resource) -> str:
    return ", ".join(b.text for b in blocks(pool)) or "no blocks"
