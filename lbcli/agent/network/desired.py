"""What the `network` section of a typed plan asks of this host, as keyed objects.

Every object has a stable id ("route 10.0.2.0/24", "fdb 02:..:.. on lbpod_vxlan") and a spec:
a frozen dataclass per kind that observe() reads back in the same form. Fields that say what
the object is (its device, address, the Pod it is for) are in the id and not compared; the
others are, so diff is `want != have` (the nft table compares its canonical form).

* tunnel (vxlan): one unicast vxlan device (VNI, UDP port, outer source = the node's
  InternalIP, over its uplink, learning off, a stable MAC from the plan) holding this node's
  VTEP address (the first address of its IPv4 PodCIDR, /32); per peer: an FDB entry (peer
  device MAC -> peer InternalIP), a permanent neighbour (peer VTEP -> peer MAC), and per peer
  PodCIDR a route via the peer VTEP, onlink, over the device (flannel's vxlan layout).
* native + auto-direct-node-routes: per peer PodCIDR a route via the peer's InternalIP when
  the peer is on this node's L2 segment (the kernel reaches it without a gateway); otherwise a
  finding (note) and no route.
* masquerade: `inet cilium_lb_nat` postrouting: traffic from this node's PodCIDRs to anything
  outside ipv4-native-routing-cidr (or, unset, the cluster's PodCIDRs) is SNATed to the
  InternalIP.
* bandwidth manager: this kernel has no `fq`, so no EDT; egress: the forward chain sets
  skb->priority to the Pod's HTB class (c1:<low 16 bits of its IP>) on the uplink's root HTB
  (unclassified traffic bypasses it; the priority survives VXLAN encapsulation, so tunnelled
  traffic is shaped too); ingress: a root TBF on the Pod's host-side device.
* net.ipv4.ip_forward=1 (the original is restored by reset).

Routes carry routing protocol PROTO so they are found again without a record; the qdiscs carry
handle c1:. Routes, neighbours, addresses and classes are IPv4 only (IPv6 PodCIDRs: a note).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ...plan.types import NodePlan
from ..host import netlink as nl

PROTO = 0xE5  # rtnetlink routing protocol of cilium-lb's pod routes (unassigned in iproute2's rt_protos)
HANDLE = 0xC10000  # c1: root qdisc handle (HTB on the uplink, TBF on Pod devices)
NFT_FAMILY, NFT_TABLE = "inet", "cilium_lb_nat"
FORWARD = "net.ipv4.ip_forward"
CHAINS = {
    "postrouting": {"name": "postrouting", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"},
    "forward": {"name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"},
}


class NetworkError(RuntimeError):
    """The plan asks for pod networking this node cannot do; nothing was changed."""


def _id(**kw):
    """A field that identifies the object (it is in the object's id): not compared."""
    return field(compare=False, **kw)


# -- the objects (Change.spec), in KIND_ORDER ---------------------------------------------------
@dataclass(frozen=True)
class Sysctl:
    path: str = _id()
    value: str | None = None


@dataclass(frozen=True)
class Device:
    name: str = _id()
    vni: int | None = None
    port: int | None = None
    local: str | None = None
    lower: str | None = None
    mac: str | None = None
    up: bool = True


@dataclass(frozen=True)
class Address:
    dev: str = _id()
    ip: str = _id()
    plen: int = _id(default=32)


@dataclass(frozen=True)
class Fdb:
    dev: str = _id()
    mac: str = _id()
    remote: str = ""
    peer: str = _id(default="")


@dataclass(frozen=True)
class Neighbour:
    dev: str = _id()
    ip: str = _id()
    mac: str = ""


@dataclass(frozen=True)
class Route:
    dst: str = _id()
    gateway: str | None = None
    dev: str | None = None
    onlink: bool = False
    peer: str = _id(default="")


@dataclass(frozen=True)
class NftTable:
    """`inet cilium_lb_nat` in the form `nft -j list table` prints (chains, rules as JSON dicts)."""

    chains: tuple = _id()
    rules: tuple = _id()

    def canonical(self) -> tuple:
        import json

        return (json.dumps(sorted(self.chains, key=lambda c: c["name"]), sort_keys=True),
                tuple(sorted(json.dumps(r, sort_keys=True) for r in self.rules)))


@dataclass(frozen=True)
class Htb:
    dev: str = _id()


@dataclass(frozen=True)
class HtbClass:
    dev: str = _id()
    classid: int = _id()
    bps: int = 0
    pod: str = _id(default="")


@dataclass(frozen=True)
class Tbf:
    dev: str | None = _id()
    bps: int = 0
    pod: str = _id(default="")
    error: str = _id(default="")  # the plan's Pod has no device here: applying it fails with this


@dataclass(frozen=True)
class Record:
    """`<state-dir>/<node>/network.json` names the tunnel device (so switching to native removes it)."""

    device: str | None = None


KINDS = (Sysctl, Device, Address, Fdb, Neighbour, Route, NftTable, Htb, HtbClass, Tbf, Record)
KIND_ORDER = {k: i for i, k in enumerate(KINDS)}  # creates in this order, deletes reversed


@dataclass
class Desired:
    objects: dict[str, Any]  # id -> spec
    device: str | None
    uplink: str | None
    notes: list[str]


def vtep_of(cidrs) -> str | None:
    """A node's VTEP address: the first address of its first IPv4 PodCIDR."""
    for c in cidrs or ():
        try:
            net = ipaddress.ip_network(str(c), strict=False)
        except ValueError:
            continue
        if net.version == 4:
            return str(net.network_address)
    return None


def _v4(cidrs) -> list[str]:
    out = []
    for c in cidrs or ():
        net = ipaddress.ip_network(str(c), strict=False)  # the plan's pattern admits only CIDRs
        if net.version == 4:
            out.append(str(net))
    return out


def _check_protocol(proto: str | None) -> None:
    if proto in (None, "vxlan"):
        return
    if proto == "geneve":
        ok, why = nl.link_kind_supported("geneve", geneve_id=1, geneve_remote="192.0.2.1")
        if not ok:
            raise NetworkError("tunnel-protocol geneve: this kernel has no GENEVE support (creating a geneve "
                               f"link failed: {why.split(': ', 1)[-1]}); use tunnel-protocol vxlan")
        raise NetworkError("tunnel-protocol geneve is not implemented by cilium-lb's pod networking; use vxlan")
    raise NetworkError(f"tunnel-protocol {proto!r} is not supported")


def desired_from_plan(plan: NodePlan) -> Desired:
    net, node = plan.network, plan.node
    node_ip = node.internal_ip
    own = _v4(node.pod_cidrs)
    peers = net.peers
    objs: dict[str, Any] = {}
    notes: list[str] = []
    for p in peers:
        v6 = [c for c in p.pod_cidrs if ":" in str(c)]
        if v6:
            notes.append(f"peer {p.node}: IPv6 PodCIDRs {', '.join(v6)} not programmed (IPv4 only)")
    if not own and not peers:
        return Desired({}, None, None, notes)
    uplink = nl.link_by_address(node_ip) if node_ip else None
    if uplink is None:
        raise NetworkError(f"no link holds the node's internalIP {node_ip}")
    objs[f"sysctl {FORWARD}"] = Sysctl(FORWARD, "1")
    device = None
    if net.routing_mode == "tunnel":
        _check_protocol(net.tunnel_protocol)
        device = net.tunnel_device
        objs[f"device {device}"] = Device(device, net.tunnel_vni, net.tunnel_port, node_ip, uplink,
                                          net.tunnel_mac.lower(), True)
        vtep = vtep_of(own)
        if vtep:
            objs[f"address {vtep}/32 on {device}"] = Address(device, vtep)
        for p in peers:
            pv = vtep_of(p.pod_cidrs)
            if pv is None:
                continue
            pmac = p.tunnel_mac.lower()
            objs[f"fdb {pmac} on {device}"] = Fdb(device, pmac, p.ip, p.node)
            objs[f"neighbour {pv} on {device}"] = Neighbour(device, pv, pmac)
            for c in _v4(p.pod_cidrs):
                objs[f"route {c}"] = Route(c, pv, device, True, p.node)
    elif net.auto_direct_node_routes:
        for p in peers:
            cidrs = _v4(p.pod_cidrs)
            if not cidrs:
                continue
            gw, _ = nl.route_lookup(p.ip)
            if gw is not None:
                notes.append(f"finding: peer {p.node} ({p.ip}) is not on this node's L2 segment (reached via "
                             f"{gw}): no direct route to {', '.join(cidrs)}; auto-direct-node-routes needs a shared "
                             "segment, route these PodCIDRs another way (e.g. BGP)")
                continue
            for c in cidrs:
                objs[f"route {c}"] = Route(c, p.ip, None, False, p.node)
    elif peers:
        notes.append("routing-mode native without auto-direct-node-routes: no routes to the peers' PodCIDRs are "
                     "installed; they are expected from elsewhere (e.g. the router learning PodCIDR advertisements)")
    rules = []
    if net.masquerade and own and node_ip:
        keep = [net.native_routing_cidr] if net.native_routing_cidr else sorted(
            set(own) | {c for p in peers for c in _v4(p.pod_cidrs)}, key=_net_key)
        for c in own:
            rules.append(_masquerade_rule(c, [str(ipaddress.ip_network(k, strict=False)) for k in keep], node_ip))
    bandwidth = net.bandwidth if net.bandwidth_manager else ()
    if bandwidth:
        notes.append(f"bandwidth manager: this kernel has no fq qdisc, so no EDT pacing: egress is shaped by HTB on "
                     f"{uplink} (a class per Pod, selected by nftables), ingress by TBF on the Pod's device")
    classes: dict[int, str] = {}
    for b in bandwidth:
        ip = str(ipaddress.IPv4Address(b.ip))
        minor = int(ipaddress.IPv4Address(ip)) & 0xFFFF or 0xFFFF
        if b.egress_bps:
            if minor in classes:
                notes.append(f"bandwidth: Pods {classes[minor]} and {b.pod} share HTB class c1:{minor:x}; "
                             f"{b.pod} is not shaped")
            else:
                classes[minor] = b.pod
                rules.append(_priority_rule(ip, minor, b.pod))
                objs[f"class c1:{minor:x} on {uplink}"] = HtbClass(uplink, HANDLE | minor, b.egress_bps, b.pod)
        if b.ingress_bps:
            _, dev = nl.route_lookup(ip)
            if dev in (None, uplink, device, "lo"):
                objs[f"tbf for {b.pod}"] = Tbf(None, b.ingress_bps, b.pod,
                                               f"no local device routes to Pod {b.pod} ({ip}): is it running on this node?")
            else:
                objs[f"qdisc tbf on {dev}"] = Tbf(dev, b.ingress_bps, b.pod)
    if classes:
        objs[f"qdisc htb on {uplink}"] = Htb(uplink)
    if rules:
        chains = sorted({r["chain"] for r in rules})
        objs[f"nft table {NFT_FAMILY} {NFT_TABLE}"] = NftTable(tuple(CHAINS[c] for c in chains), tuple(rules))
    return Desired(objs, device, uplink, notes)


def _net_key(c: str):
    n = ipaddress.ip_network(c, strict=False)
    return (int(n.network_address), n.prefixlen)


def _prefix(cidr: str) -> Any:
    n = ipaddress.ip_network(cidr, strict=False)
    return str(n.network_address) if n.prefixlen == 32 else {"prefix": {"addr": str(n.network_address), "len": n.prefixlen}}


def _ip(field_: str) -> dict:
    return {"payload": {"protocol": "ip", "field": field_}}


def _masquerade_rule(src: str, keep: list[str], node_ip: str) -> dict:
    """`ip saddr SRC ip daddr != K1 ... snat ip to NODE`, in the form `nft -j list` prints."""
    expr: list[dict] = [{"match": {"op": "==", "left": _ip("saddr"), "right": _prefix(src)}}]
    expr += [{"match": {"op": "!=", "left": _ip("daddr"), "right": _prefix(k)}} for k in keep]
    expr.append({"snat": {"family": "ip", "addr": str(ipaddress.IPv4Address(node_ip))}})
    return {"chain": "postrouting", "comment": f"masquerade {src}", "expr": expr}


def _priority_rule(ip: str, minor: int, pod: str) -> dict:
    return {"chain": "forward", "comment": f"bandwidth {pod}"[:127],  # nft keeps at most 128 bytes
            "expr": [{"match": {"op": "==", "left": _ip("saddr"), "right": ip}},
                     {"mangle": {"key": {"meta": {"key": "priority"}}, "value": f"c1:{minor:x}"}}]}
