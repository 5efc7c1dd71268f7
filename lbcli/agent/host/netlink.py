"""Links, addresses, routes, the clsact qdisc and tc bpf filters over rtnetlink (pyroute2).

One IPRoute socket per process, opened on first use in the namespace the process runs in and
kept (an observe is a handful of dumps on it, no process is started). Reads return typed
values; writes raise :class:`NetlinkError` with the operation and the kernel's reason.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from typing import Any

# tc parents of the clsact qdisc (TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / _EGRESS))
INGRESS, EGRESS = 0xFFFFFFF2, 0xFFFFFFF3
_CLSACT_HANDLE = 0xFFFF0000
IFF_UP = 0x1


class NetlinkError(RuntimeError):
    def __init__(self, what: str, exc: BaseException):
        code = getattr(exc, "code", None) or getattr(exc, "errno", None)
        reason = os.strerror(code) if isinstance(code, int) and code > 0 else str(exc)
        super().__init__(f"{what}: {reason}")
        self.errno = code if isinstance(code, int) else None


@dataclass(frozen=True)
class Vxlan:
    external: bool  # collect-metadata: the tunnel key comes from the packet (bpf_skb_set_tunnel_key)
    port: int | None
    learning: bool
    vni: int | None = None
    local: str | None = None
    lower: int | None = None  # ifindex of the underlay link (IFLA_VXLAN_LINK)


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    mac: str
    up: bool  # administratively (IFF_UP)
    kind: str | None  # rtnl link kind ("vxlan", "veth", ...); None for a plain device
    vxlan: Vxlan | None = None
    xdp_prog_id: int = 0  # program attached in native (driver) XDP mode, 0 when none


@dataclass(frozen=True)
class Filter:
    """A tc filter on a clsact hook; for bpf ones, the attached program's id and the name
    given when attaching."""

    link: str
    parent: int  # INGRESS or EGRESS
    prio: int
    handle: int
    kind: str
    prog_id: int = 0
    name: str | None = None


_ipr: Any = None
_ipr_pid = 0


def _socket():
    """The process's IPRoute socket (a forked child opens its own)."""
    global _ipr, _ipr_pid
    if _ipr is None or _ipr_pid != os.getpid():
        from pyroute2 import IPRoute

        _teach_bpf_id()
        _ipr, _ipr_pid = IPRoute(), os.getpid()
    return _ipr


def close() -> None:
    global _ipr
    if _ipr is not None and _ipr_pid == os.getpid():
        _ipr.close()
    _ipr = None


def _teach_bpf_id() -> None:
    """pyroute2 0.9.7 decodes cls_bpf options only up to TCA_BPF_FLAGS: add the attributes
    the kernel dumps after it (UAPI pkt_cls.h), so a filter tells which program it runs."""
    from pyroute2.netlink.rtnl.tcmsg import sched_bpf

    names = [n for n, _ in sched_bpf.options.nla_map]
    if "TCA_BPF_ID" in names:
        return
    if len(names) != 9 or names[-1] != "TCA_BPF_FLAGS":  # 9 = TCA_BPF_FLAGS_GEN in the UAPI
        raise RuntimeError(f"pyroute2's cls_bpf attribute table is not the one this code extends: {names}")
    sched_bpf.options.nla_map = tuple(sched_bpf.options.nla_map) + (
        ("TCA_BPF_FLAGS_GEN", "uint32"), ("TCA_BPF_TAG", "hex"), ("TCA_BPF_ID", "uint32"))
    sched_bpf.options._nlmsg_base__compiled_nla = False  # recompile on next use


def _call(what: str, fn, *args: Any, missing_ok: bool = False, **kw: Any):
    from pyroute2.netlink.exceptions import NetlinkError as _PyNLError

    try:
        return fn(*args, **kw)
    except _PyNLError as exc:
        if missing_ok and exc.code in (errno.ENODEV, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ESRCH):
            return None
        raise NetlinkError(what, exc) from None


# -- links ------------------------------------------------------------------------------------
def _link(msg) -> Link:
    kind = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
    vx = None
    if kind == "vxlan":
        data = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
        if data is not None:
            vx = Vxlan(external=bool(data.get("IFLA_VXLAN_COLLECT_METADATA")),
                       port=data.get("IFLA_VXLAN_PORT"), learning=bool(data.get("IFLA_VXLAN_LEARNING")),
                       vni=data.get("IFLA_VXLAN_ID"), local=data.get("IFLA_VXLAN_LOCAL"),
                       lower=data.get("IFLA_VXLAN_LINK"))
    xdp = msg.get("IFLA_XDP")
    xdp_id = (xdp.get("IFLA_XDP_DRV_PROG_ID") or 0) if xdp is not None else 0
    return Link(index=msg["index"], name=msg.get("IFLA_IFNAME"), mac=(msg.get("IFLA_ADDRESS") or "").lower(),
                up=bool(msg["flags"] & IFF_UP), kind=kind, vxlan=vx, xdp_prog_id=xdp_id)


