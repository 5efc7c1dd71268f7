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
    pod_cidr: str | None = None  # the Node's spec.podCIDRs[0]


@dataclass(frozen=True)
class LabPod:
    """A Pod: its own namespace, `eth0` with `ip`/32 and a default route via 169.254.1.1 (the
    node's host-side veth `lxc-<name>` answers by proxy ARP; the node routes `ip`/32 to it)."""

    name: str  # namespace suffix and veth name: <= 11 characters
    node: str
    ip: str


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
    pods: tuple[LabPod, ...] = ()
    # an external host beyond the router (its own subnet), e.g. to see masqueraded pod traffic
    external_ip: str | None = None
    router_external_ip: str = "203.0.113.1"
    extra: dict = field(default_factory=dict)

    def node(self, name: str) -> LabNode:
        for n in self.nodes + self.backends:
            if n.name == name:
                return n
        raise KeyError(name)

    def tier(self, tier: str) -> list[LabNode]:
        return [n for n in self.nodes if tier in n.tiers]


DEFAULT = Topology()


# Pod networking: three nodes with PodCIDRs in 10.244.0.0/16, one Pod on each, an external host.
PODNET = Topology(
    nodes=(LabNode("node-a", "192.168.121.31", (), "10.244.1.0/24"),
           LabNode("node-b", "192.168.121.32", (), "10.244.2.0/24"),
           LabNode("node-c", "192.168.121.33", (), "10.244.3.0/24")),
    backends=(), vips=(), static_vip_routes=False,
    pods=(LabPod("pod-a", "node-a", "10.244.1.10"), LabPod("pod-b", "node-b", "10.244.2.10"),
          LabPod("pod-c", "node-c", "10.244.3.10")),
    external_ip="203.0.113.2",
)
