"""The `network` component: observe / diff / apply / reset of pod networking on the engine's
contract (lbcli/agent/reconciler.py; desired.py says what is programmed). Found again without a
record: routes by routing protocol, qdiscs by handle, the nft table by name, entries on the
tunnel device; recorded in `<state-dir>/<node>/network.json`: the tunnel device's name (so
switching to native removes it) and the sysctl values from before the first apply (restored by
reset).

One change per object, deletes first (last-created first), then creates and updates in
dependency order; a failure is that object's result and the others are still carried out. The
nft table is replaced in one transaction. A failure keeps the node from serving its own
PodCIDRs (the engine then does not announce them), except a bandwidth object's: shaping is not
reachability.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ...plan.types import NodePlan
from .. import state as st
from ..host import netlink as nl
from ..host import nft, sysctl
from ..reconciler import Change, ComponentResult, NodeContext, record_step
from .desired import (FORWARD, HANDLE, KIND_ORDER, NFT_FAMILY, NFT_TABLE, PROTO, Address, Desired, Device, Fdb,
                      Htb, HtbClass, Neighbour, NetworkError, NftTable, Record, Route, Sysctl, Tbf,
                      desired_from_plan)

COMPONENT = "network"
STATE_KIND = "network"
DEFAULT_DEVICE = "lbpod_vxlan"
_STATE_SHAPE = st.shape(device=(str, type(None)), originals=dict)
# objects whose failure leaves the node's PodCIDRs reachable (Change.vips = (): gate nothing)
_SHAPING = (Htb, HtbClass, Tbf)


@dataclass
class NetworkObserved:
    objects: dict[str, Any] = field(default_factory=dict)  # id -> spec, as desired.py builds them
    state: dict = field(default_factory=dict)  # the record


class NetworkReconciler:
    name = COMPONENT

    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        self.state_file = Path(ctx.state_dir) / ctx.node / "network.json"
        self.notes: list[str] = []

    # -- state ------------------------------------------------------------------------------
    def _state(self) -> dict:
        return st.load(self.state_file, STATE_KIND, _STATE_SHAPE, self.notes, repair=not self.ctx.dry_run) or {}

    def _save(self, state: dict) -> None:
        st.write(self.state_file, STATE_KIND, state)

    # -- desired / observe ------------------------------------------------------------------
    def desired(self, plan: NodePlan, secrets: Any = None) -> Desired:
        want = desired_from_plan(plan)
        self.notes.extend(want.notes)
        return want

    def observe(self) -> NetworkObserved:
        state = self._state()
        objs: dict[str, Any] = {}
        for path in sorted(state.get("originals", {})):
            objs[f"sysctl {path}"] = Sysctl(path, sysctl.read(path))
        for dev in sorted({state.get("device") or DEFAULT_DEVICE, DEFAULT_DEVICE}):
            link = nl.link(dev)
            if link is None:
                continue
            vx = link.vxlan
            lower = None
            if vx and vx.lower:
                lower = next((ln.name for ln in nl.links() if ln.index == vx.lower), None)
            objs[f"device {dev}"] = Device(dev, vx.vni if vx else None, vx.port if vx else None,
                                           vx.local if vx else None, lower, link.mac, link.up)
            for a in nl.addresses(dev):
                ip, _, plen = a.partition("/")
                objs[f"address {a} on {dev}"] = Address(dev, ip, int(plen))
            for mac, remote in nl.fdb_entries(dev).items():
                objs[f"fdb {mac} on {dev}"] = Fdb(dev, mac, remote)
            for ip, mac in nl.neighbours(dev).items():
                objs[f"neighbour {ip} on {dev}"] = Neighbour(dev, ip, mac)
        for r in nl.routes_of_proto(PROTO):
            objs[f"route {r.dst}"] = Route(r.dst, r.gateway, r.dev if r.onlink else None, r.onlink)
        table = nft.list_table(NFT_FAMILY, NFT_TABLE)
        if table is not None:
            objs[f"nft table {NFT_FAMILY} {NFT_TABLE}"] = _nft_table(table)
        for q in nl.root_qdiscs(HANDLE):
            if q.kind == "htb":
                objs[f"qdisc htb on {q.dev}"] = Htb(q.dev)
                for classid, bps in nl.htb_classes(q.dev, HANDLE).items():
                    objs[f"class c1:{classid & 0xFFFF:x} on {q.dev}"] = HtbClass(q.dev, classid, bps)
            elif q.kind == "tbf":
                objs[f"qdisc tbf on {q.dev}"] = Tbf(q.dev, q.rate_bps)
        return NetworkObserved(objs, state)

    # -- diff -------------------------------------------------------------------------------
    def diff(self, want: Desired, observed: NetworkObserved) -> list[Change]:
        have = observed.objects
        deletes = [self._change("delete", key, spec) for key, spec in have.items() if key not in want.objects]
        others = []
        for key, spec in want.objects.items():
            old = have.get(key)
            if old is None:
                others.append(self._change("create", key, spec, _summary(spec)))
            elif _differs(spec, old):
                others.append(self._change("update", key, spec, _drift(spec, old)))
        if observed.state.get("device") != want.device:  # the record follows the tunnel device
            others.append(self._change("update", "state", Record(want.device), f"tunnel device {want.device}"))
        deletes.sort(key=lambda c: -KIND_ORDER[type(c.spec)])
        others.sort(key=lambda c: KIND_ORDER[type(c.spec)])
        return deletes + others

    @staticmethod
    def _change(action: str, key: str, spec: Any, detail: str = "") -> Change:
        vips = () if isinstance(spec, (*_SHAPING, Record)) else None
        return Change(COMPONENT, action, key, detail, spec, vips=vips)

    # -- apply ------------------------------------------------------------------------------
    def prepare(self, changes: list[Change]) -> None:
        """Originals and the device name first, so an interrupted apply can still be reset."""
        state = self._state()
        state.setdefault("originals", {})
        for ch in changes:
            spec = ch.spec
            if isinstance(spec, Sysctl) and ch.action != "delete" and spec.path not in state["originals"]:
                state["originals"][spec.path] = sysctl.read(spec.path)
            elif isinstance(spec, Device) and ch.action != "delete":
                state["device"] = spec.name
        self._save(state)

    def apply(self, ch: Change) -> str | None:
        spec, delete = ch.spec, ch.action == "delete"
        if isinstance(spec, Sysctl):
            if delete:  # no longer wanted: put the original back
                state = self._state()
                original = state.get("originals", {}).pop(spec.path, None)
                if original is not None and sysctl.read(spec.path) not in (None, original):
                    sysctl.write(spec.path, original)
                self._save(state)
            else:
                sysctl.write(spec.path, spec.value)
        elif isinstance(spec, Device):
            nl.link_delete(spec.name)  # also one with other settings or left by an interrupted apply
            if not delete:
                nl.vxlan_unicast_add(spec.name, spec.vni, spec.port, spec.local, spec.lower, spec.mac)
                nl.link_up(spec.name)
        elif isinstance(spec, Address):
            if delete:
                nl.address_delete(spec.dev, spec.ip, spec.plen)
            else:
                nl.address_replace(spec.dev, spec.ip, 32)
        elif isinstance(spec, Fdb):
            if ch.action != "create":
                for mac, remote in nl.fdb_entries(spec.dev).items():
                    if mac == spec.mac:
                        nl.fdb_del(spec.dev, mac, remote)
            if not delete:
                nl.fdb_set(spec.dev, spec.mac, spec.remote)
        elif isinstance(spec, Neighbour):
            if delete:
                nl.neighbour_del(spec.dev, spec.ip)
            else:
                nl.neighbour_set(spec.dev, spec.ip, spec.mac)
        elif isinstance(spec, Route):
            if delete:
                nl.route_del(spec.dst, PROTO)
            else:
                nl.route_set(spec.dst, PROTO, spec.gateway, spec.dev, spec.onlink)
        elif isinstance(spec, NftTable):
            if delete:
                nft.delete_table(NFT_FAMILY, NFT_TABLE)
            else:
                nft.replace_table(NFT_FAMILY, NFT_TABLE, list(spec.chains), list(spec.rules))
        elif isinstance(spec, Htb):
            if delete:
                nl.root_qdisc_del(spec.dev, "htb")
            else:
                nl.htb_add(spec.dev, HANDLE)
        elif isinstance(spec, HtbClass):
            if delete:
                nl.htb_class_del(spec.dev, HANDLE, spec.classid)
            else:
                nl.htb_class_set(spec.dev, HANDLE, spec.classid, spec.bps)
        elif isinstance(spec, Tbf):
            if spec.error:
                raise NetworkError(spec.error)
            if delete:
                nl.root_qdisc_del(spec.dev, "tbf")
            else:
                nl.tbf_set(spec.dev, HANDLE, spec.bps)
        elif isinstance(spec, Record):
            state = self._state()
            state["device"] = spec.device
            self._save(state)
        else:
            raise TypeError(f"network: unknown change {ch.object}")
        return None

    # -- reset ------------------------------------------------------------------------------
    def reset(self) -> ComponentResult:
        """Remove every link, route, FDB entry, neighbour, nft table and qdisc this component made
        and restore the sysctls; the record goes last, and only when all of that succeeded."""
        result = ComponentResult(COMPONENT)
        try:
            observed = self.observe()
        except (st.StateCorrupt, OSError, nl.NetlinkError, nft.NftError) as e:
            result.error = str(e)
            return result
        objs = observed.objects
        for key, spec in sorted(objs.items(), key=lambda kv: -KIND_ORDER[type(kv[1])]):
            if isinstance(spec, Sysctl):
                continue  # restored below from the record
            if isinstance(spec, (Fdb, Neighbour, Address)) and f"device {spec.dev}" in objs:
                continue  # go with their device
            if isinstance(spec, HtbClass) and f"qdisc htb on {spec.dev}" in objs:
                continue
            record_step(result, key, lambda key=key, spec=spec: self.apply(Change(COMPONENT, "delete", key, spec=spec)))
        for path, value in sorted(observed.state.get("originals", {}).items()):
            if value is not None and sysctl.read(path) not in (None, value):
                record_step(result, f"sysctl {path}", lambda path=path, value=value: sysctl.write(path, value))
        if st.exists(self.state_file) and result.ok:
            record_step(result, "state", lambda: st.remove(self.state_file))
        return result


def _nft_table(table: list[dict]) -> NftTable:
    chains, rules = [], []
    for item in table:
        if "chain" in item:
            c = item["chain"]
            chains.append({k: c[k] for k in ("name", "type", "hook", "prio", "policy") if k in c})
        elif "rule" in item:
            r = item["rule"]
            rules.append({"chain": r["chain"], **({"comment": r["comment"]} if "comment" in r else {}), "expr": r["expr"]})
    return NftTable(tuple(sorted(chains, key=lambda c: c["name"])), tuple(rules))


def _differs(want: Any, have: Any) -> bool:
    if isinstance(want, NftTable):
        return want.canonical() != have.canonical()
    return want != have  # the compared fields (desired.py)


def _compared(spec: Any) -> dict:
    return {f.name: getattr(spec, f.name) for f in fields(spec) if f.compare}


def _summary(spec: Any) -> str:
    if isinstance(spec, NftTable):
        return "; ".join(r.get("comment", "?") for r in spec.rules)
    bits = [f"{k}={v}" for k, v in _compared(spec).items() if v is not None]
    if getattr(spec, "pod", ""):
        bits.append(f"pod {spec.pod}")
    return " ".join(bits)


def _drift(want: Any, have: Any) -> str:
    if isinstance(want, NftTable):
        w = {json_rule(r) for r in want.rules}
        h = {json_rule(r) for r in have.rules}
        missing = sorted(r.split("\t")[0] for r in w - h)
        extra = sorted(r.split("\t")[0] for r in h - w)
        parts = [f"missing: {', '.join(missing)}"] if missing else []
        parts += [f"unexpected: {', '.join(extra)}"] if extra else []
        return "; ".join(parts) or "chains differ"
    old = _compared(have)
    return ", ".join(f"{k} {old.get(k)} -> {v}" for k, v in _compared(want).items() if old.get(k) != v)


def json_rule(r: dict) -> str:
    import json

    return f"{r.get('comment', 'rule without comment')}\t{json.dumps(r, sort_keys=True)}"
