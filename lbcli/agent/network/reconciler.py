"""The `network` component: observe / diff / apply / reset of pod networking (desired.py says
what is programmed). Found again without a record: routes by routing protocol, qdiscs by handle,
the nft table by name, entries on the tunnel device; recorded in `<state-dir>/<node>/network.json`:
the tunnel device's name (so switching to native removes it) and the sysctl values from before
the first apply (restored by reset).

Apply works object by object, in dependency order (deletes first, last-created first), so one
failure leaves the others done and is reported with its object; the nft table is replaced in one
transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import state as st
from ..host import netlink as nl
from ..host import nft, sysctl
from ..reconciler import Change, ComponentResult, NodeContext, ObjectResult, record_step
from .desired import (FORWARD, HANDLE, KIND_ORDER, NFT_FAMILY, NFT_TABLE, PROTO, Desired, NetworkError, Obj,
                      desired_from_plan)

COMPONENT = "network"
STATE_KIND = "network"
DEFAULT_DEVICE = "lbpod_vxlan"
_STATE_SHAPE = st.shape(device=(str, type(None)), originals=dict)


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

    # -- observe ----------------------------------------------------------------------------
    def observe(self) -> dict[str, Obj]:
        state = self._state()
        objs: dict[str, Obj] = {}
        for path in sorted(set(state.get("originals", {})) | {FORWARD}):
            if path in state.get("originals", {}):
                objs[f"sysctl {path}"] = Obj("sysctl", {"value": sysctl.read(path)}, {"path": path})
        for dev in sorted({state.get("device") or DEFAULT_DEVICE, DEFAULT_DEVICE}):
            link = nl.link(dev)
            if link is None:
                continue
            vx = link.vxlan
            lower = None
            if vx and vx.lower:
                lower = next((ln.name for ln in nl.links() if ln.index == vx.lower), None)
            objs[f"device {dev}"] = Obj("device", {"vni": vx.vni if vx else None, "port": vx.port if vx else None,
                                                   "local": vx.local if vx else None, "lower": lower,
                                                   "mac": link.mac, "up": link.up}, {"name": dev})
            for a in nl.addresses(dev):
                ip, _, plen = a.partition("/")
                objs[f"address {a} on {dev}"] = Obj("address", {}, {"dev": dev, "ip": ip, "plen": int(plen)})
            for mac, remote in nl.fdb_entries(dev).items():
                objs[f"fdb {mac} on {dev}"] = Obj("fdb", {"remote": remote}, {"dev": dev, "mac": mac})
            for ip, mac in nl.neighbours(dev).items():
                objs[f"neighbour {ip} on {dev}"] = Obj("neighbour", {"mac": mac}, {"dev": dev, "ip": ip})
        for r in nl.routes_of_proto(PROTO):
            objs[f"route {r.dst}"] = Obj("route", {"gateway": r.gateway, "dev": r.dev if r.onlink else None,
                                                   "onlink": r.onlink}, {"dst": r.dst})
        table = nft.list_table(NFT_FAMILY, NFT_TABLE)
        if table is not None:
            objs[f"nft table {NFT_FAMILY} {NFT_TABLE}"] = Obj("nft", _nft_spec(table))
        for q in nl.root_qdiscs(HANDLE):
            if q.kind == "htb":
                objs[f"qdisc htb on {q.dev}"] = Obj("htb", {}, {"dev": q.dev})
                for classid, bps in nl.htb_classes(q.dev, HANDLE).items():
                    objs[f"class c1:{classid & 0xFFFF:x} on {q.dev}"] = Obj("class", {"bps": bps},
                                                                            {"dev": q.dev, "classid": classid})
            else:
                objs[f"qdisc {q.kind} on {q.dev}"] = Obj(q.kind, {"bps": q.rate_bps}, {"dev": q.dev})
        return objs

    # -- diff -------------------------------------------------------------------------------
    def desired(self, plan: dict) -> Desired:
        want = desired_from_plan(plan)
        self.notes.extend(want.notes)
        return want

    def diff(self, desired: Any, observed: dict[str, Obj]) -> list[Change]:
        want = self.desired(desired) if isinstance(desired, dict) else desired
        changes: list[Change] = []
        for key, obj in observed.items():
            if key not in want.objects:
                changes.append(Change(COMPONENT, "delete", key, "", {"obj": obj}, obj))
        for key, obj in want.objects.items():
            have = observed.get(key)
            if have is None:
                changes.append(Change(COMPONENT, "create", key, _summary(obj), {"obj": obj}))
            elif _differs(obj, have):
                changes.append(Change(COMPONENT, "update", key, _drift(obj, have), {"obj": obj}, have))
        if self._state().get("device") != want.device:  # the record follows the tunnel device
            changes.append(Change(COMPONENT, "update", "state", f"tunnel device {want.device}",
                                  {"obj": Obj("state", {"device": want.device})}))
        order = {k: i for i, k in enumerate(KIND_ORDER + ("state",))}
        deletes = sorted((c for c in changes if c.action == "delete"),
                         key=lambda c: -order.get(c.desired["obj"].kind, 0))
        others = sorted((c for c in changes if c.action != "delete"), key=lambda c: order.get(c.desired["obj"].kind, 0))
        return deletes + others

    # -- apply ------------------------------------------------------------------------------
    def apply(self, changes: list[Change]) -> ComponentResult:
        result = ComponentResult(COMPONENT)
        if not changes:
            return result
        state = self._state()
        state.setdefault("originals", {})
        for ch in changes:  # record first, so an interrupted apply can still be reset
            o = ch.desired["obj"]
            if o.kind == "sysctl" and ch.action != "delete" and o.info["path"] not in state["originals"]:
                state["originals"][o.info["path"]] = sysctl.read(o.info["path"])
            if o.kind == "device" and ch.action != "delete":
                state["device"] = o.info["name"]
        self._save(state)
        for ch in changes:
            try:
                getattr(self, f"_do_{ch.desired['obj'].kind}")(ch.action, ch.desired["obj"])
                result.results.append(ObjectResult(ch, True))
            except Exception as exc:  # a failure is this object's result
                result.results.append(ObjectResult(ch, False, str(exc)))
        return result

    def _do_sysctl(self, action: str, o: Obj) -> None:
        path = o.info["path"]
        if action == "delete":  # no longer wanted: put the original back
            state = self._state()
            original = state.get("originals", {}).pop(path, None)
            if original is not None and sysctl.read(path) not in (None, original):
                sysctl.write(path, original)
            self._save(state)
        else:
            sysctl.write(path, o.spec["value"])

    def _do_device(self, action: str, o: Obj) -> None:
        name = o.info["name"]
        nl.link_delete(name)  # also one with other settings or left by an interrupted apply
        if action == "delete":
            return
        s = o.spec
        nl.vxlan_unicast_add(name, s["vni"], s["port"], s["local"], s["lower"], s["mac"])
        nl.link_up(name)

    def _do_address(self, action: str, o: Obj) -> None:
        if action == "delete":
            nl.address_delete(o.info["dev"], o.info["ip"], o.info.get("plen", 32))
        else:
            nl.address_replace(o.info["dev"], o.info["ip"], 32)

    def _do_fdb(self, action: str, o: Obj) -> None:
        if action != "create":
            for mac, remote in nl.fdb_entries(o.info["dev"]).items():
                if mac == o.info["mac"]:
                    nl.fdb_del(o.info["dev"], mac, remote)
        if action != "delete":
            nl.fdb_set(o.info["dev"], o.info["mac"], o.spec["remote"])

    def _do_neighbour(self, action: str, o: Obj) -> None:
        if action == "delete":
            nl.neighbour_del(o.info["dev"], o.info["ip"])
        else:
            nl.neighbour_set(o.info["dev"], o.info["ip"], o.spec["mac"])

    def _do_route(self, action: str, o: Obj) -> None:
        if action == "delete":
            nl.route_del(o.info["dst"], PROTO)
        else:
            nl.route_set(o.info["dst"], PROTO, o.spec["gateway"], o.spec["dev"], o.spec["onlink"])

    def _do_nft(self, action: str, o: Obj) -> None:
        if action == "delete":
            nft.delete_table(NFT_FAMILY, NFT_TABLE)
        else:
            nft.replace_table(NFT_FAMILY, NFT_TABLE, o.spec["chains"], o.spec["rules"])

    def _do_htb(self, action: str, o: Obj) -> None:
        dev = o.info["dev"]
        if action == "delete":
            nl.root_qdisc_del(dev, "htb")
        else:
            nl.htb_add(dev, HANDLE)

    def _do_class(self, action: str, o: Obj) -> None:
        if action == "delete":
            nl.htb_class_del(o.info["dev"], HANDLE, o.info["classid"])
        else:
            nl.htb_class_set(o.info["dev"], HANDLE, o.info["classid"], o.spec["bps"])

    def _do_tbf(self, action: str, o: Obj) -> None:
        if o.info.get("error"):
            raise NetworkError(o.info["error"])
        if action == "delete":
            nl.root_qdisc_del(o.info["dev"], "tbf")
        else:
            nl.tbf_set(o.info["dev"], HANDLE, o.spec["bps"])

    def _do_state(self, action: str, o: Obj) -> None:
        state = self._state()
        state["device"] = o.spec["device"]
        self._save(state)

    # -- reset ------------------------------------------------------------------------------
    def reset(self) -> ComponentResult:
        """Remove every link, route, FDB entry, neighbour, nft table and qdisc this component made
        and restore the sysctls; the record goes last, and only when all of that succeeded."""
        result = ComponentResult(COMPONENT)
        try:
            state = self._state()
            observed = self.observe()
        except (st.StateCorrupt, OSError, nl.NetlinkError, nft.NftError) as e:
            result.error = str(e)
            return result
        for key, o in sorted(observed.items(), key=lambda kv: -KIND_ORDER.index(kv[1].kind)):
            if o.kind in ("fdb", "neighbour", "address") and f"device {o.info['dev']}" in observed:
                continue  # go with their device
            if o.kind == "class" and f"qdisc htb on {o.info['dev']}" in observed:
                continue
            record_step(result, key, lambda o=o: getattr(self, f"_do_{o.kind}")("delete", o))
        for path, value in sorted(state.get("originals", {}).items()):
            if value is not None and sysctl.read(path) not in (None, value):
                record_step(result, f"sysctl {path}", lambda path=path, value=value: sysctl.write(path, value))
        if st.exists(self.state_file) and result.ok:
            record_step(result, "state", lambda: st.remove(self.state_file))
        return result




def _nft_spec(table: list[dict]) -> dict:
    chains, rules = [], []
    for item in table:
        if "chain" in item:
            c = item["chain"]
            chains.append({k: c[k] for k in ("name", "type", "hook", "prio", "policy") if k in c})
        elif "rule" in item:
            r = item["rule"]
            rules.append({"chain": r["chain"], **({"comment": r["comment"]} if "comment" in r else {}), "expr": r["expr"]})
    return {"chains": sorted(chains, key=lambda c: c["name"]), "rules": rules}


def _differs(want: Obj, have: Obj) -> bool:
    if want.kind == "nft":
        return _nft_canonical(want.spec) != _nft_canonical(have.spec)
    return want.spec != have.spec


def _nft_canonical(spec: dict) -> tuple:
    import json

    return (json.dumps(sorted(spec["chains"], key=lambda c: c["name"]), sort_keys=True),
            sorted(json.dumps(r, sort_keys=True) for r in spec["rules"]))


def _summary(o: Obj) -> str:
    if o.kind == "nft":
        return "; ".join(r.get("comment", "?") for r in o.spec["rules"])
    bits = [f"{k}={v}" for k, v in o.spec.items() if v is not None]
    if o.info.get("pod"):
        bits.append(f"pod {o.info['pod']}")
    return " ".join(bits)


def _drift(want: Obj, have: Obj) -> str:
    if want.kind == "nft":
        w = {json_rule(r) for r in want.spec["rules"]}
        h = {json_rule(r) for r in have.spec["rules"]}
        missing = sorted(r.split("\t")[0] for r in w - h)
        extra = sorted(r.split("\t")[0] for r in h - w)
        parts = [f"missing: {', '.join(missing)}"] if missing else []
        parts += [f"unexpected: {', '.join(extra)}"] if extra else []
        return "; ".join(parts) or "chains differ"
    return ", ".join(f"{k} {have.spec.get(k)} -> {v}" for k, v in want.spec.items() if have.spec.get(k) != v)


def json_rule(r: dict) -> str:
    import json

    return f"{r.get('comment', 'rule without comment')}\t{json.dumps(r, sort_keys=True)}"