def links() -> list[Link]:
    return [_link(m) for m in _call("dump links", _socket().get_links)]


def link(name: str) -> Link | None:
    """The link called `name`, or None."""
    found = _call(f"get link {name}", _socket().link, "get", ifname=name, missing_ok=True)
    return _link(found[0]) if found else None


def link_delete(name: str) -> bool:
    """Delete `name`; False when there was no such link."""
    return _call(f"delete link {name}", _socket().link, "del", ifname=name, missing_ok=True) is not None


def link_up(name: str) -> None:
    _call(f"set link {name} up", _socket().link, "set", ifname=name, state="up")


def vxlan_add(name: str, port: int, mac: str | None = None, learning: bool = False) -> None:
    """An external (collect-metadata) vxlan device on UDP `port`, left down."""
    spec: dict[str, Any] = dict(ifname=name, kind="vxlan", vxlan_collect_metadata=1, vxlan_port=port,
                                vxlan_learning=int(learning))
    if mac:
        spec["address"] = mac
    _call(f"add vxlan link {name}", _socket().link, "add", **spec)


def link_kind_supported(kind: str, **attrs: Any) -> tuple[bool, str]:
    """Whether the kernel can create a `kind` link: probe by creating and deleting a throwaway
    link (the kernel has no read-only query for link kinds). Leaves nothing behind."""
    name = f"lbprb{os.getpid() % 100000}"
    try:
        _call(f"add {kind} link", _socket().link, "add", ifname=name, kind=kind, **attrs)
    except NetlinkError as exc:
        return False, str(exc)
    link_delete(name)
    return True, ""


# -- addresses --------------------------------------------------------------------------------
def _index(name: str) -> int:
    found = _call(f"look up link {name}", _socket().link_lookup, ifname=name)
    if not found:
        raise NetlinkError(f"link {name}", OSError(errno.ENODEV, "no such device"))
    return found[0]


def link_by_address(ipv4: str) -> str | None:
    """Name of the link that holds `ipv4` (the node's uplink)."""
    for a in _call("dump addresses", _socket().get_addr, family=socket.AF_INET):
        if (a.get("IFA_LOCAL") or a.get("IFA_ADDRESS")) == ipv4:
            found = _call(f"get link {a['index']}", _socket().link, "get", index=a["index"], missing_ok=True)
            return _link(found[0]).name if found else None
    return None


def addresses(dev: str) -> list[str]:
    """IPv4 addresses on `dev` as 'a.b.c.d/len' (sorted; [] when the link is missing)."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return []
    return sorted(f"{a.get('IFA_LOCAL') or a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                  for a in _call(f"dump addresses of {dev}", _socket().get_addr, family=socket.AF_INET, index=idx[0]))


def address_replace(dev: str, ipv4: str, prefixlen: int) -> None:
    _call(f"add {ipv4}/{prefixlen} on {dev}", _socket().addr, "replace", index=_index(dev),
          address=ipv4, prefixlen=prefixlen)


def address_delete(dev: str, ipv4: str, prefixlen: int) -> bool:
    """False when the address (or the link) was not there."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return False
    return _call(f"delete {ipv4}/{prefixlen} on {dev}", _socket().addr, "del", index=idx[0],
                 address=ipv4, prefixlen=prefixlen, missing_ok=True) is not None


# -- clsact + bpf filters -----------------------------------------------------------------------
def clsact_replace(dev: str) -> None:
    _call(f"add clsact qdisc on {dev}", _socket().tc, "replace", "clsact", _index(dev))


def _has_clsact(index: int) -> bool:
    return any(q.get("TCA_KIND") == "clsact"
               for q in _call("dump qdiscs", _socket().get_qdiscs, index=index))


