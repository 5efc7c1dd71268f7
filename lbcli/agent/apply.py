"""One-shot apply on a node: for every component observe -> diff -> apply, in dependency order,
under a lock in the state directory; the applied plan is recorded only when everything
converged, so a failed run leaves the previous record (and the previous working state of the
component that failed) in place and the next run picks up from what it observes.

A node never announces what it cannot serve: BGP runs last, and a VIP for which an earlier
component failed on this node is taken out of the plan BGP gets (so it is not announced, or is
withdrawn if it was); the report lists it with the reason and apply exits 1. Granularity is
per object where the reconciler says which VIPs an object serves (`Change.vips`: a datapath
service entry or Maglev table), else every VIP the failed component serves on this node.

A dry run runs, besides observe and diff, every check a real apply makes before it touches
the host (`preflight`: bird -p, haproxy -c on configs rendered to a temporary directory), so
it reports every failure a real apply would.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..plan.types import NodePlan
from . import state as st
from .reconciler import Change, ComponentResult, NodeContext

DEFAULT_STATE_DIR = Path("/var/lib/cilium-lb")
DEFAULT_BPF_ROOT = Path("/sys/fs/bpf/cilium-lb")
APPLIED = "applied-plan.json"


class LockTimeout(Exception):
    pass


# apply takes the typed plan (lbcli/plan/types.py: checked, every default resolved by the
# compiler); the component readers still walk its JSON form (`plan.to_json()`, the same values,
# every key present) until they are ported to the types.
def _network(ctx):
    from .network.reconciler import NetworkReconciler

    return NetworkReconciler(ctx), lambda rec, plan, secrets: plan.to_json()


def _receive(ctx):
    from .receive import ReceiveReconciler

    return ReceiveReconciler(ctx), lambda rec, plan, secrets: plan.to_json()


def _datapath(ctx):
    from .datapath.reconciler import DatapathReconciler

    return DatapathReconciler(ctx), lambda rec, plan, secrets: plan.to_json()


def _l7(ctx):
    from .l7.reconciler import L7Reconciler

    return L7Reconciler(ctx), lambda rec, plan, secrets: rec.desired(plan.to_json(), secrets)


def _bgp(ctx):
    from .bgp.reconciler import BgpReconciler

    return BgpReconciler(ctx), lambda rec, plan, secrets: rec.desired(plan.to_json(), secrets)


# Order matters: pod networking first (it serves no VIP), tier 2 can receive before tier 1
# sends to it, and BGP announces last (so a VIP attracts traffic only once the node can serve it).
COMPONENTS: list[tuple[str, Callable]] = [("network", _network), ("receive", _receive), ("l7", _l7), ("datapath", _datapath), ("bgp", _bgp)]


@dataclass(frozen=True)
class Withheld:
    """A prefix the plan announces from this node that apply left out of BGP."""

    prefix: str
    reason: str


@dataclass
class ApplyReport:
    node: str
    dry_run: bool
    components: list[ComponentResult] = field(default_factory=list)
    planned: dict[str, list[Change]] = field(default_factory=dict)  # dry-run: what would change
    recorded: bool = False
    withheld: list[Withheld] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.components) and not self.withheld

    @property
    def changes(self) -> int:
        if self.dry_run:
            return sum(len(v) for v in self.planned.values())
        return sum(len(c.results) for c in self.components)

    def to_dict(self) -> dict:
        comps = []
        for c in self.components:
            items = self.planned.get(c.component, []) if self.dry_run else [r.change for r in c.results]
            oks = {id(r.change): r for r in c.results}
            comps.append({
                "name": c.component, "ok": c.ok, "degraded": c.degraded, "error": c.error,
                "notes": list(c.notes),
                "changes": [{"action": ch.action, "object": ch.object, "detail": ch.detail,
                             "ok": oks[id(ch)].ok if id(ch) in oks else None,
                             "error": oks[id(ch)].error if id(ch) in oks else None} for ch in items],
            })
        return {"node": self.node, "dryRun": self.dry_run, "ok": self.ok, "changes": self.changes,
                "recorded": self.recorded, "components": comps,
                "withheld": [{"prefix": w.prefix, "reason": w.reason} for w in self.withheld]}


def node_dir(ctx: NodeContext) -> Path:
    return ctx.state_dir / ctx.node


@contextmanager
def node_lock(ctx: NodeContext, timeout: float = 120.0) -> Iterator[None]:
    """Serialise applies on one node (a flock in its state directory; released on exit, also
    when the process is killed)."""
    d = node_dir(ctx)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(d / "apply.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"another cilium-lb apply holds {d / 'apply.lock'} (waited {timeout:.0f} s)")
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def apply_plan(ctx: NodeContext, plan: NodePlan, secrets: dict, progress: Callable[[str], None] | None = None,
               only: set[str] | None = None) -> ApplyReport:
    """Carry out `plan` on this node with `secrets` ("ns/name" -> key -> bytes, checked against
    the plan's digests by the caller: lbcli/plan/secrets.py)."""

    report = ApplyReport(ctx.node, ctx.dry_run)
    with node_lock(ctx):
        for name, make in COMPONENTS:
            if only is not None and name not in only:
                continue
            if progress:
                progress(name)
            comp_plan = plan
            if name == "bgp":
                comp_plan, report.withheld = gate_announcements(plan, report.components)
            report.components.append(_run(name, make, ctx, comp_plan, secrets, report))
        if not ctx.dry_run and report.ok:
            st.write_bytes(node_dir(ctx) / APPLIED, plan_bytes(plan), 0o600)
            report.recorded = True
    return report


def plan_bytes(plan: NodePlan) -> bytes:
    """Canonical bytes of a plan (as `compile` writes them)."""
    import orjson

    return orjson.dumps(plan.to_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def served_vips(component: str, plan: NodePlan) -> set[str]:
    """The VIPs `component` makes this node serve, per the plan."""
    if component == "datapath" and plan.tier1 is not None:
        return {s.vip for s in plan.tier1.services}
    if component == "receive" and plan.tier2 is not None:
        return set(plan.tier2.vips)
    if component == "l7" and plan.tier2 is not None:
        return {lst.vip for lst in plan.tier2.listeners}
    return set()


def unserved(plan: NodePlan, results: list[ComponentResult]) -> dict[str, str]:
    """VIP -> why this node cannot serve it, from the failures of the components run so far."""
    out: dict[str, str] = {}
    for res in results:
        serves = served_vips(res.component, plan)
        if res.error:
            for vip in sorted(serves):
                out.setdefault(vip, f"{res.component} failed: {res.error}")
        for r in res.results:
            if not r.ok:
                vips = serves if r.change.vips is None else set(r.change.vips)
                for vip in sorted(vips):
                    out.setdefault(vip, f"{res.component} {r.change.object} failed: {r.error}")
    return out


def gate_announcements(plan: NodePlan, results: list[ComponentResult]) -> tuple[NodePlan, list[Withheld]]:
    """The plan BGP may carry out (prefixes holding a VIP this node cannot serve removed) and
    what was removed, with the reason."""
    from dataclasses import replace

    bad = unserved(plan, results)
    if not bad or plan.bgp is None:
        return plan, []
    addrs = {}
    for vip, why in bad.items():
        try:
            addrs[ipaddress.ip_address(vip)] = why
        except ValueError:
            continue
    withheld: dict[str, str] = {}
    instances = []
    for inst in plan.bgp.instances:
        peers = []
        for peer in inst.peers:
            keep = []
            for ad in peer.prefixes:
                why = _covers(ad.prefix, addrs)
                if why is None:
                    keep.append(ad)
                else:
                    withheld.setdefault(ad.prefix, why)
            peers.append(replace(peer, prefixes=tuple(keep)))
        instances.append(replace(inst, peers=tuple(peers)))
    if not withheld:
        return plan, []
    gated = replace(plan, bgp=replace(plan.bgp, instances=tuple(instances)))
    return gated, [Withheld(p, withheld[p]) for p in sorted(withheld)]


def _covers(prefix, addrs: dict) -> str | None:
    try:
        net = ipaddress.ip_network(str(prefix), strict=False)
    except ValueError:
        return None
    return next((why for a, why in addrs.items() if a.version == net.version and a in net), None)


def _run(name: str, make, ctx: NodeContext, plan: dict, secrets: dict, report: ApplyReport) -> ComponentResult:
    rec = None
    try:
        rec, desired_of = make(ctx)
        desired = desired_of(rec, plan, secrets)
        changes = rec.diff(desired, rec.observe())
        if ctx.dry_run:
            report.planned[name] = changes
            preflight = getattr(rec, "preflight", None)
            result = preflight(changes) if preflight and changes else ComponentResult(name)
        else:
            result = rec.apply(changes)
    except Exception as e:  # a component failure is a result, never a traceback
        result = ComponentResult(name, error=_message(name, e))
    result.notes = list(getattr(rec, "notes", [])) + result.notes
    return result


def _message(name: str, e: Exception) -> str:
    if isinstance(e, st.StateCorrupt) or str(e).startswith(name):
        return str(e)
    return f"{type(e).__name__}: {e}"


def reset_node(ctx: NodeContext) -> list[ComponentResult]:
    results = []
    with node_lock(ctx):
        for name, make in reversed(COMPONENTS):  # BGP first: stop attracting traffic
            rec = None
            try:
                rec, _ = make(ctx)
                res = rec.reset()
            except Exception as e:
                res = ComponentResult(name, error=_message(name, e))
            res.notes = list(getattr(rec, "notes", [])) + res.notes
            results.append(res)
        if all(r.ok for r in results):
            st.remove(node_dir(ctx) / APPLIED)
    return results


def applied_plan(state_dir: Path | str, node: str) -> NodePlan | None:
    """The plan last recorded on `node`; None when nothing was applied yet. A record that is not
    a plan raises ValueError, an unreadable one OSError."""
    from ..plan.read import read_plan  # PlanError (a ValueError) names the file and what is wrong

    p = Path(state_dir) / node / APPLIED
    if not p.exists():
        return None
    return read_plan(p)
