"""Lab topologies: who exists and how they are addressed (the seed lab by default).

The seed lab: nodes on 192.168.121.0/24 (router .201, tier-1 .11/.12, tier-2 .21/.22), VIPs in
100.64.0.0/24, a client on its own subnet behind the router. Backends sit on the node segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabNode:
    name: str  # also the namespace suffix; <= 13 characters (bridge port "p-<name>")
    ip: str
    tiers: tuple[str, ...] = ()  # "t1", "t2"; () for backends


@dataclass(frozen=True)
class Topology:
    segment_prefix: int = 24
    router_ip: str = "192.168.121.201"
    client_net_prefix: int = 24
    router_client_ip: str = "172.30.0.1"
    client_ip: str = "172.30.0.2"
    nodes: tuple[LabNode, ...] = (
        LabNode("t1-a", "192.168.121.11", ("t1",)),
        LabNode("t1-b", "192.168.121.12", ("t1",)),
        LabNode("t2-a", "192.168.121.21", ("t2",)),
        LabNode("t2-b", "192.168.121.22", ("t2",)),
    )
    backends: tuple[LabNode, ...] = (
        LabNode("be-a", "192.168.121.101"),
        LabNode("be-b", "192.168.121.102"),
    )
    vips: tuple[str, ...] = ("100.64.0.101",)
    # the node segment is a datacenter underlay: jumbo frames leave room for the VXLAN header
    segment_mtu: int = 9000
    static_vip_routes: bool = True  # until BGP: the router spreads VIPs over tier-1 (ECMP)
    extra: dict = field(default_factory=dict)

    def node(self, name: str) -> LabNode:
        for n in self.nodes + self.backends:
            if n.name == name:
                return n
        raise KeyError(name)

    def tier(self, tier: str) -> list[LabNode]:
        return [n for n in self.nodes if tier in n.tiers]


DEFAULT = Topology()