def clsact_delete(dev: str) -> bool:
    """False when `dev` or its clsact qdisc was not there."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx or not _has_clsact(idx[0]):  # (deleting a missing clsact is EINVAL, not ENOENT)
        return False
    return _call(f"delete clsact qdisc on {dev}", _socket().tc, "del", "clsact", idx[0],
                 missing_ok=True) is not None


def _filter(dev: str, msg) -> Filter:
    opts = msg.get("TCA_OPTIONS")
    kind = msg.get("TCA_KIND")
    prog_id, name = 0, None
    if kind == "bpf" and opts is not None:
        prog_id, name = opts.get("TCA_BPF_ID") or 0, opts.get("TCA_BPF_NAME")
    return Filter(link=dev, parent=msg["parent"], prio=msg["info"] >> 16, handle=msg["handle"],
                  kind=kind, prog_id=prog_id, name=name)


def filters(dev: str, parent: int = INGRESS) -> list[Filter]:
    """The filters on one clsact hook of `dev` ([] without a clsact qdisc). The kernel dumps a
    filter's chain head (handle 0, no options) and each filter: only the filters are returned."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    return _filters_at(idx[0], dev, parent) if idx else []


def _filters_at(index: int, dev: str, parent: int) -> list[Filter]:
    try:
        msgs = _call(f"dump filters on {dev}", _socket().get_filters, index=index, parent=parent)
    except NetlinkError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT):  # no clsact qdisc: no hook to dump
            return []
        raise
    return [_filter(dev, m) for m in msgs if m["handle"]]


def all_filters(parent: int = INGRESS, known: list[Link] | None = None) -> list[Filter]:
    """The filters on that clsact hook of every link that has a clsact qdisc (`known`: the
    links, when the caller has just dumped them)."""
    names = {ln.index: ln.name for ln in (known if known is not None else links())}
    out: list[Filter] = []
    for q in _call("dump qdiscs", _socket().get_qdiscs):
        if q.get("TCA_KIND") == "clsact" and q["index"] in names:
            out.extend(_filters_at(q["index"], names[q["index"]], parent))
    return out


def bpf_filter_replace(dev: str, prog_fd: int, name: str, prio: int, handle: int, parent: int = INGRESS) -> None:
    """Attach (or swap atomically) a direct-action cls_bpf filter running `prog_fd`."""
    _call(f"attach bpf filter to {dev}", _socket().tc, "replace-filter", "bpf", _index(dev), handle=handle,
          fd=prog_fd, name=name, parent=parent, prio=prio, direct_action=True)


def filter_delete(dev: str, prio: int, handle: int, kind: str = "bpf", parent: int = INGRESS) -> bool:
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return False
    return _call(f"delete filter on {dev}", _socket().tc, "del-filter", kind, idx[0], handle=handle,
                 parent=parent, prio=prio, missing_ok=True) is not None


# -- pod networking: unicast vxlan, routes of one protocol, neighbours, fdb, qdiscs -------------
NUD_PERMANENT = 0x80
NTF_SELF = 0x2  # the entry is the vxlan device's own (no bridge master)
RTNH_F_ONLINK = 0x4
TC_H_ROOT = 0xFFFFFFFF


def vxlan_unicast_add(name: str, vni: int, port: int, local: str, lower: str, mac: str) -> None:
    """A vxlan device with one VNI on UDP `port`, outer source `local` over `lower`, no learning
    (peers are programmed as FDB entries), left down."""
    _call(f"add vxlan link {name}", _socket().link, "add", ifname=name, kind="vxlan", vxlan_id=vni,
          vxlan_port=port, vxlan_local=local, vxlan_link=_index(lower), vxlan_learning=0, address=mac)


@dataclass(frozen=True)
class RouteEntry:
    dst: str  # "a.b.c.d/len"
    gateway: str | None
    dev: str | None
    onlink: bool


def routes_of_proto(proto: int) -> list[RouteEntry]:
    """IPv4 routes in the main table installed with routing protocol `proto` (sorted by dst)."""
    names = {ln.index: ln.name for ln in links()}
    out = []
    for r in _call("dump routes", _socket().route, "dump", family=socket.AF_INET):
        if r["proto"] != proto or r.get("RTA_TABLE") != 254:
            continue
        out.append(RouteEntry(f"{r.get('RTA_DST') or '0.0.0.0'}/{r['dst_len']}", r.get("RTA_GATEWAY"),
                              names.get(r.get("RTA_OIF")), bool(r["flags"] & RTNH_F_ONLINK)))
    return sorted(out, key=lambda e: e.dst)


def route_set(dst: str, proto: int, gateway: str | None = None, dev: str | None = None, onlink: bool = False) -> None:
    spec: dict[str, Any] = {"dst": dst, "proto": proto}
    if gateway:
        spec["gateway"] = gateway
    if dev:
        spec["oif"] = _index(dev)
    if onlink:
        spec["flags"] = RTNH_F_ONLINK
    _call(f"replace route {dst}", _socket().route, "replace", **spec)


