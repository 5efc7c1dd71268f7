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


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    mac: str
    up: bool  # administratively (IFF_UP)
    kind: str | None  # rtnl link kind ("vxlan", "veth", ...); None for a plain device
    vxlan: Vxlan | None = None


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
                       port=data.get("IFLA_VXLAN_PORT"), learning=bool(data.get("IFLA_VXLAN_LEARNING")))
    return Link(index=msg["index"], name=msg.get("IFLA_IFNAME"), mac=(msg.get("IFLA_ADDRESS") or "").lower(),
                up=bool(msg["flags"] & IFF_UP), kind=kind, vxlan=vx)


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


# -- routes -----------------------------------------------------------------------------------
def route_replace(dst: str, gateway: str | None = None, dev: str | None = None,
                  multipath: list[str] | None = None) -> None:
    """`dst` ("a.b.c.d/len" or "default") via one gateway, several (ECMP) or straight onto `dev`."""
    spec: dict[str, Any] = {"dst": "0.0.0.0/0" if dst == "default" else dst}
    if multipath:
        spec["multipath"] = [{"gateway": g} for g in multipath]
    elif gateway:
        spec["gateway"] = gateway
    if dev:
        spec["oif"] = _index(dev)
    _call(f"replace route {dst}", _socket().route, "replace", **spec)


def route_delete(dst: str) -> bool:
    return _call(f"delete route {dst}", _socket().route, "del", dst=dst, missing_ok=True) is not None


def route_gateways(dst: str) -> list[str]:
    """The gateways of the IPv4 route to exactly `dst` in the main table (sorted)."""
    net, _, plen = ("0.0.0.0/0" if dst == "default" else dst).partition("/")
    out: list[str] = []
    for r in _call("dump routes", _socket().route, "dump", family=socket.AF_INET):
        if (r.get("RTA_TABLE") != 254 or r["dst_len"] != int(plen or 32)
                or (r.get("RTA_DST") or "0.0.0.0") != net):
            continue
        if r.get("RTA_GATEWAY"):
            out.append(r.get("RTA_GATEWAY"))
        for nh in r.get("RTA_MULTIPATH") or ():
            if nh.get("RTA_GATEWAY"):
                out.append(nh.get("RTA_GATEWAY"))
    return sorted(out)


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
