"""v1 Services of type LoadBalancer that cilium-lb serves, and on which ports.

A Service LB-IPAM hands an address to (lbcli/model/ipam.py `clients`: no foreign
`loadBalancerClass`, not the Service Isovalent made for an LBVIP) is served like an LBService
on each of its TCP ports: a tier-1 entry, a tier-2 TCP passthrough listener to the Service's
endpoints (lbcli/model/endpoints.py) and the VIP's BGP prefix. Services that share an address
through `lbipam.cilium.io/sharing-key` are served on their own ports of the one VIP; Cilium's
sharing rules (same key, disjoint ports, cross-namespace consent) are LB-IPAM's, and a Service
that breaks them gets no address, so nothing of it is served. Tier 1 and tier 2 serve every
such Service on every tier node: LBDeployments select LBServices, not v1 Services.

Plan keys: `namespace/name:port` names a port's listener, tier-1 entry and pool (Kubernetes
names hold no ':', so no LBService or LBBackendPool key is ever the same).
UDP and SCTP ports are not served (tier 2 proxies TCP; the not-implemented rule says so).
`sessionAffinity: ClientIP` is carried out as a consistent hash of the client address: a client
stays on its endpoint while the endpoints do not change, with no timeout (a
`sessionAffinityConfig.clientIP.timeoutSeconds` other than Kubernetes' default 10800 is
refused with a warning).
"""

from __future__ import annotations

from ..manifest.index import ResourceIndex
from ..manifest.resource import Resource
from . import ipam

SERVED_PROTOCOLS = ("TCP",)


def served(index: ResourceIndex) -> list[Resource]:
    """The v1 Services LB-IPAM serves (whether they got an address is IPAM's result)."""
    return [c for c in ipam.clients(index) if c.kind == "Service"]


def ports(svc: Resource) -> list[int]:
    """The TCP port numbers of a Service, sorted, each once."""
    out = set()
    for p in svc.spec.get("ports") or []:
        if isinstance(p, dict) and (p.get("protocol") or "TCP") in SERVED_PROTOCOLS:
            port = p.get("port")
            if isinstance(port, int) and not isinstance(port, bool):
                out.add(port)
    return sorted(out)


def key(svc: Resource, port: int) -> str:
    return f"{svc.namespace}/{svc.name}:{port}"


def client_ip_affinity(svc: Resource) -> bool:
    return svc.spec.get("sessionAffinity") == "ClientIP"