def route_del(dst: str, proto: int) -> bool:
    return _call(f"delete route {dst}", _socket().route, "del", dst=dst, proto=proto, missing_ok=True) is not None


def route_via(ip: str) -> tuple[str | None, int | None]:
    """(gateway, output ifindex) the kernel would use to reach `ip` (one request)."""
    found = _call(f"look up route to {ip}", _socket().route, "get", dst=ip)
    if not found:
        return None, None
    return found[0].get("RTA_GATEWAY"), found[0].get("RTA_OIF")


def route_lookup(ip: str) -> tuple[str | None, str | None]:
    """(gateway, device) the kernel would use to reach `ip`; gateway None on a connected segment."""
    gw, oif = route_via(ip)
    if oif is None:
        return gw, None
    dev = _call("get link", _socket().link, "get", index=oif, missing_ok=True)
    return gw, (_link(dev[0]).name if dev else None)


def neighbours(dev: str) -> dict[str, str]:
    """Permanent IPv4 neighbours on `dev`: address -> MAC ({} when the link is missing)."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return {}
    return {n.get("NDA_DST"): (n.get("NDA_LLADDR") or "").lower()
            for n in _call(f"dump neighbours of {dev}", _socket().neigh, "dump", ifindex=idx[0], family=socket.AF_INET)
            if n["state"] & NUD_PERMANENT and n["ifindex"] == idx[0]}


def neighbour_set(dev: str, ip: str, mac: str) -> None:
    _call(f"replace neighbour {ip} on {dev}", _socket().neigh, "replace", ifindex=_index(dev), dst=ip,
          lladdr=mac, state=NUD_PERMANENT)


def neighbour_del(dev: str, ip: str) -> bool:
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return False
    return _call(f"delete neighbour {ip} on {dev}", _socket().neigh, "del", ifindex=idx[0], dst=ip,
                 missing_ok=True) is not None


def fdb_entries(dev: str) -> dict[str, str]:
    """Unicast FDB entries of a vxlan device: MAC -> remote (outer destination) IPv4."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return {}
    out = {}
    for e in _call(f"dump fdb of {dev}", _socket().fdb, "dump", ifindex=idx[0]):
        if e["ifindex"] == idx[0] and e.get("NDA_DST"):
            out[(e.get("NDA_LLADDR") or "").lower()] = e.get("NDA_DST")
    return out


def fdb_set(dev: str, mac: str, remote: str) -> None:
    _call(f"replace fdb {mac} on {dev}", _socket().fdb, "replace", ifindex=_index(dev), lladdr=mac, dst=remote,
          state=NUD_PERMANENT, flags=NTF_SELF)


def fdb_del(dev: str, mac: str, remote: str) -> bool:
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return False
    return _call(f"delete fdb {mac} on {dev}", _socket().fdb, "del", ifindex=idx[0], lladdr=mac, dst=remote,
                 flags=NTF_SELF, missing_ok=True) is not None


@dataclass(frozen=True)
class Qdisc:
    dev: str
    kind: str
    handle: int
    rate_bps: int | None = None  # tbf: bits per second


def root_qdiscs(handle: int) -> list[Qdisc]:
    """Root qdiscs with `handle` on every link (what one owner created, wherever it is)."""
    names = {ln.index: ln.name for ln in links()}
    out = []
    for q in _call("dump qdiscs", _socket().get_qdiscs):
        if q["parent"] != TC_H_ROOT or q["handle"] != handle or q["index"] not in names:
            continue
        kind = q.get("TCA_KIND")
        rate = None
        if kind == "tbf":
            parms = q.get_nested("TCA_OPTIONS", "TCA_TBF_PARMS") or {}
            rate = int(parms.get("rate", 0)) * 8
        out.append(Qdisc(names[q["index"]], kind, handle, rate))
    return sorted(out, key=lambda q: q.dev)


def htb_add(dev: str, handle: int) -> None:
    """A root HTB qdisc whose unclassified traffic bypasses shaping (default class 0)."""
    _call(f"add htb qdisc on {dev}", _socket().tc, "add", "htb", _index(dev), handle, default=0)


