"""What the `network` section of a plan asks of this host, as keyed objects.

Every object has a stable id ("route 10.0.2.0/24", "fdb 02:..:.. on lbpod_vxlan") and a spec
that observe() reads back in the same form, so diff is a comparison of two dicts.

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

from ..host import netlink as nl

PROTO = 0xE5  # rtnetlink routing protocol of cilium-lb's pod routes (unassigned in iproute2's rt_protos)
HANDLE = 0xC10000  # c1: root qdisc handle (HTB on the uplink, TBF on Pod devices)
NFT_FAMILY, NFT_TABLE = "inet", "cilium_lb_nat"
FORWARD = "net.ipv4.ip_forward"
CHAINS = {
    "postrouting": {"name": "postrouting", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"},
    "forward": {"name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"},
}
KIND_ORDER = ("sysctl", "device", "address", "fdb", "neighbour", "route", "nft", "htb", "class", "tbf")


class NetworkError(RuntimeError):
    pass


@dataclass
class Obj:
    kind: str
    spec: dict  # compared with what observe reads
    info: dict = field(default_factory=dict)  # what apply needs besides the spec; not compared


@dataclass
class Desired:
    objects: dict[str, Obj]
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


def desired_from_plan(plan: dict) -> Desired:
    net = plan.get("network") or {}
    node = plan.get("node") or {}
    node_ip = node.get("internalIP")
    own = _v4(node.get("podCIDRs"))
    peers = net.get("peers") or []
    objs: dict[str, Obj] = {}
    notes: list[str] = []
    for p in peers:
        v6 = [c for c in p.get("podCIDRs") or () if ":" in str(c)]
        if v6:
            notes.append(f"peer {p['node']}: IPv6 PodCIDRs {', '.join(v6)} not programmed (IPv4 only)")
    if not own and not peers:
        return Desired({}, None, None, notes)
    uplink = nl.link_by_address(node_ip) if node_ip else None
    if uplink is None:
        raise NetworkError(f"no link holds the node's internalIP {node_ip}")
    objs[f"sysctl {FORWARD}"] = Obj("sysctl", {"value": "1"}, {"path": FORWARD})
    device = None
    mode = net.get("routingMode", "tunnel")
    if mode == "tunnel":
        _check_protocol(net.get("tunnelProtocol"))
        device = net["tunnelDevice"]
        mac = net["tunnelMac"].lower()
        objs[f"device {device}"] = Obj("device", {"vni": net["tunnelVNI"], "port": net["tunnelPort"], "local": node_ip,
                                                  "lower": uplink, "mac": mac, "up": True}, {"name": device})
        vtep = vtep_of(own)
        if vtep:
            objs[f"address {vtep}/32 on {device}"] = Obj("address", {}, {"dev": device, "ip": vtep})
        for p in peers:
            pv = vtep_of(p.get("podCIDRs"))
            if pv is None:
                continue
            pmac = p["tunnelMac"].lower()
            objs[f"fdb {pmac} on {device}"] = Obj("fdb", {"remote": p["ip"]}, {"dev": device, "mac": pmac, "peer": p["node"]})
            objs[f"neighbour {pv} on {device}"] = Obj("neighbour", {"mac": pmac}, {"dev": device, "ip": pv})
            for c in _v4(p.get("podCIDRs")):
                objs[f"route {c}"] = Obj("route", {"gateway": pv, "dev": device, "onlink": True},
                                         {"dst": c, "peer": p["node"]})
    elif net.get("autoDirectNodeRoutes"):
        for p in peers:
            cidrs = _v4(p.get("podCIDRs"))
            if not cidrs:
                continue
            gw, _ = nl.route_lookup(p["ip"])
            if gw is not None:
                notes.append(f"finding: peer {p['node']} ({p['ip']}) is not on this node's L2 segment (reached via "
                             f"{gw}): no direct route to {', '.join(cidrs)}; auto-direct-node-routes needs a shared "
                             "segment, route these PodCIDRs another way (e.g. BGP)")
                continue
            for c in cidrs:
                objs[f"route {c}"] = Obj("route", {"gateway": p["ip"], "dev": None, "onlink": False},
                                         {"dst": c, "peer": p["node"]})
    elif peers:
        notes.append("routing-mode native without auto-direct-node-routes: no routes to the peers' PodCIDRs are "
                     "installed; they are expected from elsewhere (e.g. the router learning PodCIDR advertisements)")
    rules = []
    if net.get("masquerade") and own and node_ip:
        keep = [net["nativeRoutingCIDR"]] if net.get("nativeRoutingCIDR") else sorted(
            set(own) | {c for p in peers for c in _v4(p.get("podCIDRs"))}, key=_net_key)
        for c in own:
            rules.append(_masquerade_rule(c, [str(ipaddress.ip_network(k, strict=False)) for k in keep], node_ip))
    bandwidth = net.get("bandwidth") or [] if net.get("bandwidthManager") else []
    if bandwidth:
        notes.append(f"bandwidth manager: this kernel has no fq qdisc, so no EDT pacing: egress is shaped by HTB on "
                     f"{uplink} (a class per Pod, selected by nftables), ingress by TBF on the Pod's device")
    classes: dict[int, str] = {}
    for b in bandwidth:
        ip = str(ipaddress.IPv4Address(b["ip"]))
        minor = int(ipaddress.IPv4Address(ip)) & 0xFFFF or 0xFFFF
        if b.get("egressBitsPerSecond"):
            if minor in classes:
                notes.append(f"bandwidth: Pods {classes[minor]} and {b['pod']} share HTB class c1:{minor:x}; "
                             f"{b['pod']} is not shaped")
            else:
                classes[minor] = b["pod"]
                rules.append(_priority_rule(ip, minor, b["pod"]))
                objs[f"class c1:{minor:x} on {uplink}"] = Obj("class", {"bps": b["egressBitsPerSecond"]},
                                                              {"dev": uplink, "classid": HANDLE | minor, "pod": b["pod"]})
        if b.get("ingressBitsPerSecond"):
            _, dev = nl.route_lookup(ip)
            if dev in (None, uplink, device, "lo"):
                objs[f"tbf for {b['pod']}"] = Obj("tbf", {"bps": b["ingressBitsPerSecond"]}, {
                    "dev": None, "pod": b["pod"],
                    "error": f"no local device routes to Pod {b['pod']} ({ip}): is it running on this node?"})
            else:
                objs[f"qdisc tbf on {dev}"] = Obj("tbf", {"bps": b["ingressBitsPerSecond"]}, {"dev": dev, "pod": b["pod"]})
    if classes:
        objs[f"qdisc htb on {uplink}"] = Obj("htb", {}, {"dev": uplink})
    if rules:
        chains = sorted({r["chain"] for r in rules})
        objs[f"nft table {NFT_FAMILY} {NFT_TABLE}"] = Obj("nft", {"chains": [CHAINS[c] for c in chains], "rules": rules})
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
