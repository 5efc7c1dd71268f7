"""Tier-1 datapath reconciler: the plan's `tier1` section onto the node.

Objects it owns (in the network namespace it runs in):

* the external (collect-metadata) tunnel device `tier1.dispatch.device`; on a node in both
  tiers (`t1-t2`) whose dispatch ports are the same, the kernel allows only one external VXLAN
  device per UDP port, so tier 1 sends through the tier-2 receive device (`shared_device`):
  either component creates it with the receive side's attributes (MAC, rp_filter off), the
  receive side owns it (records and removes it), and the datapath only points its config at it;
* the BPF program and maps, pinned under `<bpf-root>/<node>/`;
* the clsact qdisc and the direct-action filter (prio 1, handle 1) on the uplink, the link that
  holds `node.internalIP`;
* map contents: config, T2 nodes, Maglev tables (double-buffered), services.

`diff()` takes the whole plan and raises :class:`DatapathError` for what the kernel or this
datapath cannot do (e.g. a geneve dispatch here); nothing has changed at that point.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbcli.agent import state as st
from lbcli.agent.datapath import pins, xdp
from lbcli.agent.host import netlink as nl
from lbcli.agent.datapath import layout as L
from lbcli.agent.reconciler import Change, ComponentResult, NodeContext, record_step, reset_or_raise
from lbcli.plan.types import MaglevTable, NodePlan

COMPONENT = "datapath"
# Same seed on every T1 node: a flow re-routed to another T1 by ECMP picks the same T2.
HASH_SEED = 0x6C62636C
FILTER_PRIO, FILTER_HANDLE = 1, 1
SUPPORTED_DISPATCH = ("vxlan",)
# How the kernel is probed for dispatch modes this datapath does not implement (yet).
_PROBE_ARGS = {
    "geneve": ("GENEVE", {"geneve_id": 1, "geneve_remote": "127.0.0.1"}),
    "ipip": ("IPIP", {"ipip_collect_metadata": True}),
    "gre": ("GRE", {"gre_collect_metadata": True}),
}

_PHASES = ("device", "program", "xprogram", "filter", "xattach", "config", "xcfg", "nat", "t2", "nh", "backend",
           "table", "service")
STATE_KIND = "datapath"
_STATE_SHAPE = st.shape(device=(str, type(None)), uplink=(str, type(None)), services=dict, tables=dict)


class DatapathError(RuntimeError):
    """The plan asks for something this node cannot do; nothing was changed."""


SvcKey = tuple[str, int, str]


class TableSpec:
    """A desired Maglev table; its content (u32 T2 addresses) is decoded only when written."""

    def __init__(self, plan_table: MaglevTable, t2_ips: dict[str, str], content: bytes | None = None):
        self.plan_table = plan_table
        self.t2_ips = t2_ips
        self.size = plan_table.size
        self._content = content

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = table_content(self.plan_table, self.t2_ips)
        return self._content


def table_key(plan_table: MaglevTable, t2_ips: dict[str, str], _resolved: dict | None = None) -> str:
    """Identity of a plan table's translated content: the plan's sha256 of the raw table (the
    plan is trusted to carry the right one) with the T2 addresses its indices resolve to.
    (`_resolved` caches that second part per T2 list, and each T2's part, across the tables of
    one plan.)"""
    names = plan_table.t2_nodes
    cache = _resolved if _resolved is not None else {}
    resolved = cache.get(names)
    if resolved is None:
        pairs = cache.get(None)
        if pairs is None:
            pairs = cache[None] = {n: f"{n}={ip}" for n, ip in t2_ips.items()}
        resolved = cache[names] = ",".join([pairs.get(n) or f"{n}=None" for n in names])
    return hashlib.sha256(f"{plan_table.sha256}|{plan_table.size}|{resolved}".encode()).hexdigest()


def table_identity(key: str) -> bytes:
    """What lb_tmeta records for a table (16 bytes) and the diff matches tables by: from its
    table_key, which names the content exactly (the plan's sha256 of the raw table, its size,
    the addresses its indices resolve to). Observe trusts the recorded identity only while the
    live buffers have the check recorded with it (maps.TableReader)."""
    return bytes.fromhex(key)[:16]


@dataclass
class Desired:
    uplink_ip: str
    device: str
    vni: int
    port: int
    t2: dict[str, str]  # ip -> tunnel MAC
    tables: dict[bytes, TableSpec]  # table identity -> table
    services: dict[SvcKey, tuple[str, bytes]]  # key -> (service name, table identity)
    table_digests: dict[str, str] = field(default_factory=dict)  # table_key -> identity hex (the record's)
    # t1-only services (direct_desired): backend id -> (ip, port), service flags, NAT source
    backends: dict[int, tuple[str, int]] = field(default_factory=dict)
    flags: dict[SvcKey, int] = field(default_factory=dict)
    nat: tuple[str, int, int] | None = None  # (snat ip, port min, port count); None: no t1-only service
    # set when the device is the tier-2 receive device (shared_device): its MAC, and the
    # receive side owns it (the datapath creates it only when it runs first, never records it)
    mac: str | None = None

    @property
    def owned(self) -> bool:
        return self.mac is None


@dataclass
class Observed:
    pinned_program: str | None = None  # digest prefix of the pinned program
    program_id: int = 0
    maps_present: bool = False
    vxlan: dict[str, dict] = field(default_factory=dict)  # name -> {ifindex, mac, external, port, up}
    links: dict[str, Any] = field(default_factory=dict)  # name -> nl.Link, as observed
    filters: dict[str, int] = field(default_factory=dict)  # link -> attached prog id (ours)
    foreign: dict[str, str] = field(default_factory=dict)  # link -> kind of another filter at our prio
    cfg: dict | None = None
    t2: dict[str, str] = field(default_factory=dict)
    services: dict[SvcKey, tuple[int, int]] = field(default_factory=dict)
    tables: dict[int, Any] = field(default_factory=dict)  # k -> maps.TableState
    state: dict = field(default_factory=dict)  # last recorded by this reconciler
    backends: dict[int, tuple[str, int]] = field(default_factory=dict)  # t1-only: id -> (ip, port)
    svc_flags: dict[SvcKey, int] = field(default_factory=dict)
    natcfg: tuple[str, int, int] | None = None
    xdp: Any = None  # xdp.XdpObserved


def _vips(keys) -> tuple[str, ...]:
    return tuple(sorted({k[0] for k in keys}))


def svc_id(key: SvcKey) -> str:
    return f"{key[0]}:{key[1]}/{key[2]}"


def _ip_u32_bytes(ip: str) -> bytes:
    return socket.inet_aton(ip)


try:  # the C accelerator (optional: setup.py build_ext)
    from lbcli.model._maglev import table_addrs as _table_addrs
except ImportError:
    _table_addrs = None


def table_content(table: MaglevTable, t2_ips: dict[str, str]) -> bytes:
    """A plan Maglev table (u16 LE indices into its t2Nodes) as u32 T2 addresses."""
    size = table.size
    names = list(table.t2_nodes)
    try:
        addrs = [_ip_u32_bytes(t2_ips[n]) for n in names]
    except (KeyError, TypeError, OSError) as exc:
        raise DatapathError(f"maglev table {table.id}: T2 node {exc} not in tier1.t2Nodes with an address") from exc
    if _table_addrs is not None and addrs:  # decode and translate in one C pass (None: let Python say why)
        out = _table_addrs(table.table, size, b"".join(addrs))
        if out is not None:
            return out
    raw = base64.b64decode(table.table)
    if len(raw) != 2 * size:
        raise DatapathError(f"maglev table {table.id}: {len(raw)} bytes, expected {2 * size}")
    out = bytearray(4 * size)
    if len(names) <= 256 and raw[1::2] == bytes(size):
        low = raw[0::2]
        if low.translate(None, bytes(range(len(names)))):  # bytes left = indices out of range
            raise DatapathError(f"maglev table {table.id}: index out of range")
        for b in range(4):  # per byte of the address: one C-speed translate + strided store
            trans = bytes(a[b] for a in addrs) + bytes(256 - len(addrs))
            out[b::4] = low.translate(trans)
        return bytes(out)
    idx = memoryview(raw).cast("H")
    for s in range(size):
        if idx[s] >= len(names):
            raise DatapathError(f"maglev table {table.id}: index out of range")
        out[4 * s:4 * s + 4] = addrs[idx[s]]
    return bytes(out)


def check_dispatch(mode: str) -> None:
    """Raise DatapathError naming the missing feature when `mode` cannot be used here."""
    if mode in SUPPORTED_DISPATCH:
        return
    feature, args = _PROBE_ARGS.get(mode, (mode.upper(), {}))
    if mode in _PROBE_ARGS:
        ok, err = nl.link_kind_supported(mode, **args)
        if not ok:
            raise DatapathError(
                f"dispatch mode {mode!r} needs {feature} tunnels, which this kernel lacks ({err}); "
                f"use dispatch mode 'vxlan'"
            )
    raise DatapathError(f"dispatch mode {mode!r} is not supported by the tier-1 datapath (supported: vxlan)")


def shared_device(plan: NodePlan):
    """The tier-2 dispatch (`T2Dispatch`) whose device tier 1 sends through, on a node in both
    tiers with one dispatch port; else None (tier 1 has a device of its own)."""
    t1, t2 = plan.tier1, plan.tier2
    if t1 is None or t2 is None or t2.dispatch.port != t1.dispatch.port:
        return None
    if t2.dispatch.mode != t1.dispatch.mode:
        raise DatapathError(f"node {plan.node.name} is in both tiers with dispatch modes {t1.dispatch.mode!r} "
                            f"and {t2.dispatch.mode!r} on one UDP port {t1.dispatch.port}")
    return t2.dispatch


def desired_from_plan(plan: NodePlan) -> Desired | None:
    """The datapath's desired state, or None when the node has no tier-1 role. No table is
    decoded here: a table is known by its identity (table_identity), its content is decoded
    only when it is written."""
    t1 = plan.tier1
    if t1 is None:
        return None
    dispatch = t1.dispatch
    check_dispatch(dispatch.mode)
    shared = shared_device(plan)
    t2_nodes = {n.name: n for n in t1.t2_nodes}
    t2_ips = {name: n.ip for name, n in t2_nodes.items()}
    plan_tables = {tbl.id: tbl for tbl in t1.maglev_tables}  # every service's table exists (plan types)
    tables_by_id: dict[int, tuple[bytes, TableSpec]] = {}
    used: set[str] = set()
    digests: dict[str, str] = {}
    resolved: dict[tuple, str] = {}
    tables: dict[bytes, TableSpec] = {}
    services: dict[SvcKey, tuple[str, bytes]] = {}
    for svc in t1.services:
        tid = svc.maglev_table
        if tid not in tables_by_id:
            tbl = plan_tables[tid]
            key = table_key(tbl, t2_ips, resolved)
            spec = TableSpec(tbl, t2_ips)
            digest = table_identity(key)
            digests[key] = digest.hex()
            tables_by_id[tid] = (digest, spec)
            used.update(tbl.t2_nodes)
        digest, spec = tables_by_id[tid]
        tables[digest] = spec
        services[(svc.vip, svc.port, svc.protocol)] = (svc.service, digest)
    t2_addrs = {t2_nodes[n].ip: t2_nodes[n].tunnel_mac.lower() for n in sorted(used)}
    want = Desired(
        uplink_ip=plan.node.internal_ip,
        device=shared.device if shared else dispatch.device,
        vni=dispatch.vni,
        port=dispatch.port,
        mac=shared.tunnel_mac.lower() if shared else None,
        t2=t2_addrs,
        tables=tables,
        services=services,
        table_digests=digests,
    )
    direct_desired(plan, want)
    want.table_digests = dict(sorted(want.table_digests.items()))
    return want


class BackendTableSpec:
    """A desired t1-only Maglev table: its content is backend ids (u32, host order), what
    lb_t1only.h looks up in lb_be."""

    def __init__(self, plan_table, content: bytes | None = None):
        self.plan_table = plan_table
        self.size = plan_table.size
        self._content = content

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = backend_table_content(self.plan_table)
        return self._content


def backend_table_content(table) -> bytes:
    """A plan backend table (u16 LE indices into its backends) as u32 backend ids."""
    from array import array

    raw = base64.b64decode(table.table)
    if len(raw) != 2 * table.size:
        raise DatapathError(f"backend table {table.id}: {len(raw)} bytes, expected {2 * table.size}")
    idx = array("H", raw)
    if idx.itemsize != 2 or (idx and max(idx) >= len(table.backends)):
        raise DatapathError(f"backend table {table.id}: index out of range")
    ids = table.backends
    return array("I", [ids[i] for i in idx]).tobytes()


def direct_desired(plan: NodePlan, want: Desired) -> None:
    """Add the plan's t1-only services (tier1.directServices) to `want`: their backend tables
    beside the T2 tables (same double-buffered machinery), the backends, the service flags and
    the NAT source (this node's address; L.NAT_PORT_MIN/COUNT). Nothing when there are none."""
    t1 = plan.tier1
    if not t1.direct_services:
        return
    by_id = {t.id: t for t in t1.backend_tables}
    digests: dict[int, bytes] = {}
    for svc in t1.direct_services:
        key = (svc.vip, svc.port, svc.protocol)
        if key in want.services:
            raise DatapathError(f"service {svc_id(key)} is both t1-only and two-tier in the plan")
        tid = svc.backend_table
        if tid not in digests:
            tbl = by_id[tid]
            tkey = hashlib.sha256(f"backends|{tbl.sha256}|{tbl.size}|{tbl.backends}".encode()).hexdigest()
            spec = BackendTableSpec(tbl)
            digests[tid] = table_identity(tkey)
            want.table_digests[tkey] = digests[tid].hex()
            want.tables[digests[tid]] = spec
        want.services[key] = (svc.service, digests[tid])
        want.flags[key] = L.SVC_F_T1_ONLY | (L.SVC_F_HASH_SADDR if svc.hash == "sourceIP" else 0)
    want.backends = {b.id: (b.ip, b.port) for b in t1.backends}
    want.nat = (plan.node.internal_ip, L.NAT_PORT_MIN, L.NAT_PORT_COUNT)


# -- the objects it changes (Change.spec) ----------------------------------------------------
@dataclass(frozen=True)
class Teardown:
    """The node has no tier-1 role: undo everything (reset)."""


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    port: int = 0
    mac: str | None = None  # the shared tier-2 device: its MAC (and rp_filter off, as receive sets it)


@dataclass(frozen=True)
class ProgramSpec:
    object: str
    digest: str


@dataclass(frozen=True)
class FilterSpec:
    link: str
    digest: str = ""


@dataclass(frozen=True)
class ConfigSpec:
    device: str
    vni: int
    src_link: str = ""  # whose MAC is the inner source (default: the device's)


@dataclass(frozen=True)
class T2Spec:
    ip: str
    mac: str = ""


@dataclass(frozen=True)
class TableChange:
    k: int
    spec: TableSpec | None = None
    digest: bytes = b""  # its identity (table_identity)


@dataclass(frozen=True)
class ServiceSpec:
    key: SvcKey
    table: int = 0
    id: int = 0
    new: bool = False
    name: str = ""
    flags: int = 0  # L.SVC_F_*: t1-only services


@dataclass(frozen=True)
class BackendSpec:
    """A backend of t1-only services in lb_be."""
    id: int
    ip: str = ""
    port: int = 0


@dataclass(frozen=True)
class NatSpec:
    """The NAT source of t1-only services (lb_natcfg); ip "0.0.0.0" turns replies off."""
    ip: str
    port_min: int = 0
    port_count: int = 0


@dataclass(frozen=True)
class RecordSpec:
    device: str | None
    uplink: str
    services: dict
    tables: dict


def _rank(ch: Change) -> int:
    """Apply order: device, program, filter, config, T2 nodes, tables, services, then the
    deletes of services, tables and T2 nodes (nothing still points at what is deleted)."""
    kind = _KIND[type(ch.spec)]
    if ch.action == "delete" and kind in ("service", "table", "t2", "backend"):
        return len(_PHASES) + ("service", "table", "t2", "backend").index(kind)
    return _PHASES.index(kind) if kind in _PHASES else len(_PHASES) + 4


_KIND = {Teardown: "teardown", DeviceSpec: "device", ProgramSpec: "program", FilterSpec: "filter",
         ConfigSpec: "config", T2Spec: "t2", TableChange: "table", ServiceSpec: "service", RecordSpec: "state",
         BackendSpec: "backend", NatSpec: "nat",
         xdp.XdpProgramSpec: "xprogram", xdp.XdpAttachSpec: "xattach", xdp.XcfgSpec: "xcfg", xdp.NhSpec: "nh"}


_TABLE_READERS: dict[str, Any] = {}  # pin dir -> maps.TableReader


class DatapathReconciler:
    name = COMPONENT

    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        self.pin_dir = Path(ctx.bpf_root) / ctx.node
        self.state_file = Path(ctx.state_dir) / ctx.node / "datapath.json"  # several nodes may share a state dir
        self.cache_dir = Path(ctx.state_dir) / "bpf-cache"
        self._object: tuple[Path, str] | None = None
        self._xdp_object: tuple[Path, str] | None = None
        self._open_maps = None  # PinnedMaps held open while changes are applied
        self._tables = None  # maps.TableReader kept across observes (mappings open)
        self.notes: list[str] = []

    # -- state ------------------------------------------------------------------------------
    def _state(self) -> dict:
        """The last recorded state; when neither copy is sound, what it records is observed
        on the host again (the tunnel device from the pinned config map, the uplink from the
        attached filter); service names and the table cache are rewritten by the next apply."""
        try:
            return st.load(self.state_file, STATE_KIND, _STATE_SHAPE, self.notes,
                           repair=not self.ctx.dry_run) or {}
        except st.StateCorrupt as e:
            rebuilt = self._state_from_host()
            self.notes.append(f"{e}; rebuilt from the host: "
                              + (", ".join(f"{k} {v}" for k, v in sorted(rebuilt.items())) or "nothing of ours found"))
            if not self.ctx.dry_run:
                st.write(self.state_file, STATE_KIND, rebuilt)
            return rebuilt

    def _state_from_host(self) -> dict:
        out: dict[str, Any] = {}
        ifindex = None
        if all((self.pin_dir / m).exists() for m in L.MAP_NAMES):
            from lbcli.agent.datapath.maps import PinnedMaps

            try:
                with PinnedMaps(self.pin_dir) as maps:
                    ifindex = (maps.read_cfg() or {}).get("tun_ifindex")
            except Exception:  # unreadable pins: nothing to learn from them
                ifindex = None
        known = nl.links()
        receive_dev = self._receive_device()
        for dev in known:
            if ifindex and dev.index == ifindex and dev.name != receive_dev:  # (a shared one is receive's)
                out["device"] = dev.name
        for flt in nl.all_filters(known=known):
            if _ours(flt):
                out["uplink"] = flt.link
        return out

    def _receive_device(self) -> str | None:
        """The tunnel device the tier-2 receive side records (lbcli/agent/receive.py)."""
        try:
            rec = st.load(Path(self.ctx.state_dir) / self.ctx.node / "receive.json", "receive",
                          st.shape(device=(str, type(None))), [], repair=False) or {}
        except st.StateCorrupt:
            return None
        return rec.get("device")

    # -- build ------------------------------------------------------------------------------
    def object(self, xdp_main: bool = False) -> tuple[Path, str]:
        from lbcli.agent.datapath.build import XDP_MAIN, object_path

        if xdp_main:
            if self._xdp_object is None:
                self._xdp_object = object_path(self.cache_dir, XDP_MAIN)
            return self._xdp_object
        if self._object is None:
            self._object = object_path(self.cache_dir)
        return self._object

    def _prog_pin(self, digest: str) -> Path:
        return self.pin_dir / f"prog_{digest[:16]}"

    # -- desired / observe ------------------------------------------------------------------
    def desired(self, plan: NodePlan, secrets: Any = None) -> NodePlan:
        """The plan itself (diff turns it into a :class:`Desired`)."""
        return plan

    def observe(self) -> Observed:
        from lbcli.agent.datapath import libbpf as bpf
        from lbcli.agent.datapath.maps import PinnedMaps, TableReader

        obs = Observed(state=self._state())
        if self._tables is None:  # one per pin directory for the process's life (the agent makes a
            # reconciler per run; its observes should not map every buffer again)
            self._tables = _TABLE_READERS.setdefault(str(self.pin_dir), TableReader())
        known = nl.links()
        obs.links = {dev.name: dev for dev in known}
        for dev in known:
            if dev.vxlan is not None:
                obs.vxlan[dev.name] = {"ifindex": dev.index, "mac": dev.mac, "external": dev.vxlan.external,
                                       "port": dev.vxlan.port, "up": dev.up}
        for flt in nl.all_filters(known=known):
            if flt.prio != FILTER_PRIO:
                continue
            if _ours(flt):
                obs.filters[flt.link] = flt.prog_id
            else:
                obs.foreign[flt.link] = flt.kind
        if self.pin_dir.is_dir():
            progs = sorted(p.name for p in self.pin_dir.glob("prog_*"))
            if progs:
                obs.pinned_program = progs[-1][len("prog_"):]
                try:
                    fd = bpf.obj_get(str(self.pin_dir / progs[-1]))
                    try:
                        obs.program_id = bpf.prog_info(fd).id
                    finally:
                        os.close(fd)
                except bpf.BPFError:
                    obs.pinned_program = None
            if all((self.pin_dir / m).exists() for m in L.MAP_NAMES + L.ENCAP_MAP_NAMES):
                with PinnedMaps(self.pin_dir) as maps:
                    obs.maps_present = True
                    obs.cfg = maps.read_cfg()
                    obs.t2 = maps.read_t2()
                    entries = maps.read_service_entries()
                    obs.services = {k: (t, i) for k, (t, i, _) in entries.items()}
                    obs.svc_flags = {k: f for k, (_, _, f) in entries.items() if f}
                    obs.tables = maps.read_tables(self._tables)
                    observe_direct(maps, obs)
        if not obs.maps_present:
            self._tables.close()  # (reset, or pins removed by hand: the old buffers may go)
        obs.xdp = xdp.observe(self.pin_dir, known)
        return obs

    # -- diff -------------------------------------------------------------------------------
    def diff(self, desired: Any, observed: Observed) -> list[Change]:
        """`desired`: the node plan or a :class:`Desired`; the changes in apply order. Raises
        DatapathError."""
        mode = self.ctx.datapath
        if mode not in xdp.MODES:
            raise DatapathError(f"datapath {mode!r} is not one of {', '.join(xdp.MODES)}")
        if isinstance(desired, NodePlan):
            if mode == "xdp" and desired.tier1 is not None and (why := xdp.refusals(desired)):
                raise DatapathError("--datapath xdp refused: " + "; ".join(why) + " (use --datapath tc)")
            want = desired_from_plan(desired)
        else:
            want = desired
        if want is None:
            return self._teardown_changes(observed)
        changes: list[Change] = []

        # vips: what a failure of the object keeps from being served (None: everything)
        def c(spec, action, obj, detail="", vips=None, batch=None, critical=False):
            changes.append(Change(COMPONENT, action, obj, detail, spec, vips, batch, critical))

        # device
        dev = observed.vxlan.get(want.device)
        old_dev = observed.state.get("device")
        if old_dev and old_dev != want.device and old_dev in observed.vxlan:
            c(DeviceSpec(old_dev), "delete", f"device {old_dev}",
              "renamed in plan" if want.owned else "tier 1 sends through the tier-2 device")
        device_changed = dev is None or not dev["external"] or dev["port"] != want.port or not dev["up"]
        if not want.owned and dev is not None:  # shared: the receive side's attributes too
            device_changed = device_changed or dev["mac"] != want.mac or _rp_filter(want.device) != "0"
        spec = DeviceSpec(want.device, want.port, want.mac)
        shared = "" if want.owned else " (shared with tier 2)"
        if dev is None:
            c(spec, "create", f"device {want.device}", f"vxlan external dstport {want.port}{shared}", critical=True)
        elif device_changed:
            c(spec, "update", f"device {want.device}",
              f"external={dev['external']} port={dev['port']} up={dev['up']}{shared}", critical=True)

        # program and maps
        obj_path, digest = self.object()
        program_changed = False
        if observed.pinned_program != digest[:16] or not observed.maps_present:
            program_changed = True
            c(ProgramSpec(str(obj_path), digest), "create" if observed.pinned_program is None else "update",
              f"program {L.PROGRAM}", f"object {digest[:16]}", critical=True)

        # filter on the uplink
        uplink = nl.link_by_address(want.uplink_ip)
        if uplink is None:
            raise DatapathError(f"no link holds the node's internalIP {want.uplink_ip} in this namespace")
        if uplink in observed.foreign:  # checked here so a dry run reports it too
            raise DatapathError(f"tc ingress priority {FILTER_PRIO} on {uplink} is taken by a "
                                f"{observed.foreign[uplink]} filter that is not cilium-lb's: the tier-1 "
                                "program cannot be attached (remove that filter)")
        if self.pin_dir.exists() and not self.pin_dir.is_dir():
            raise DatapathError(f"{self.pin_dir} exists and is not a directory: the tier-1 program "
                                "and maps cannot be pinned there")
        for link in sorted(observed.filters):
            if link != uplink:
                c(FilterSpec(link), "delete", f"filter {link} ingress", "not the uplink")
        if program_changed or observed.filters.get(uplink) != observed.program_id or not observed.program_id:
            c(FilterSpec(uplink, digest), "create" if uplink not in observed.filters else "update",
              f"filter {uplink} ingress", "tc clsact ingress bpf da")
        try:  # headers written by the programs themselves; XDP on top (the tc program stays)
            xdp.changes(c, mode, want, observed.xdp or xdp.XdpObserved(), uplink,
                        observed.links.get(uplink) or nl.link(uplink),
                        self.object(xdp_main=True) if mode == "xdp" else None, program_changed)
        except xdp.XdpRefused as exc:
            raise DatapathError(str(exc)) from None

        # config. The inner source MAC is the device's own, except on a shared device: a packet
        # tier 1 dispatches to this node itself comes back in on that device, and vxlan drops
        # one whose source is the device's MAC as a loop; there it is the uplink's.
        cfg = observed.cfg
        src_link = want.device if want.owned else uplink
        if want.owned:
            src_mac = dev["mac"] if dev is not None else None
        else:
            src_mac = _mac(uplink)
        if (device_changed or cfg is None or dev is None or cfg["tun_ifindex"] != dev["ifindex"]
                or cfg["vni"] != want.vni or cfg["hash_seed"] != HASH_SEED or cfg["src_mac"] != src_mac):
            c(ConfigSpec(want.device, want.vni, src_link), "update" if cfg and cfg["tun_ifindex"] else "create",
              "config", f"device {want.device} vni {want.vni}")

        # T2 nodes
        for ip, mac in sorted(want.t2.items()):
            if observed.t2.get(ip) != mac:
                c(T2Spec(ip, mac), "create" if ip not in observed.t2 else "update", f"t2 {ip}", f"mac {mac}")

        direct_changes(want, observed, c)

        # Maglev tables: reuse exact content, else update in place a table only wanted services
        # use (slots written = the difference), else a new table
        wanters: dict[bytes, set[SvcKey]] = {}
        for key, (_, d) in want.services.items():
            wanters.setdefault(d, set()).add(key)
        users: dict[int, set[SvcKey]] = {}
        for key, (k, _) in observed.services.items():
            users.setdefault(k, set()).add(key)
        assign: dict[bytes, int] = {}
        taken: set[int] = set()
        for k, ts in sorted(observed.tables.items()):
            if ts.digest in want.tables and ts.digest not in assign:
                assign[ts.digest] = k
                taken.add(k)
        updates: dict[bytes, int] = {}
        unused = sorted(k for k in observed.tables if not users.get(k))

        def fits(k: int, size: int) -> bool:
            ts = observed.tables[k]
            return k not in taken and ts.size == size and all(ts.buffers)

        for d in sorted(set(want.tables) - set(assign)):
            size = want.tables[d].size
            best, best_overlap = None, 0
            # the tables its services use now (only there can the overlap be > 0), then an unused one
            for k in sorted({observed.services[key][0] for key in wanters[d] if key in observed.services}):
                u = users.get(k, set())
                if k in observed.tables and fits(k, size) and u <= wanters[d] and len(u) > best_overlap:
                    best, best_overlap = k, len(u)
            if best is None:
                best = next((k for k in unused if fits(k, size)), None)
            if best is not None:
                assign[d], updates[d] = best, best
                taken.add(best)
        free = (k for k in range(L.MAX_TABLES) if k not in observed.tables and k not in taken)
        for d in sorted(set(want.tables) - set(assign)):
            k = next(free, None)
            if k is None:
                raise DatapathError(f"more than {L.MAX_TABLES} distinct Maglev tables")
            assign[d] = k
            c(TableChange(k, want.tables[d], d), "create", f"table {k}", f"size {want.tables[d].size}",
              vips=_vips(wanters[d]), batch="tables created")
        for d, k in sorted(updates.items(), key=lambda kv: kv[1]):
            c(TableChange(k, want.tables[d], d), "update", f"table {k}", "", vips=_vips(wanters[d]))

        # services
        used_ids = {sid for _, sid in observed.services.values()}
        ids = (i for i in range(L.MAX_SERVICES) if i not in used_ids)
        for key in sorted(want.services):
            name, d = want.services[key]
            k = assign[d]
            if key not in observed.services:
                sid = next(ids, None)
                if sid is None:
                    raise DatapathError(f"more than {L.MAX_SERVICES} services")
                c(ServiceSpec(key, k, sid, True, name, want.flags.get(key, 0)), "create", f"service {svc_id(key)}",
                  f"{name} table {k}" + (" t1-only" if want.flags.get(key) else ""), vips=(key[0],),
                  batch="services put")
            elif observed.services[key][0] != k or observed.svc_flags.get(key, 0) != want.flags.get(key, 0):
                c(ServiceSpec(key, k, observed.services[key][1], False, name, want.flags.get(key, 0)), "update",
                  f"service {svc_id(key)}", f"{name} table {k}", vips=(key[0],), batch="services put")
        for key in sorted(set(observed.services) - set(want.services)):
            c(ServiceSpec(key), "delete", f"service {svc_id(key)}", "", vips=(key[0],))
        for k in sorted(set(observed.tables) - set(assign.values())):  # unused: serving is unaffected
            c(TableChange(k), "delete", f"table {k}", "", vips=(), batch="tables deleted")
        for ip in sorted(set(observed.t2) - set(want.t2)):
            c(T2Spec(ip), "delete", f"t2 {ip}", "", vips=())
        for bid in sorted(set(observed.backends) - set(want.backends)):
            c(BackendSpec(bid), "delete", f"backend {bid}", "", vips=())
        names = {svc_id(k): v[0] for k, v in want.services.items()}
        recorded = want.device if want.owned else None  # the shared device is the receive side's
        if observed.state.get("services") != names or observed.state.get("device") != recorded \
                or observed.state.get("uplink") != uplink:
            c(RecordSpec(recorded, uplink, names, want.table_digests), "update", "state", "last applied",
              vips=())  # the record, not the datapath: serving is unaffected
        return sorted(changes, key=_rank)

    def _teardown_changes(self, observed: Observed) -> list[Change]:
        x = observed.xdp or xdp.XdpObserved()
        if not (observed.filters or observed.pinned_program or observed.maps_present
                or observed.state.get("device") in observed.vxlan or x.attached or x.pinned):
            return []
        return [Change(COMPONENT, "delete", "datapath", "node has no tier-1 role", Teardown())]

    # -- apply ------------------------------------------------------------------------------
    def prepare(self, changes: list[Change]) -> None:
        """Record the device and uplink names first, so an interrupted apply can still be reset."""
        names = {}
        for ch in changes:
            if isinstance(ch.spec, DeviceSpec) and ch.action != "delete" and ch.spec.mac is None:
                names["device"] = ch.spec.name  # (not the shared one: the receive side removes it)
            if isinstance(ch.spec, FilterSpec) and ch.action != "delete":
                names["uplink"] = ch.spec.link
        if names:
            state = self._state()
            if any(state.get(k) != v for k, v in names.items()):
                st.write(self.state_file, STATE_KIND, {**state, **names})

    def finish(self, result: ComponentResult) -> None:
        if self._open_maps is not None:
            self._open_maps.close()
            self._open_maps = None

    def _maps(self):
        if self._open_maps is None:
            from lbcli.agent.datapath.maps import PinnedMaps

            self._open_maps = PinnedMaps(self.pin_dir)
            self._open_maps.reader = self._tables
        return self._open_maps

    def apply(self, ch: Change) -> str | None:
        spec = ch.spec
        if isinstance(spec, Teardown):
            reset_or_raise(self)
        elif isinstance(spec, DeviceSpec):
            nl.link_delete(spec.name)  # (on create: one left by an interrupted apply)
            if ch.action in ("create", "update"):
                nl.vxlan_add(spec.name, spec.port, mac=spec.mac)
                if spec.mac is not None:  # as the receive side makes it (lbcli/agent/receive.py)
                    from lbcli.agent.host import sysctl

                    sysctl.write(sysctl.conf_key(spec.name, "rp_filter"), "0")
                nl.link_up(spec.name)
        elif isinstance(spec, ProgramSpec):
            self._load_program(spec)
        elif isinstance(spec, FilterSpec):
            self._attach(spec, ch.action)
        elif isinstance(spec, RecordSpec):
            state = self._state()
            state.update(device=spec.device, uplink=spec.uplink, services=spec.services, tables=spec.tables)
            st.write(self.state_file, STATE_KIND, state)
        elif isinstance(spec, ConfigSpec):
            dev = nl.link(spec.device)
            if dev is None:
                raise RuntimeError(f"device {spec.device} missing")
            src = dev if spec.src_link in ("", spec.device) else nl.link(spec.src_link)
            if src is None:
                raise RuntimeError(f"link {spec.src_link} missing")
            self._maps().write_cfg(dev.index, spec.vni, HASH_SEED, src.mac)
        elif isinstance(spec, T2Spec):
            if ch.action == "delete":
                self._maps().delete_t2(spec.ip)
            else:
                self._maps().set_t2(spec.ip, spec.mac)
        elif isinstance(spec, TableChange):
            if ch.action == "delete":
                self._maps().delete_tables([spec.k])
            else:
                return f"slots written: {self._maps().update_table(spec.k, spec.spec.content, spec.digest)}"
        elif isinstance(spec, ServiceSpec) and ch.action == "delete":
            self._maps().delete_service(spec.key)
        elif isinstance(spec, (BackendSpec, NatSpec)):
            apply_direct(self._maps(), ch)
        elif isinstance(spec, (xdp.XdpProgramSpec, xdp.XdpAttachSpec, xdp.XcfgSpec, xdp.NhSpec)):
            return xdp.apply(self, ch)
        else:
            raise TypeError(f"datapath: unknown change {ch.object}")
        return None

    def apply_batch(self, changes: list[Change]) -> None:
        """Tables created or deleted, services put: one map batch each."""
        maps = self._maps()
        batch = changes[0].batch
        if batch == "tables created":
            maps.create_tables([(ch.spec.k, ch.spec.spec.content) for ch in changes],
                               [ch.spec.digest for ch in changes])
        elif batch == "tables deleted":
            maps.delete_tables([ch.spec.k for ch in changes])
        elif batch == "services put":
            new_ids = [ch.spec.id for ch in changes if ch.spec.new]
            if new_ids:
                maps.zero_counters(new_ids)
            maps.put_services([(ch.spec.key, ch.spec.table, ch.spec.id) for ch in changes],
                              {ch.spec.key: ch.spec.flags for ch in changes if ch.spec.flags})
        else:
            raise TypeError(f"datapath: unknown batch {batch}")

    def _load_program(self, spec: ProgramSpec) -> None:
        from lbcli.agent.datapath import libbpf as bpf

        pins.ensure_bpffs(Path(self.ctx.bpf_root))
        self.pin_dir.mkdir(parents=True, exist_ok=True)
        pin = self._prog_pin(spec.digest)
        if pin.exists():
            pin.unlink()
        bpf.load_object(spec.object, {m: str(self.pin_dir / m) for m in L.MAP_NAMES + L.ENCAP_MAP_NAMES},
                        L.PROGRAM, str(pin))

    def _attach(self, spec: FilterSpec, action: str) -> None:
        if action == "delete":
            _detach(spec.link)
            return
        from lbcli.agent.datapath import libbpf as bpf

        pin = self._prog_pin(spec.digest)
        fd = bpf.obj_get(str(pin))
        try:
            nl.clsact_replace(spec.link)
            nl.bpf_filter_replace(spec.link, fd, pin.name, FILTER_PRIO, FILTER_HANDLE)
        finally:
            os.close(fd)
        for old in self.pin_dir.glob("prog_*"):  # programs no filter uses any more
            if old != pin:
                old.unlink()

    # -- reset ------------------------------------------------------------------------------
    def reset(self) -> ComponentResult:
        result = ComponentResult(COMPONENT)
        state = self._state()
        reader = self._tables or _TABLE_READERS.get(str(self.pin_dir))
        if reader is not None:
            reader.close()  # its mappings would keep the unpinned tables alive

        def step(obj: str, fn) -> None:
            record_step(result, obj, fn)

        for dev in nl.links():
            if dev.xdp_prog_id and xdp.ours(dev.xdp_prog_id):
                step(f"xdp {dev.name}", lambda name=dev.name: nl.xdp_detach(name))
        for link in sorted({flt.link for flt in nl.all_filters() if _ours(flt)}):
            step(f"filter {link} ingress", lambda link=link: _detach(link))
        device = state.get("device")
        if device and nl.link(device) is not None:
            step(f"device {device}", lambda: nl.link_delete(device))
        if self.pin_dir.is_dir():
            def unpin() -> None:
                for p in sorted(self.pin_dir.iterdir()):
                    p.unlink()
                self.pin_dir.rmdir()
            step(f"pins {self.pin_dir}", unpin)
        if st.exists(self.state_file) and result.ok:  # kept while something could not be undone
            step("state", lambda: st.remove(self.state_file))
        return result


# -- t1-only services: observe / diff / apply of lb_be and lb_natcfg -------------------------
def observe_direct(maps, obs: Observed) -> None:
    obs.backends = maps.read_backends()
    ip, lo, count = maps.read_natcfg()
    obs.natcfg = (ip, lo, count) if ip != "0.0.0.0" else None


def direct_changes(want: Desired, observed: Observed, c) -> None:
    """NAT source and backends, before the tables that name them (deletes come last)."""
    if want.nat != observed.natcfg:
        if want.nat is None:
            c(NatSpec("0.0.0.0"), "delete", "nat", "no t1-only service", vips=())
        else:
            c(NatSpec(*want.nat), "create" if observed.natcfg is None else "update", "nat",
              f"source {want.nat[0]} ports {want.nat[1]}-{want.nat[1] + want.nat[2] - 1}")
    for bid, (ip, port) in sorted(want.backends.items()):
        if observed.backends.get(bid) != (ip, port):
            c(BackendSpec(bid, ip, port), "create" if bid not in observed.backends else "update",
              f"backend {bid}", f"{ip}:{port}")


def apply_direct(maps, ch: Change) -> None:
    spec = ch.spec
    if isinstance(spec, NatSpec):
        maps.write_natcfg(spec.ip, spec.port_min, spec.port_count)
    elif ch.action == "delete":
        maps.delete_backend(spec.id)
    else:
        maps.put_backends([(spec.id, spec.ip, spec.port)])

def _mac(link: str) -> str | None:
    dev = nl.link(link)
    return dev.mac if dev is not None else None


def _rp_filter(device: str) -> str | None:
    from lbcli.agent.host import sysctl

    return sysctl.read(sysctl.conf_key(device, "rp_filter"))


def _ours(flt: nl.Filter) -> bool:
    """A bpf filter running the tier-1 program (by the loaded program's name: the filter's
    own name is only what its attacher chose)."""
    from lbcli.agent.datapath import libbpf as bpf

    return flt.kind == "bpf" and bool(flt.prog_id) and bpf.prog_name(flt.prog_id) == L.PROGRAM[:15]


def _detach(link: str) -> None:
    nl.filter_delete(link, FILTER_PRIO, FILTER_HANDLE)
    if not nl.filters(link, nl.INGRESS) and not nl.filters(link, nl.EGRESS):
        nl.clsact_delete(link)  # the qdisc was ours alone: remove it too


def service_counters(ctx: NodeContext) -> dict[str, dict[str, Any]]:
    """Per-service packet/byte counters of the tier-1 program (summed over CPUs), keyed by
    'vip:port/PROTO'; empty when the datapath is not loaded."""
    from lbcli.agent.datapath.maps import PinnedMaps

    pin_dir = Path(ctx.bpf_root) / ctx.node
    if not all((pin_dir / m).exists() for m in L.MAP_NAMES):
        return {}
    try:  # names are for display: a lost record shows counters without them
        names = (st.read(Path(ctx.state_dir) / ctx.node / "datapath.json", STATE_KIND, _STATE_SHAPE).data
                 or {}).get("services", {})
    except st.StateCorrupt:
        names = {}
    out: dict[str, dict[str, Any]] = {}
    with PinnedMaps(pin_dir) as maps:
        for key, (_, sid) in sorted(maps.read_services().items()):
            packets, bytes_ = maps.read_counter(sid)
            out[svc_id(key)] = {"service": names.get(svc_id(key)), "packets": packets, "bytes": bytes_}
    return out


def global_counters(ctx: NodeContext) -> dict[str, int]:
    """Datapath-wide counters (redirects, flow-table hits, drops by reason)."""
    from lbcli.agent.datapath.maps import PinnedMaps

    pin_dir = Path(ctx.bpf_root) / ctx.node
    if not all((pin_dir / m).exists() for m in L.MAP_NAMES):
        return {}
    with PinnedMaps(pin_dir) as maps:
        return maps.read_gstats()