def htb_classes(dev: str, parent: int) -> dict[int, int]:
    """classid -> rate (bits/s) of the HTB classes under `parent` on `dev`."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return {}
    out = {}
    for c in _call(f"dump classes of {dev}", _socket().get_classes, index=idx[0]):
        if c.get("TCA_KIND") == "htb" and c["handle"] & 0xFFFF0000 == parent:  # (top classes: parent ROOT)
            parms = c.get_nested("TCA_OPTIONS", "TCA_HTB_PARMS") or {}
            out[c["handle"]] = int(parms.get("rate", 0)) * 8
    return out


def htb_class_set(dev: str, parent: int, classid: int, bps: int) -> None:
    """Add or change an HTB class: rate = ceil = `bps`."""
    rate = f"{bps}bit"
    action = "change-class" if classid in htb_classes(dev, parent) else "add-class"
    _call(f"set htb class {classid:#x} on {dev}", _socket().tc, action, "htb", _index(dev), handle=classid,
          parent=parent, rate=rate, ceil=rate)


def htb_class_del(dev: str, parent: int, classid: int) -> bool:
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return False
    # kind None: pyroute2's htb/tbf parameter builders want a rate even for a delete
    return _call(f"delete htb class {classid:#x} on {dev}", _socket().tc, "del-class", None, idx[0],
                 handle=classid, parent=parent, missing_ok=True) is not None


def tbf_set(dev: str, handle: int, bps: int) -> None:
    """Root TBF at `bps` on `dev` (burst: 20 ms worth, at least 3 full frames; 50 ms queue)."""
    burst = max(bps // 8 // 50, 3 * 1514)
    _call(f"set tbf qdisc on {dev}", _socket().tc, "replace", "tbf", _index(dev), handle, rate=f"{bps}bit",
          burst=burst, latency="50ms")


def root_qdisc_del(dev: str, kind: str) -> bool:
    """Delete the root qdisc of `dev` (the kernel puts its default back); False when none."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return False
    if not any(q["parent"] == TC_H_ROOT and q.get("TCA_KIND") == kind
               for q in _call(f"dump qdiscs of {dev}", _socket().get_qdiscs, index=idx[0])):
        return False
    return _call(f"delete {kind} qdisc on {dev}", _socket().tc, "del", None, idx[0], 0, parent=TC_H_ROOT,
                 missing_ok=True) is not None


# -- XDP --------------------------------------------------------------------------------------
XDP_FLAGS_DRV_MODE = 1 << 2  # native (driver) XDP only: never the generic, skb-based fallback


def xdp_attach(dev: str, prog_fd: int) -> None:
    """Attach `prog_fd` as the native XDP program of `dev` (replacing any)."""
    _call(f"attach native XDP on {dev}", _socket().link, "set", index=_index(dev),
          xdp={"attrs": [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", XDP_FLAGS_DRV_MODE)]})


def xdp_detach(dev: str) -> bool:
    """Remove the native XDP program of `dev`; False when the link is gone."""
    idx = _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return False
    _call(f"detach XDP from {dev}", _socket().link, "set", index=idx[0],
          xdp={"attrs": [("IFLA_XDP_FD", -1), ("IFLA_XDP_FLAGS", XDP_FLAGS_DRV_MODE)]})
    return True


# -- neighbour resolution (for programs that write Ethernet headers themselves) ------------
NUD_VALID = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80  # REACHABLE STALE DELAY PROBE NOARP PERMANENT
NTF_USE = 0x01


def neighbour_macs(dev: str, index: int | None = None) -> dict[str, str]:
    """IPv4 neighbours of `dev` in a usable state (resolved, stale or static): address -> MAC.
    `index`: the link's, when the caller knows it (one request less)."""
    idx = [index] if index is not None else _call(f"look up link {dev}", _socket().link_lookup, ifname=dev)
    if not idx:
        return {}
    return {n.get("NDA_DST"): n.get("NDA_LLADDR").lower()
            for n in _call(f"dump neighbours of {dev}", _socket().neigh, "dump", ifindex=idx[0], family=socket.AF_INET)
            if n["ifindex"] == idx[0] and n["state"] & NUD_VALID and n.get("NDA_LLADDR")}


def neighbour_mac(dev: str, ip: str) -> str | None:
    """The MAC the kernel holds for `ip` on `dev` in a usable state, or None."""
    return neighbour_macs(dev).get(ip)


def neighbour_resolve(dev: str, ip: str) -> None:
    """Ask the kernel to resolve `ip` on `dev` (an ARP request, as if a packet were queued to
    it: NTF_USE); the answer shows in neighbour_mac() once it arrives."""
    from pyroute2.netlink.exceptions import NetlinkError as _PyNLError

    try:
        _socket().neigh("replace", ifindex=_index(dev), dst=ip, flags=NTF_USE, family=socket.AF_INET)
    except _PyNLError as exc:
        raise NetlinkError(f"resolve neighbour {ip} on {dev}", exc) from None
