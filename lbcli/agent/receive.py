"""Tier-2 receive side: decapsulate what tier 1 dispatches and accept it for the VIPs (LVS-DR).

Objects (in the network namespace it runs in):

* the external (collect-metadata) vxlan device `tier2.dispatch.device`, MAC
  `tier2.dispatch.tunnelMac` (tier 1 writes it as the inner destination, so packets are
  PACKET_HOST here), rp_filter off on it (the client's address is not routed via it; the
  effective value is max(all, device), so a non-zero `all.rp_filter` is set to 0 as well and
  restored by reset(): other links keep their own setting); on a node in both tiers tier 1
  sends through this device too (the kernel allows one external VXLAN device per UDP port;
  lbcli/agent/datapath/reconciler.py `shared_device`), and when it is created here, tier 1's
  own device of an earlier plan, which holds the port, is removed first (`Device.displaces`);
* each VIP as a /32 on `lo`;
* `arp_ignore=1`, `arp_announce=2` on `all` and the uplink, so the node never answers ARP for a
  VIP nor uses one as an ARP source. Original values are recorded in `<state-dir>/<node>/receive.json`
  before the first change and restored by reset().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbcli.plan.types import NodePlan
from lbcli.agent import state as st
from lbcli.agent.host import netlink as nl
from lbcli.agent.host import sysctl
from lbcli.agent.datapath.reconciler import DatapathError, check_dispatch, shared_device
from lbcli.agent.reconciler import Change, ComponentResult, NodeContext, record_step, reset_or_raise

COMPONENT = "receive"
ARP_SYSCTLS = {"arp_ignore": "1", "arp_announce": "2"}
# The tunnel device has no address, and the kernel's reverse-path check fails loose mode too
# for an address-less device (fib_validate_source: no_addr -> last_resort -> -EXDEV); so off.
RP_FILTER_OFF = "0"
STATE_KIND = "receive"
_STATE_SHAPE = st.shape(device=(str, type(None)), vips=list, originals=dict)


@dataclass
class ReceiveDesired:
    device: str
    mac: str
    vni: int
    port: int
    vips: list[str]
    sysctls: dict[str, str]  # sysctl path -> value
    displaces: str | None = None  # tier 1's own device name, when tier 1 shares this one


# -- the objects it changes (Change.spec) ----------------------------------------------------
@dataclass(frozen=True)
class Teardown:
    """The node has no tier-2 role: undo everything (reset)."""


@dataclass(frozen=True)
class Device:
    name: str
    mac: str = ""
    port: int = 0
    displaces: str | None = None  # an external vxlan device on the same port to remove first


@dataclass(frozen=True)
class Sysctl:
    path: str
    value: str | None = None  # None: restore the original


@dataclass(frozen=True)
class LoVip:
    vip: str


@dataclass(frozen=True)
class Record:
    vips: tuple[str, ...]
    device: str


@dataclass
class ReceiveObserved:
    device: dict | None = None  # {mac, external, port, up, rp_filter}
    lo_vips: list[str] = field(default_factory=list)  # /32 addresses on lo (except 127/8)
    sysctls: dict[str, str | None] = field(default_factory=dict)
    state: dict = field(default_factory=dict)


def desired_from_plan(plan: NodePlan) -> ReceiveDesired | None:
    t2 = plan.tier2
    if t2 is None:
        return None
    d = t2.dispatch
    check_dispatch(d.mode)
    uplink = nl.link_by_address(plan.node.internal_ip)
    if uplink is None:
        raise DatapathError(f"no link holds the node's internalIP {plan.node.internal_ip}")
    sysctls = {}
    if sysctl.read("net.ipv4.conf.all.rp_filter") not in (None, "0"):
        sysctls["net.ipv4.conf.all.rp_filter"] = "0"
    for dev in ("all", uplink):
        for name, value in ARP_SYSCTLS.items():
            sysctls[f"net.ipv4.conf.{dev}.{name}"] = value
    shared = shared_device(plan)
    t1_device = plan.tier1.dispatch.device if shared is not None else None
    return ReceiveDesired(
        device=d.device, mac=d.tunnel_mac.lower(), vni=d.vni, port=d.port,
        vips=sorted(set(t2.vips)), sysctls=dict(sorted(sysctls.items())),
        displaces=t1_device if t1_device != d.device else None,
    )


class ReceiveReconciler:
    name = COMPONENT

    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        self.state_file = Path(ctx.state_dir) / ctx.node / "receive.json"  # several nodes may share a state dir
        self.notes: list[str] = []

    def _state(self) -> dict:
        """The last recorded state ({} when none). The original sysctl values it holds cannot
        be observed again, so when neither copy is sound this raises StateCorrupt with what to
        do, instead of guessing."""
        try:
            return st.load(self.state_file, STATE_KIND, _STATE_SHAPE, self.notes,
                           repair=not self.ctx.dry_run) or {}
        except st.StateCorrupt as e:
            raise st.StateCorrupt(e.path, f"{e.reason}; it holds the ARP/rp_filter sysctl values from "
                                  "before the first apply, which cannot be read back from the host: "
                                  "restore them by hand, remove the tunnel device and the VIPs on lo "
                                  "this node added, then delete the file and its .mirror") from None

    def _save(self, state: dict) -> None:
        st.write(self.state_file, STATE_KIND, state)

    def desired(self, plan: NodePlan, secrets: Any = None) -> ReceiveDesired | None:
        return desired_from_plan(plan)

    def observe(self) -> ReceiveObserved:
        state = self._state()
        obs = ReceiveObserved(state=state)
        name = state.get("device")
        names = [name] if name else []
        for n in names:
            obs.device = _device(n) or obs.device
        obs.lo_vips = sorted(a.split("/")[0] for a in nl.addresses("lo")
                             if a.endswith("/32") and not a.startswith("127."))
        for path in sorted(set(state.get("sysctls", {})) | set(state.get("originals", {}))):
            obs.sysctls[path] = sysctl.read(path)
        return obs

    def diff(self, want: ReceiveDesired | None, observed: ReceiveObserved) -> list[Change]:
        changes: list[Change] = []

        def c(spec: Any, action: str, obj: str, detail: str = "") -> None:
            changes.append(Change(COMPONENT, action, obj, detail, spec))

        if want is None:
            st = observed.state
            if observed.device or st.get("device") or st.get("vips") or st.get("originals"):
                c(Teardown(), "delete", "receive", "node has no tier-2 role")
            return changes
        rp_all = "net.ipv4.conf.all.rp_filter"
        if rp_all in observed.state.get("originals", {}):  # set by an earlier apply: keep it
            want.sysctls[rp_all] = "0"
        dev = observed.device if observed.device and observed.device["name"] == want.device else None
        if observed.device and dev is None:
            c(Device(observed.device["name"]), "delete", f"device {observed.device['name']}", "renamed in plan")
        if dev is None:
            # the state file may be gone while the device stays: look it up by its plan name
            dev = _device(want.device)
        displaced = None
        if want.displaces:
            other = _device(want.displaces)
            if other and other["external"] and other["port"] == want.port:
                displaced = want.displaces
        spec = Device(want.device, want.mac, want.port, displaced)
        if dev is None:
            c(spec, "create", f"device {want.device}", f"vxlan external dstport {want.port} mac {want.mac}")
        elif (not dev["external"] or dev["port"] != want.port or dev["mac"] != want.mac or not dev["up"]
              or dev["rp_filter"] != RP_FILTER_OFF):
            c(spec, "update", f"device {want.device}",
              f"mac={dev['mac']} port={dev['port']} up={dev['up']} rp_filter={dev['rp_filter']}")
        for path, value in want.sysctls.items():
            current = observed.sysctls.get(path, sysctl.read(path))
            if current != value:
                c(Sysctl(path, value), "update", f"sysctl {path}", f"{current} -> {value}")
        owned = set(observed.state.get("vips", []))
        for vip in want.vips:
            if vip not in observed.lo_vips:
                c(LoVip(vip), "create", f"vip {vip}/32 on lo")
        for vip in sorted(owned - set(want.vips)):
            if vip in observed.lo_vips:
                c(LoVip(vip), "delete", f"vip {vip}/32 on lo")
        # sysctls this reconciler set earlier but the plan no longer lists (uplink renamed)
        for path in sorted(set(observed.state.get("originals", {})) - set(want.sysctls)):
            c(Sysctl(path), "delete", f"sysctl {path}", "restore original")
        if sorted(set(want.vips)) != sorted(owned) or observed.state.get("device") != want.device:
            c(Record(tuple(want.vips), want.device), "update", "state", "last applied")
        return changes

    def prepare(self, changes: list[Change]) -> None:
        """Names and original sysctl values first, so an interrupted apply can still be reset."""
        if any(isinstance(ch.spec, Teardown) for ch in changes):
            return
        state = self._state()
        state.setdefault("originals", {})
        for ch in changes:
            spec = ch.spec
            if isinstance(spec, Device) and ch.action != "delete":
                state["device"] = spec.name
            elif isinstance(spec, LoVip) and ch.action == "create":
                state["vips"] = sorted(set(state.get("vips", [])) | {spec.vip})
            elif isinstance(spec, Sysctl) and ch.action == "update" and spec.path not in state["originals"]:
                state["originals"][spec.path] = sysctl.read(spec.path)
        self._save(state)

    def apply(self, ch: Change) -> str | None:
        spec = ch.spec
        if isinstance(spec, Teardown):
            reset_or_raise(self)
        elif isinstance(spec, Device):
            nl.link_delete(spec.name)  # (also one left by an interrupted apply)
            if spec.displaces:  # tier 1's own device holds the port: tier 1 moves onto this one
                nl.link_delete(spec.displaces)
            if ch.action != "delete":
                nl.vxlan_add(spec.name, spec.port, mac=spec.mac)
                sysctl.write(sysctl.conf_key(spec.name, "rp_filter"), RP_FILTER_OFF)
                nl.link_up(spec.name)
        elif isinstance(spec, Sysctl) and ch.action == "delete":
            state = self._state()
            original = state.get("originals", {}).pop(spec.path, None)
            if original is not None and sysctl.read(spec.path) is not None:
                sysctl.write(spec.path, original)
            self._save(state)
        elif isinstance(spec, Sysctl):
            sysctl.write(spec.path, spec.value)
        elif isinstance(spec, LoVip) and ch.action == "delete":
            nl.address_delete("lo", spec.vip, 32)
        elif isinstance(spec, LoVip):
            nl.address_replace("lo", spec.vip, 32)
        elif isinstance(spec, Record):
            state = self._state()
            state["vips"] = sorted(spec.vips)
            state["device"] = spec.device
            self._save(state)
        else:
            raise TypeError(f"receive: unknown change {ch.object}")
        return None

    def reset(self) -> ComponentResult:
        result = ComponentResult(COMPONENT)
        try:
            state = self._state()
        except st.StateCorrupt as e:  # never "converged" while sysctls may stay changed
            result.error = str(e)
            return result

        def step(obj: str, fn) -> None:
            record_step(result, obj, fn)

        device = state.get("device")
        if device and nl.link(device) is not None:
            step(f"device {device}", lambda: nl.link_delete(device))
        on_lo = set(a.split("/")[0] for a in nl.addresses("lo"))
        for vip in state.get("vips", []):
            if vip in on_lo:
                step(f"vip {vip}/32 on lo",
                     lambda vip=vip: nl.address_delete("lo", vip, 32))
        for path, value in sorted(state.get("originals", {}).items()):
            if value is not None and sysctl.read(path) not in (None, value):
                step(f"sysctl {path}", lambda path=path, value=value: sysctl.write(path, value))
        if st.exists(self.state_file) and result.ok:  # kept while something could not be undone
            step("state", lambda: st.remove(self.state_file))
        return result


def _device(name: str) -> dict | None:
    """The receive device as observe/diff compare it: {name, mac, external, port, up, rp_filter}."""
    dev = nl.link(name)
    if dev is None:
        return None
    vx = dev.vxlan
    return {"name": name, "mac": dev.mac, "external": vx.external if vx else None,
            "port": vx.port if vx else None, "up": dev.up,
            "rp_filter": sysctl.read(sysctl.conf_key(name, "rp_filter"))}


__all__ = ["ReceiveDesired", "ReceiveObserved", "ReceiveReconciler", "desired_from_plan"]
