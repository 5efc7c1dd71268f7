"""Self-written encapsulation (both modes) and the XDP flavour of the tier-1 datapath
(`--datapath xdp`): what they add to the tc datapath.

Both programs write the outer Ethernet/IPv4/UDP/VXLAN headers themselves when `lb_nh` holds the
next hop of the flow's T2 (the tc program then redirects straight to the uplink's egress; without
it, it falls back to bpf_skb_set_tunnel_key and the VXLAN device).

Objects (besides everything the tc datapath owns, which stays: the tc program is the fallback
for what XDP passes to the stack):

* the XDP program (bpf/lb_xdp.c) pinned as `<bpf-root>/<node>/xdp_<digest>`, sharing the tc
  program's maps (services, Maglev tables, flow table, counters) and adding two of its own;
* native (driver-mode) XDP attachment on the uplink;
* `lb_xcfg`: outer source address, VXLAN port, the uplink's MAC and ifindex;
* `lb_nh`: per T2 node the MAC of its next hop on the uplink, from the kernel's neighbour
  table (resolution is asked for when missing; until it is there the program passes the T2's
  flows to the stack, where the tc program carries them).

What the XDP program does not carry is refused by name before anything changes: a tier-1
service entry with fields beyond VIP/port/protocol/Maglev table (e.g. services dispatched
straight to backends), a T2 node reached through another link than the uplink.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from lbcli.agent.datapath import layout as L
from lbcli.agent.host import netlink as nl

MODES = ("tc", "xdp")
PIN_PREFIX = "xdp_"
# tier-1 service fields the XDP program carries (anything else in a service: refused)
_CARRIED = {"service", "vip", "port", "protocol", "t2Nodes", "maglevTable"}
RESOLVE_WAIT_S = 1.0


class XdpRefused(RuntimeError):
    pass


@dataclass(frozen=True)
class XdpProgramSpec:
    object: str
    digest: str


@dataclass(frozen=True)
class XdpAttachSpec:
    link: str
    digest: str = ""


@dataclass(frozen=True)
class XcfgSpec:
    saddr: str
    port: int
    link: str


@dataclass(frozen=True)
class NhSpec:
    t2: str
    via: str = ""  # next-hop address on the uplink (the T2 itself on a shared segment)
    mac: str | None = None  # None: not resolved yet (apply asks the kernel and waits briefly)
    link: str = ""


@dataclass
class XdpObserved:
    pinned: str | None = None  # digest prefix of the pinned XDP program
    prog_id: int = 0
    attached: dict[str, int] = field(default_factory=dict)  # link -> our program's id
    maps_present: bool = False
    xcfg: tuple | None = None  # (saddr, port, mac, ifindex)
    nh: dict[str, str] = field(default_factory=dict)  # T2 ip -> MAC


def refusals(plan) -> list[str]:
    """Why this plan cannot run on the XDP datapath (empty: it can)."""
    out = []
    for svc in plan.tier1.services if plan.tier1 else ():
        extra = sorted(k for k, v in svc.to_json().items() if k not in _CARRIED and v not in (None, False, [], {}))
        if extra:
            out.append(f"service {svc.service} ({svc.vip}:{svc.port}/{svc.protocol}) uses "
                       f"{', '.join(extra)}, which the XDP datapath does not carry")
        if ":" in svc.vip:
            out.append(f"service {svc.service}: IPv6 VIP {svc.vip} is not carried by the XDP datapath")
    # t1-only services (tier-1 NAT straight to the backends, bpf/lb_t1only.h) live in the tc
    # program only: the XDP program would read their backend tables as tier-2 tables
    for svc in getattr(plan.tier1, "direct_services", ()) if plan.tier1 else ():
        out.append(f"service {svc.service} ({svc.vip}:{svc.port}/{svc.protocol}) is t1-only (tier-1 NAT to "
                   "its backends), which the XDP datapath does not carry: use --datapath tc")
    return out


def ours(prog_id: int) -> bool:
    from lbcli.agent.datapath import libbpf as bpf

    return bool(prog_id) and bpf.prog_name(prog_id) == L.XDP_PROGRAM[:15]


def observe(pin_dir: Path, known: list) -> XdpObserved:
    from lbcli.agent.datapath import libbpf as bpf

    obs = XdpObserved()
    for dev in known:
        if dev.xdp_prog_id and ours(dev.xdp_prog_id):
            obs.attached[dev.name] = dev.xdp_prog_id
    if not pin_dir.is_dir():
        return obs
    progs = sorted(p.name for p in pin_dir.glob(f"{PIN_PREFIX}*"))
    if progs:
        try:
            fd = bpf.obj_get(str(pin_dir / progs[-1]))
            try:
                obs.prog_id = bpf.prog_info(fd).id
                obs.pinned = progs[-1][len(PIN_PREFIX):]
            finally:
                os.close(fd)
        except bpf.BPFError:
            pass
    if all((pin_dir / m).exists() for m in L.ENCAP_MAP_NAMES):
        obs.maps_present = True
        fd = bpf.obj_get(str(pin_dir / "lb_xcfg"))
        try:
            saddr, dport, mac, ifindex = L.XCFG.unpack(bpf.lookup(fd, struct.pack("<I", 0), L.XCFG.size))
            if saddr != bytes(4):
                obs.xcfg = (socket.inet_ntoa(saddr), struct.unpack("!H", dport)[0], _mac(mac), ifindex)
        finally:
            os.close(fd)
        fd = bpf.obj_get(str(pin_dir / "lb_nh"))
        try:
            for k, raw in bpf.dump_hash(fd, 4, L.NH.size, L.MAX_T2):
                obs.nh[socket.inet_ntoa(k)] = _mac(L.NH.unpack(raw)[0])
        finally:
            os.close(fd)
    return obs


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def changes(c, mode: str, want, obs: XdpObserved, uplink: str, uplink_link, obj: tuple[Path, str] | None,
            tc_program_changed: bool) -> None:
    """Append (through `c`, the reconciler's change maker) what XDP mode needs, or in tc mode
    what undoes an earlier XDP mode."""
    program_changed = tc_program_changed
    if mode != "xdp":
        for link in sorted(obs.attached):
            c(XdpAttachSpec(link), "delete", f"xdp {link}", "datapath mode tc")
        if obs.pinned:
            c(XdpProgramSpec("", ""), "delete", f"program {L.XDP_PROGRAM}", "datapath mode tc", vips=())
    else:
        obj_path, digest = obj
        program_changed = obs.pinned != digest[:16] or not obs.maps_present or tc_program_changed
        if program_changed:
            c(XdpProgramSpec(str(obj_path), digest), "create" if obs.pinned is None else "update",
              f"program {L.XDP_PROGRAM}", f"object {digest[:16]}", critical=True)
        for link in sorted(obs.attached):
            if link != uplink:
                c(XdpAttachSpec(link), "delete", f"xdp {link}", "not the uplink")
        if program_changed or obs.attached.get(uplink) != obs.prog_id or not obs.prog_id:
            c(XdpAttachSpec(uplink, digest), "create" if uplink not in obs.attached else "update",
              f"xdp {uplink}", "native XDP", critical=True)
    port = want.port
    if obs.xcfg != (want.uplink_ip, port, uplink_link.mac, uplink_link.index) or program_changed:
        c(XcfgSpec(want.uplink_ip, port, uplink), "update" if obs.xcfg else "create", "xdp config",
          f"saddr {want.uplink_ip} port {port} via {uplink}", vips=())
    nhs = set()
    known = nl.neighbour_macs(uplink, uplink_link.index) if want.t2 else {}
    for ip in sorted(want.t2):
        gw, oif = nl.route_via(ip)  # (the device's name only for the refusal)
        if oif != uplink_link.index and mode != "xdp":
            continue  # the tc program sends this T2's flows through the VXLAN device
        if oif != uplink_link.index:
            dev = nl.route_lookup(ip)[1]
            raise XdpRefused(f"T2 node {ip} is reached through {dev or 'no route'}, not the uplink {uplink}: "
                             "the XDP datapath sends everything back out of the uplink (use --datapath tc)")
        via = gw or ip
        nhs.add(ip)
        mac = known.get(via)
        if mac is None and ip in obs.nh:
            continue  # the kernel's entry aged out (the programs bypass it): keep the MAC we have
        if mac is None or obs.nh.get(ip) != mac:
            c(NhSpec(ip, via, mac, uplink), "update" if ip in obs.nh else "create", f"next hop {ip}",
              f"via {via} " + (mac or "(to resolve)"), vips=())
    for ip in sorted(set(obs.nh) - nhs):
        c(NhSpec(ip), "delete", f"next hop {ip}", "", vips=())


def apply(rec, ch) -> str | None:
    """Carry out one XDP change for DatapathReconciler `rec`."""
    from lbcli.agent.datapath import libbpf as bpf

    spec = ch.spec
    pin_dir: Path = rec.pin_dir
    if isinstance(spec, XdpProgramSpec):
        if ch.action == "delete":
            for p in pin_dir.glob(f"{PIN_PREFIX}*"):
                p.unlink()
            return None
        pin = pin_dir / f"{PIN_PREFIX}{spec.digest[:16]}"
        if pin.exists():
            pin.unlink()
        maps = {m: str(pin_dir / m) for m in L.XDP_MAP_NAMES}
        bpf.load_object(spec.object, maps, L.XDP_PROGRAM, str(pin))
    elif isinstance(spec, XdpAttachSpec):
        if ch.action == "delete":
            nl.xdp_detach(spec.link)
            return None
        pin = pin_dir / f"{PIN_PREFIX}{spec.digest[:16]}"
        fd = bpf.obj_get(str(pin))
        try:
            nl.xdp_attach(spec.link, fd)
        except nl.NetlinkError as exc:
            raise RuntimeError(f"{exc}: native XDP cannot attach on {spec.link} (on veth the MTU must fit a "
                               "page or the program use frags; the driver must support XDP); "
                               "use --datapath tc, the default") from None
        finally:
            os.close(fd)
        for old in pin_dir.glob(f"{PIN_PREFIX}*"):
            if old != pin:
                old.unlink()
    elif isinstance(spec, XcfgSpec):
        dev = nl.link(spec.link)
        if dev is None:
            raise RuntimeError(f"uplink {spec.link} missing")
        fd = bpf.obj_get(str(pin_dir / "lb_xcfg"))
        try:
            bpf.update(fd, struct.pack("<I", 0), L.XCFG.pack(socket.inet_aton(spec.saddr), struct.pack("!H", spec.port),
                                                                 bytes.fromhex(dev.mac.replace(":", "")), dev.index))
        finally:
            os.close(fd)
    elif isinstance(spec, NhSpec):
        fd = bpf.obj_get(str(pin_dir / "lb_nh"))
        try:
            if ch.action == "delete":
                bpf.delete(fd, socket.inet_aton(spec.t2))
                return None
            mac = spec.mac or _resolve(spec.link, spec.via)
            if mac is None:
                raise RuntimeError(f"next hop {spec.via} towards T2 {spec.t2} does not answer ARP on {spec.link} "
                                   "yet; the tc program carries its flows until a later apply finds it")
            bpf.update(fd, socket.inet_aton(spec.t2), L.NH.pack(bytes.fromhex(mac.replace(":", "")), 0))
            return None if spec.mac else f"resolved {mac}"
        finally:
            os.close(fd)
    else:
        raise TypeError(f"datapath: unknown change {ch.object}")
    return None


def _resolve(link: str, ip: str) -> str | None:
    nl.neighbour_resolve(link, ip)
    deadline = time.monotonic() + RESOLVE_WAIT_S
    while time.monotonic() < deadline:  # bounded: ARP answers within milliseconds on a segment
        mac = nl.neighbour_mac(link, ip)
        if mac:
            return mac
        time.sleep(0.02)
    return None
