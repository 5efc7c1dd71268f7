"""Tier-1 datapath reconciler: the plan's `tier1` section onto the node.

Objects it owns (in the network namespace it runs in):

* the external (collect-metadata) tunnel device `tier1.dispatch.device`;
* the BPF program and maps, pinned under `<bpf-root>/<node>/`;
* the clsact qdisc and the direct-action filter (prio 1, handle 1) on the uplink, the link that
  holds `node.internalIP`;
* map contents: config, T2 nodes, Maglev tables (double-buffered), services.

`diff()` takes the whole plan and raises :class:`DatapathError` for what the kernel or this
datapath cannot do (e.g. a geneve dispatch here); nothing has changed at that point.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbcli.agent import state as st
from lbcli.agent.datapath import hostcmd, pins
from lbcli.agent.datapath import layout as L
from lbcli.agent.reconciler import Change, ComponentResult, NodeContext, ObjectResult, record_step

COMPONENT = "datapath"
# Same seed on every T1 node: a flow re-routed to another T1 by ECMP picks the same T2.
HASH_SEED = 0x6C62636C
FILTER_PRIO, FILTER_HANDLE = "1", "1"
SUPPORTED_DISPATCH = ("vxlan",)
# How the kernel is probed for dispatch modes this datapath does not implement (yet).
_PROBE_ARGS = {
    "geneve": ("GENEVE", ["id", "1", "remote", "127.0.0.1"]),
    "ipip": ("IPIP", ["external"]),
    "gre": ("GRE", ["external"]),
}

_PHASES = ("device", "program", "filter", "config", "t2", "table", "service")
STATE_KIND = "datapath"
_STATE_SHAPE = st.shape(device=(str, type(None)), uplink=(str, type(None)), services=dict, tables=dict)


class DatapathError(RuntimeError):
    """The plan asks for something this node cannot do; nothing was changed."""


SvcKey = tuple[str, int, str]


class TableSpec:
    """A desired Maglev table; its content (u32 T2 addresses) is decoded only when written."""

    def __init__(self, plan_table: dict, t2_ips: dict[str, str], content: bytes | None = None):
        self.plan_table = plan_table
        self.t2_ips = t2_ips
        self.size = int(plan_table["size"])
        self._content = content

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = table_content(self.plan_table, self.t2_ips)
        return self._content


def table_key(plan_table: dict, t2_ips: dict[str, str]) -> str:
    """Identity of a plan table's translated content: the plan's sha256 of the raw table (the
    plan is trusted to carry the right one) with the T2 addresses its indices resolve to."""
    names = list(plan_table["t2Nodes"])
    ident = f"{plan_table['sha256']}|{plan_table['size']}|" + ",".join(f"{n}={t2_ips.get(n)}" for n in names)
    return hashlib.sha256(ident.encode()).hexdigest()


@dataclass
class Desired:
    uplink_ip: str
    device: str
    vni: int
    port: int
    t2: dict[str, str]  # ip -> tunnel MAC
    tables: dict[bytes, TableSpec]  # content digest -> table
    services: dict[SvcKey, tuple[str, bytes]]  # key -> (service name, table digest)
    table_digests: dict[str, str] = field(default_factory=dict)  # table_key -> digest hex


@dataclass
class Observed:
    pinned_program: str | None = None  # digest prefix of the pinned program
    program_id: int = 0
    maps_present: bool = False
    vxlan: dict[str, dict] = field(default_factory=dict)  # name -> {ifindex, mac, external, port, up}
    filters: dict[str, int] = field(default_factory=dict)  # link -> attached prog id (ours)
    foreign: dict[str, str] = field(default_factory=dict)  # link -> kind of another filter at our prio
    cfg: dict | None = None
    t2: dict[str, str] = field(default_factory=dict)
    services: dict[SvcKey, tuple[int, int]] = field(default_factory=dict)
    tables: dict[int, Any] = field(default_factory=dict)  # k -> maps.TableState
    state: dict = field(default_factory=dict)  # last recorded by this reconciler


def _vips(keys) -> tuple[str, ...]:
    return tuple(sorted({k[0] for k in keys}))


def svc_id(key: SvcKey) -> str:
    return f"{key[0]}:{key[1]}/{key[2]}"


def _ip_u32_bytes(ip: str) -> bytes:
    return socket.inet_aton(ip)


def table_content(table: dict, t2_ips: dict[str, str]) -> bytes:
    """A plan Maglev table (u16 LE indices into its t2Nodes) as u32 T2 addresses."""
    size = int(table["size"])
    raw = base64.b64decode(table["table"])
    if len(raw) != 2 * size:
        raise DatapathError(f"maglev table {table.get('id')}: {len(raw)} bytes, expected {2 * size}")
    names = list(table["t2Nodes"])
    try:
        addrs = [_ip_u32_bytes(t2_ips[n]) for n in names]
    except KeyError as exc:
        raise DatapathError(f"maglev table {table.get('id')}: T2 node {exc} not in tier1.t2Nodes") from exc
    out = bytearray(4 * size)
    if len(names) <= 256 and raw[1::2] == bytes(size):
        low = raw[0::2]
        if low.translate(None, bytes(range(len(names)))):  # bytes left = indices out of range
            raise DatapathError(f"maglev table {table.get('id')}: index out of range")
        for b in range(4):  # per byte of the address: one C-speed translate + strided store
            trans = bytes(a[b] for a in addrs) + bytes(256 - len(addrs))
            out[b::4] = low.translate(trans)
        return bytes(out)
    idx = memoryview(raw).cast("H")
    for s in range(size):
        if idx[s] >= len(names):
            raise DatapathError(f"maglev table {table.get('id')}: index out of range")
        out[4 * s:4 * s + 4] = addrs[idx[s]]
    return bytes(out)


def check_dispatch(mode: str) -> None:
    """Raise DatapathError naming the missing feature when `mode` cannot be used here."""
    if mode in SUPPORTED_DISPATCH:
        return
    feature, args = _PROBE_ARGS.get(mode, (mode.upper(), []))
    if mode in _PROBE_ARGS:
        ok, err = hostcmd.link_kind_supported(mode, args)
        if not ok:
            raise DatapathError(
                f"dispatch mode {mode!r} needs {feature} tunnels, which this kernel lacks ({err}); "
                f"use dispatch mode 'vxlan'"
            )
    raise DatapathError(f"dispatch mode {mode!r} is not supported by the tier-1 datapath (supported: vxlan)")


def desired_from_plan(plan: dict, known_digests: dict[str, str] | None = None) -> Desired | None:
    """The datapath's desired state, or None when the node has no tier-1 role.

    `known_digests` (table_key -> content digest, hex) spares decoding tables seen before."""
    known = known_digests or {}
    t1 = plan.get("tier1")
    if not t1:
        return None
    dispatch = t1["dispatch"]
    check_dispatch(str(dispatch.get("mode", "vxlan")))
    t2 = plan.get("tier2") or {}
    if t2 and int((t2.get("dispatch") or {}).get("port", -1)) == int(dispatch["port"]):
        # the kernel allows one external (collect-metadata) VXLAN device per UDP port, and the
        # receive side already holds it: say so instead of the kernel's "VNI already exists"
        raise DatapathError(
            f"node {plan['node']['name']} is in both tiers: the tier-1 datapath and the tier-2 receive "
            f"side each need an external VXLAN device on UDP port {dispatch['port']}, and the kernel "
            "allows one per port; a node serving both tiers is not implemented by cilium-lb "
            "(label it service.cilium.io/node=t1 or t2)")
    t2_nodes = {n["name"]: n for n in t1.get("t2Nodes", [])}
    t2_ips = {name: n["ip"] for name, n in t2_nodes.items()}
    plan_tables = {int(tbl["id"]): tbl for tbl in t1.get("maglevTables", [])}
    tables_by_id: dict[int, tuple[bytes, TableSpec]] = {}
    used: set[str] = set()
    digests: dict[str, str] = {}
    from lbcli.agent.datapath.maps import content_digest

    tables: dict[bytes, bytes] = {}
    services: dict[SvcKey, tuple[str, bytes]] = {}
    for svc in t1.get("services", []):
        proto = str(svc.get("protocol", "TCP")).upper()
        if proto not in L.PROTOCOLS:
            raise DatapathError(f"service {svc['service']}: protocol {proto} not supported (TCP, UDP)")
        if svc.get("maglevTable") is None:
            continue  # no healthy T2: not programmed (and withdrawn from BGP by the compiler)
        tid = int(svc["maglevTable"])
        if tid not in plan_tables:
            raise DatapathError(f"service {svc['service']}: maglev table {tid} missing")
        if tid not in tables_by_id:
            tbl = plan_tables[tid]
            if tbl.get("encoding", "u16le-base64") != "u16le-base64":
                raise DatapathError(f"maglev table {tid}: unknown encoding {tbl.get('encoding')!r}")
            key = table_key(tbl, t2_ips) if tbl.get("sha256") else None
            spec = TableSpec(tbl, t2_ips)
            if key and key in known:
                digest = bytes.fromhex(known[key])
            else:
                digest = content_digest(spec.content)
            if key:
                digests[key] = digest.hex()
            tables_by_id[tid] = (digest, spec)
            used.update(tbl["t2Nodes"])
        digest, spec = tables_by_id[tid]
        tables[digest] = spec
        services[(svc["vip"], int(svc["port"]), proto)] = (svc["service"], digest)
    t2 = {t2_nodes[n]["ip"]: t2_nodes[n]["tunnelMac"].lower() for n in sorted(used)}
    return Desired(
        uplink_ip=plan["node"]["internalIP"],
        device=dispatch["device"],
        vni=int(dispatch["vni"]),
        port=int(dispatch["port"]),
        t2=t2,
        tables=tables,
        services=services,
        table_digests=dict(sorted(digests.items())),
    )


class DatapathReconciler:
    name = COMPONENT

    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        self.pin_dir = Path(ctx.bpf_root) / ctx.node
        self.state_file = Path(ctx.state_dir) / ctx.node / "datapath.json"  # several nodes may share a state dir
        self.cache_dir = Path(ctx.state_dir) / "bpf-cache"
        self._object: tuple[Path, str] | None = None
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
        for dev in hostcmd.run_json(["ip", "-j", "link", "show"]):
            if ifindex and dev.get("ifindex") == ifindex:
                out["device"] = dev["ifname"]
            for flt in hostcmd.run_json(["tc", "-j", "filter", "show", "dev", dev["ifname"], "ingress"]):
                if flt.get("options", {}).get("prog", {}).get("name") == L.PROGRAM[:15]:
                    out["uplink"] = dev["ifname"]
        return out

    # -- build ------------------------------------------------------------------------------
    def object(self) -> tuple[Path, str]:
        if self._object is None:
            from lbcli.agent.datapath.build import object_path

            self._object = object_path(self.cache_dir)
        return self._object

    def _prog_pin(self, digest: str) -> Path:
        return self.pin_dir / f"prog_{digest[:16]}"

    # -- observe ----------------------------------------------------------------------------
    def observe(self) -> Observed:
        from lbcli.agent.datapath import libbpf as bpf
        from lbcli.agent.datapath.maps import PinnedMaps

        obs = Observed(state=self._state())
        for dev in hostcmd.run_json(["ip", "-d", "-j", "link", "show", "type", "vxlan"]):
            info = hostcmd.vxlan_info(dev) or {}
            obs.vxlan[dev["ifname"]] = {
                "ifindex": dev["ifindex"], "mac": dev.get("address", ""), "external": info.get("external"),
                "port": info.get("port"), "up": "UP" in dev.get("flags", []),
            }
        for dev in hostcmd.run_json(["ip", "-j", "link", "show"]):
            for flt in hostcmd.run_json(["tc", "-j", "filter", "show", "dev", dev["ifname"], "ingress"]):
                opts = flt.get("options", {})
                prog = opts.get("prog", {})
                if flt.get("kind") == "bpf" and prog.get("name") == L.PROGRAM[:15] and str(flt.get("pref")) == FILTER_PRIO:
                    obs.filters[dev["ifname"]] = int(prog.get("id", 0))
                elif str(flt.get("pref")) == FILTER_PRIO and (flt.get("kind") != "bpf" or prog.get("name")):
                    # (a bpf filter's header line has no options: only its detail line tells whose)
                    obs.foreign[dev["ifname"]] = str(flt.get("kind"))
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
            if all((self.pin_dir / m).exists() for m in L.MAP_NAMES):
                with PinnedMaps(self.pin_dir) as maps:
                    obs.maps_present = True
                    obs.cfg = maps.read_cfg()
                    obs.t2 = maps.read_t2()
                    obs.services = maps.read_services()
                    obs.tables = maps.read_tables()
        return obs

    # -- diff -------------------------------------------------------------------------------
    def diff(self, desired: Any, observed: Observed) -> list[Change]:
        """`desired`: the node plan (dict) or a :class:`Desired`. Raises DatapathError."""
        if isinstance(desired, dict):
            want = desired_from_plan(desired, observed.state.get("tables", {}))
        else:
            want = desired
        if want is None:
            return self._teardown_changes(observed)
        changes: list[Change] = []
        # vips: what a failure of the object keeps from being served (None: everything)
        c = lambda kind, action, obj, detail="", payload=None, obs=None, vips=None: changes.append(  # noqa: E731
            Change(COMPONENT, action, obj, detail, {"kind": kind, **(payload or {})}, obs, vips))

        # device
        dev = observed.vxlan.get(want.device)
        old_dev = observed.state.get("device")
        if old_dev and old_dev != want.device and old_dev in observed.vxlan:
            c("device", "delete", f"device {old_dev}", "renamed in plan", {"name": old_dev})
        if dev is None:
            c("device", "create", f"device {want.device}", f"vxlan external dstport {want.port}",
              {"name": want.device, "port": want.port})
        elif not dev["external"] or dev["port"] != want.port or not dev["up"]:
            c("device", "update", f"device {want.device}",
              f"external={dev['external']} port={dev['port']} up={dev['up']}",
              {"name": want.device, "port": want.port}, dev)
        device_changed = dev is None or not dev["external"] or dev["port"] != want.port or not dev["up"]

        # program and maps
        obj_path, digest = self.object()
        program_changed = False
        if observed.pinned_program != digest[:16] or not observed.maps_present:
            program_changed = True
            c("program", "create" if observed.pinned_program is None else "update",
              f"program {L.PROGRAM}", f"object {digest[:16]}", {"object": str(obj_path), "digest": digest})

        # filter on the uplink
        uplink = hostcmd.link_by_address(want.uplink_ip)
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
                c("filter", "delete", f"filter {link} ingress", "not the uplink", {"link": link})
        if program_changed or observed.filters.get(uplink) != observed.program_id or not observed.program_id:
            c("filter", "create" if uplink not in observed.filters else "update", f"filter {uplink} ingress",
              "tc clsact ingress bpf da", {"link": uplink, "digest": digest})

        # config
        cfg = observed.cfg
        if (device_changed or cfg is None or dev is None or cfg["tun_ifindex"] != dev["ifindex"]
                or cfg["vni"] != want.vni or cfg["hash_seed"] != HASH_SEED or cfg["src_mac"] != dev["mac"]):
            c("config", "update" if cfg and cfg["tun_ifindex"] else "create", "config",
              f"device {want.device} vni {want.vni}", {"device": want.device, "vni": want.vni}, cfg)

        # T2 nodes
        for ip, mac in sorted(want.t2.items()):
            if observed.t2.get(ip) != mac:
                c("t2", "create" if ip not in observed.t2 else "update", f"t2 {ip}", f"mac {mac}",
                  {"ip": ip, "mac": mac})

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
        for d in sorted(set(want.tables) - set(assign)):
            size = want.tables[d].size
            best, best_overlap = None, -1
            for k, ts in sorted(observed.tables.items()):
                if k in taken or ts.size != size or not all(ts.buffers):
                    continue
                u = users.get(k, set())
                if not u <= wanters[d]:
                    continue
                if len(u) > best_overlap:
                    best, best_overlap = k, len(u)
            if best is not None:
                assign[d], updates[d] = best, best
                taken.add(best)
        free = (k for k in range(L.MAX_TABLES) if k not in observed.tables and k not in taken)
        for d in sorted(set(want.tables) - set(assign)):
            k = next(free, None)
            if k is None:
                raise DatapathError(f"more than {L.MAX_TABLES} distinct Maglev tables")
            assign[d] = k
            c("table", "create", f"table {k}", f"size {want.tables[d].size}",
              {"k": k, "spec": want.tables[d]}, vips=_vips(wanters[d]))
        for d, k in sorted(updates.items(), key=lambda kv: kv[1]):
            c("table", "update", f"table {k}", "", {"k": k, "spec": want.tables[d]}, vips=_vips(wanters[d]))

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
                c("service", "create", f"service {svc_id(key)}", f"{name} table {k}",
                  {"key": key, "table": k, "id": sid, "new": True, "name": name}, vips=(key[0],))
            elif observed.services[key][0] != k:
                c("service", "update", f"service {svc_id(key)}", f"{name} table {k}",
                  {"key": key, "table": k, "id": observed.services[key][1], "new": False, "name": name},
                  observed.services[key], vips=(key[0],))
        for key in sorted(set(observed.services) - set(want.services)):
            c("service", "delete", f"service {svc_id(key)}", "", {"key": key}, vips=(key[0],))
        for k in sorted(set(observed.tables) - set(assign.values())):  # unused: serving is unaffected
            c("table", "delete", f"table {k}", "", {"k": k}, vips=())
        for ip in sorted(set(observed.t2) - set(want.t2)):
            c("t2", "delete", f"t2 {ip}", "", {"ip": ip}, vips=())
        names = {svc_id(k): v[0] for k, v in want.services.items()}
        if observed.state.get("services") != names or observed.state.get("device") != want.device \
                or observed.state.get("uplink") != uplink or observed.state.get("tables") != want.table_digests:
            c("state", "update", "state", "last applied", {"device": want.device, "uplink": uplink,
                                                            "services": names, "tables": want.table_digests},
              vips=())  # the record, not the datapath: serving is unaffected
        return changes

    def _teardown_changes(self, observed: Observed) -> list[Change]:
        if not (observed.filters or observed.pinned_program or observed.maps_present
                or observed.state.get("device") in observed.vxlan):
            return []
        return [Change(COMPONENT, "delete", "datapath", "node has no tier-1 role", {"kind": "reset"})]

    # -- apply ------------------------------------------------------------------------------
    def apply(self, changes: list[Change]) -> ComponentResult:
        result = ComponentResult(COMPONENT)
        order = {p: i for i, p in enumerate(_PHASES)}

        def rank(ch: Change) -> tuple:
            kind = ch.desired["kind"]
            # deletes of services, then tables, then T2 nodes come after every create/update
            if ch.action == "delete" and kind in ("service", "table", "t2"):
                return (len(_PHASES) + ("service", "table", "t2").index(kind),)
            return (order.get(kind, len(_PHASES) + 4),)

        todo = sorted(changes, key=rank)
        if any(ch.desired["kind"] == "reset" for ch in todo):
            return self.reset()
        state = self._state()
        for ch in todo:  # record names first so an interrupted apply can still be reset
            if ch.desired["kind"] == "device" and ch.action != "delete":
                state["device"] = ch.desired["name"]
            if ch.desired["kind"] == "filter" and ch.action != "delete":
                state["uplink"] = ch.desired["link"]
        if state:
            st.write(self.state_file, STATE_KIND, state)

        maps = None
        try:
            i = 0
            while i < len(todo):
                ch = todo[i]
                kind = ch.desired["kind"]
                if kind in ("table", "service") and not (kind == "service" and ch.action == "delete"):
                    # batch consecutive table creates / table deletes / service creates+updates
                    j = i
                    while j < len(todo) and todo[j].desired["kind"] == kind and (
                            (todo[j].action == ch.action) if kind == "table"
                            else todo[j].action != "delete"):
                        j += 1
                    batch = todo[i:j]
                    i = j
                    maps = maps or self._maps()
                    result.results.extend(self._apply_batch(maps, kind, batch))
                    continue
                i += 1
                try:
                    if kind in ("device", "program", "filter", "state"):
                        detail = getattr(self, f"_apply_{kind}")(ch)
                    else:
                        maps = maps or self._maps()
                        detail = self._apply_map_change(maps, ch)
                    result.results.append(ObjectResult(_with_detail(ch, detail), True))
                except Exception as exc:  # one object's failure is recorded, the rest goes on
                    result.results.append(ObjectResult(ch, False, str(exc)))
                    if kind in ("program", "device"):
                        result.error = f"{ch.object}: {exc}"
                        break
        finally:
            if maps is not None:
                maps.close()
        return result

    def _maps(self):
        from lbcli.agent.datapath.maps import PinnedMaps

        return PinnedMaps(self.pin_dir)

    def _apply_device(self, ch: Change) -> str | None:
        name = ch.desired["name"]
        if ch.action in ("delete", "update"):
            hostcmd.run(["ip", "link", "del", name], check=False)
        if ch.action in ("create", "update"):
            if hostcmd.link(name) is not None:  # left by an interrupted apply
                hostcmd.run(["ip", "link", "del", name], check=False)
            hostcmd.run(["ip", "link", "add", name, "type", "vxlan", "external", "dstport",
                         str(ch.desired["port"]), "nolearning"])
            hostcmd.run(["ip", "link", "set", name, "up"])
        return None

    def _apply_program(self, ch: Change) -> str | None:
        from lbcli.agent.datapath import libbpf as bpf

        pins.ensure_bpffs(Path(self.ctx.bpf_root))
        self.pin_dir.mkdir(parents=True, exist_ok=True)
        pin = self._prog_pin(ch.desired["digest"])
        if pin.exists():
            pin.unlink()
        bpf.load_object(ch.desired["object"], {m: str(self.pin_dir / m) for m in L.MAP_NAMES},
                        L.PROGRAM, str(pin))
        return None

    def _apply_filter(self, ch: Change) -> str | None:
        link = ch.desired["link"]
        if ch.action == "delete":
            _detach(link)
            return None
        pin = self._prog_pin(ch.desired["digest"])
        hostcmd.run(["tc", "qdisc", "replace", "dev", link, "clsact"])
        hostcmd.run(["tc", "filter", "replace", "dev", link, "ingress", "prio", FILTER_PRIO, "handle",
                     FILTER_HANDLE, "bpf", "da", "object-pinned", str(pin)])
        for old in self.pin_dir.glob("prog_*"):  # programs no filter uses any more
            if old != pin:
                old.unlink()
        return None

    def _apply_state(self, ch: Change) -> str | None:
        state = self._state()
        state.update({k: v for k, v in ch.desired.items() if k != "kind"})
        st.write(self.state_file, STATE_KIND, state)
        return None

    def _apply_map_change(self, maps, ch: Change) -> str | None:
        kind, d = ch.desired["kind"], ch.desired
        if kind == "config":
            dev = hostcmd.link(d["device"])
            if dev is None:
                raise RuntimeError(f"device {d['device']} missing")
            maps.write_cfg(dev["ifindex"], d["vni"], HASH_SEED, dev["address"])
        elif kind == "t2":
            if ch.action == "delete":
                maps.delete_t2(d["ip"])
            else:
                maps.set_t2(d["ip"], d["mac"])
        elif kind == "table":
            if ch.action == "delete":
                maps.delete_tables([d["k"]])
            else:
                return f"slots written: {maps.update_table(d['k'], d['spec'].content)}"
        elif kind == "service" and ch.action == "delete":
            maps.delete_service(d["key"])
        return None

    def _apply_batch(self, maps, kind: str, batch: list[Change]) -> list[ObjectResult]:
        try:
            if kind == "table" and batch[0].action == "create":
                maps.create_tables([(ch.desired["k"], ch.desired["spec"].content) for ch in batch])
            elif kind == "table" and batch[0].action == "delete":
                maps.delete_tables([ch.desired["k"] for ch in batch])
            elif kind == "table":
                return [self._one(maps, ch) for ch in batch]
            else:
                new_ids = [ch.desired["id"] for ch in batch if ch.desired["new"]]
                if new_ids:
                    maps.zero_counters(new_ids)
                maps.put_services([(ch.desired["key"], ch.desired["table"], ch.desired["id"]) for ch in batch])
        except Exception as exc:
            return [ObjectResult(ch, False, str(exc)) for ch in batch]
        return [ObjectResult(ch, True) for ch in batch]

    def _one(self, maps, ch: Change) -> ObjectResult:
        try:
            return ObjectResult(_with_detail(ch, self._apply_map_change(maps, ch)), True)
        except Exception as exc:
            return ObjectResult(ch, False, str(exc))

    # -- reset ------------------------------------------------------------------------------
    def reset(self) -> ComponentResult:
        result = ComponentResult(COMPONENT)
        state = self._state()

        def step(obj: str, fn) -> None:
            record_step(result, obj, fn)

        for dev in hostcmd.run_json(["ip", "-j", "link", "show"]):
            link = dev["ifname"]
            for flt in hostcmd.run_json(["tc", "-j", "filter", "show", "dev", link, "ingress"]):
                if flt.get("options", {}).get("prog", {}).get("name") == L.PROGRAM[:15]:
                    step(f"filter {link} ingress", lambda link=link: _detach(link))
                    break
        device = state.get("device")
        if device and hostcmd.link(device) is not None:
            step(f"device {device}", lambda: hostcmd.run(["ip", "link", "del", device]))
        if self.pin_dir.is_dir():
            def unpin() -> None:
                for p in sorted(self.pin_dir.iterdir()):
                    p.unlink()
                self.pin_dir.rmdir()
            step(f"pins {self.pin_dir}", unpin)
        if st.exists(self.state_file) and result.ok:  # kept while something could not be undone
            step("state", lambda: st.remove(self.state_file))
        return result


def _detach(link: str) -> None:
    hostcmd.run(["tc", "filter", "del", "dev", link, "ingress", "prio", FILTER_PRIO, "handle",
                 FILTER_HANDLE, "bpf"], check=False)
    left = hostcmd.run_json(["tc", "-j", "filter", "show", "dev", link, "ingress"])
    left += hostcmd.run_json(["tc", "-j", "filter", "show", "dev", link, "egress"])
    if not left:  # the qdisc is ours alone: remove it too
        hostcmd.run(["tc", "qdisc", "del", "dev", link, "clsact"], check=False)


def _with_detail(ch: Change, detail: str | None) -> Change:
    return dataclasses.replace(ch, detail=detail) if detail else ch


def reconcile(ctx: NodeContext, plan: dict) -> ComponentResult:
    """observe -> diff -> apply in one call; a plan the node cannot carry is an error result."""
    rec = DatapathReconciler(ctx)
    try:
        changes = rec.diff(plan, rec.observe())
    except DatapathError as exc:
        return ComponentResult(COMPONENT, error=str(exc))
    return rec.apply(changes)


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
