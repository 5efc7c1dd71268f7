"""One requested address belongs to one VIP, unless Cilium's address sharing applies.

Two objects pinned to the same address cannot both get it: LB-IPAM gives it to the first and
leaves the other at `IPv4AddressAllocated=False` (AddressAlreadyInUse), and which one wins
depends on creation order. Claimants are LBVIPs (`spec.ipv4Request`) and v1 Services of type
LoadBalancer (`lbipam.cilium.io/ips`, `spec.loadBalancerIP`), taken in LB-IPAM's order
(creation time, then kind/namespace/name), as `lbcli.model.ipam` defines them.

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

from ...manifest.resource import Resource
from ...model import ipam
from ..finding import Context, Finding
from ..problem import Severity
from ._refs import where

ID = "vip-double-booked"
SEVERITY = Severity.ERROR

Ports = frozenset[tuple[int, str]]


def check(ctx: Context) -> Iterator[Finding]:
    by_vip = None  # the LBServices' ports per LBVIP: read at the first shared address only
    claims: dict[object, list[Resource]] = {}
    for client in sorted(ipam.shared_clients(ctx.index), key=ipam.order):  # the allocator's order
        seen: set = set()
        for req in ipam.shared_requests(ctx.index, client):
            if req.address is None:
                continue
            # an address as its family and integer: ipaddress hashes through hex() in Python
            addr = (req.address.version, int(req.address))
            if addr in seen:
                continue
            seen.add(addr)
            earlier = claims.setdefault(addr, [])
            if earlier and by_vip is None:
                by_vip = ipam.lbvip_ports(ctx.index)
            for other in earlier:
                why = ipam.share_problem(client, ipam.ports(client, by_vip), other, ipam.ports(other, by_vip))
                if why is not None:
                    yield Finding(client, req.path,
                                  f"{req.address} is already requested by {other.kind} {other.key} "
                                  f"({where(other)}) (AddressAlreadyInUse); {why}")
                    break
            earlier.append(client)
