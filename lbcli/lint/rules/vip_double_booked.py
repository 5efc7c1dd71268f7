"""One requested address belongs to one VIP, unless Cilium's address sharing applies.

Two objects pinned to the same address cannot both get it: LB-IPAM gives it to the first and
leaves the other at `IPv4AddressAllocated=False` (AddressAlreadyInUse), and which one wins
depends on creation order. Claimants are LBVIPs (`spec.ipv4Request`) and v1 Services of type
LoadBalancer (`lbipam.cilium.io/ips`, `spec.loadBalancerIP`).

Not double booking:

- Several LBServices on one LBVIP: the LBVIP owns the address, the LBServices only reference it
  (that their ports differ is checked by vip-port-unique). A v1 Service labelled
  `loadbalancer.isovalent.com/vip-name: <lbvip>` is the Service Isovalent creates for that LBVIP
  (e.g. exported with kubectl) and is part of it, not a second claimant.
- Cilium sharing: both claimants carry the same `lbipam.cilium.io/sharing-key` and their ports
  are disjoint (port and protocol; an LBVIP's ports are those of its LBServices). Across
  namespaces each must also allow the other's namespace in
  `lbipam.cilium.io/sharing-cross-namespace` (or `*`).

Two LBVIPs on one address are reported even without LBServices: point the LBServices at one
LBVIP instead. The finding is at the later request and names the earlier claimant.

Example of a finding:

    b.yaml:6:16: error: 100.64.0.101 is already requested by LBVIP default/a (a.yaml:3)
    (AddressAlreadyInUse); to serve more ports on it, reference LBVIP default/a from more
    LBServices [vip-double-booked]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.index import VIP_NAME_LABEL
from ...manifest.resource import Resource
from ..finding import Context, Finding
from ..problem import Severity
from ._ipam import SHARING_CROSS_NS, ipam_clients, requests, shares_across, sharing_key
from ._refs import as_list, protocol, ref_name, where

ID = "vip-double-booked"
SEVERITY = Severity.ERROR

Ports = frozenset[tuple[int, str]]


def check(ctx: Context) -> Iterator[Finding]:
    ports = _lbvip_ports(ctx)
    claims: dict[object, list[Resource]] = {}
    for client in ipam_clients(ctx.index):
        owner = _owner(ctx, client)
        seen: set = set()
        for req in requests(client):
            if req.address is None or req.address in seen:
                continue
            seen.add(req.address)
            earlier = claims.setdefault(req.address, [])
            for other in earlier:
                if _owner(ctx, other) == owner:
                    continue
                why = _conflict(client, other, _ports(client, ports), _ports(other, ports))
                if why is not None:
                    yield Finding(client, req.path,
                                  f"{req.address} is already requested by {other.kind} {other.key} "
                                  f"({where(other)}) (AddressAlreadyInUse); {why}")
                    break
            earlier.append(client)


def _conflict(a: Resource, b: Resource, pa: Ports, pb: Ports) -> str | None:
    """Why a and b cannot share an address, or None when Cilium lets them."""
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


def _owner(ctx: Context, res: Resource) -> object:
    """The LBVIP a Service was created for (by its vip-name label), else the object itself."""
    if res.kind == "Service":
        vip = res.labels.get(VIP_NAME_LABEL)
        if isinstance(vip, str) and ctx.index.get("LBVIP", res.namespace, vip) is not None:
            return ("LBVIP", res.namespace, vip)
    return (res.kind, res.namespace, res.name)


def _lbvip_ports(ctx: Context) -> dict[tuple, Ports]:
    out: dict[tuple, set] = {}
    for svc in ctx.index.valid("LBService"):
        vip, port = ref_name(svc.spec, "vipRef", "name"), svc.spec.get("port")
        if vip is not None and isinstance(port, int):
            out.setdefault((svc.namespace, vip), set()).add((port, protocol(svc)))
    return {k: frozenset(v) for k, v in out.items()}


def _ports(res: Resource, lbvip_ports: dict[tuple, Ports]) -> Ports:
    if res.kind == "LBVIP":
        return lbvip_ports.get((res.namespace, res.name), frozenset())
    out = set()
    for p in as_list(res.spec.get("ports")):
        if isinstance(p, dict) and isinstance(p.get("port"), int):
            out.add((p["port"], p.get("protocol") or "TCP"))
    return frozenset(out)
