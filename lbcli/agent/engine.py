"""The node engine: carries out a typed plan on this node. For every component, in dependency
order and under a lock in the state directory: desired -> observe -> diff -> apply per object
(the contract: lbcli/agent/reconciler.py), with bounded retries of transient failures and one
result per object. The applied plan is recorded only when everything converged, so a failed
run leaves the previous record (and the previous working state of the component that failed)
in place and the next run picks up from what it observes.

statedb's contract: an update is idempotent (components compare before they change), deleting
what is already missing is success (ENOENT, ENODEV, ESRCH on a delete), pruning is against the
full desired set (each component's diff), a status per object.

A node never announces what it cannot serve: BGP runs last, and a VIP for which an earlier
component failed on this node is taken out of the plan BGP gets (so it is not announced, or is
withdrawn if it was); the report lists it with the reason and apply exits 1. Granularity is
per object where the reconciler says which VIPs an object serves (`Change.vips`: a datapath
service entry or Maglev table), else every VIP the failed component serves on this node. The
same holds for the node's own PodCIDRs (advertisementType PodCIDR): served by the network
component, not announced when it failed here (except for objects that say they serve nothing).

A dry run runs, besides observe and diff, every check a real apply makes before it touches
the host (`preflight`: bird -p, haproxy -c on configs rendered to a temporary directory), so
it reports every failure a real apply would.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from ..plan.types import NodePlan
from ..plan.read import APPLIED
from . import state as st
from .reconciler import Change, Component, ComponentResult, Degraded, NodeContext, ObjectResult

DEFAULT_STATE_DIR = Path("/var/lib/cilium-lb")
DEFAULT_BPF_ROOT = Path("/sys/fs/bpf/cilium-lb")


class LockTimeout(Exception):
    pass


def _network(ctx):
    from .network.reconciler import NetworkReconciler

    return NetworkReconciler(ctx)


def _receive(ctx):
    from .receive import ReceiveReconciler

    return ReceiveReconciler(ctx)


def _datapath(ctx):
    from .datapath.reconciler import DatapathReconciler

    return DatapathReconciler(ctx)


def _l7(ctx):
    from .l7.reconciler import L7Reconciler

    return L7Reconciler(ctx)


def _bgp(ctx):
    from .bgp.reconciler import BgpReconciler

    return BgpReconciler(ctx)


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
                             "error": oks[id(ch)].error if id(ch) in oks else None,
                             "attempts": oks[id(ch)].attempts if id(ch) in oks else 0} for ch in items],
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


def served_prefixes(component: str, plan: NodePlan) -> set[str]:
    """The prefixes (not single VIPs) `component` makes this node serve: its own PodCIDRs,
    reachable through the pod network."""
    if component == "network":
        return {str(ipaddress.ip_network(c, strict=False)) for c in plan.node.pod_cidrs}
    return set()


def unserved(plan: NodePlan, results: list[ComponentResult]) -> dict[str, str]:
    """VIP or prefix (a PodCIDR) -> why this node cannot serve it, from the failures of the
    components run so far."""
    out: dict[str, str] = {}
    for res in results:
        serves = served_vips(res.component, plan) | served_prefixes(res.component, plan)
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
    bad = unserved(plan, results)
    if not bad or plan.bgp is None:
        return plan, []
    addrs, nets = {}, {}
    for key, why in bad.items():
        try:
            if "/" in key:
                nets[ipaddress.ip_network(key, strict=False)] = why
            else:
                addrs[ipaddress.ip_address(key)] = why
        except ValueError:
            continue
    withheld: dict[str, str] = {}
    instances = []
    for inst in plan.bgp.instances:
        peers = []
        for peer in inst.peers:
            keep = []
            for ad in peer.prefixes:
                why = _covers(ad.prefix, addrs, nets)
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


def _covers(prefix, addrs: dict, nets: dict) -> str | None:
    """Why `prefix` must not be announced: it is an unserved prefix, or holds an unserved VIP."""
    try:
        net = ipaddress.ip_network(str(prefix), strict=False)
    except ValueError:
        return None
    if net in nets:
        return nets[net]
    return next((why for a, why in addrs.items() if a.version == net.version and a in net), None)


# Transient failures worth another attempt (a busy netlink object, an interrupted call); a
# rejected config or a missing feature fails the same way again and is not retried.
RETRY_ERRNOS = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ENOBUFS})
ATTEMPTS = 3
RETRY_DELAY = 0.05  # seconds, doubled per attempt
# On a delete, the object being gone already is the goal reached.
GONE_ERRNOS = frozenset({errno.ENOENT, errno.ENODEV, errno.ESRCH})


def _errno(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]  # pyroute2's NetlinkError(code, msg)
    cause = exc.__cause__ or exc.__context__
    return code if code is not None or cause is None else _errno(cause)


def _attempt(fn, verbs: set[str]):
    """Run `fn` up to ATTEMPTS times while it fails transiently; (value, error, attempts)."""
    delay = RETRY_DELAY
    for n in range(1, ATTEMPTS + 1):
        try:
            return fn(), None, n
        except Degraded:
            raise
        except Exception as exc:  # one object's failure is a result, never a traceback
            code = _errno(exc)
            if verbs == {"delete"} and code in GONE_ERRNOS:
                return None, None, n
            if code not in RETRY_ERRNOS or n == ATTEMPTS:
                return None, exc, n
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def execute(comp: Component, changes: list[Change]) -> ComponentResult:
    """Carry out `changes` (in their order) with per-object results; the component's state
    before the first failure of a `critical` change is kept, what follows is not attempted."""
    result = ComponentResult(comp.name)
    prepare = getattr(comp, "prepare", None)
    if prepare and changes:
        prepare(changes)
    i = 0
    try:
        while i < len(changes):
            ch = changes[i]
            j = i + 1
            if ch.batch is not None:
                while j < len(changes) and changes[j].batch == ch.batch:
                    j += 1
            group = changes[i:j]
            i = j
            verbs = {c.action for c in group}
            try:
                if ch.batch is None:
                    detail, exc, n = _attempt(lambda: comp.apply(ch), verbs)
                    details = [detail]
                else:
                    details, exc, n = _attempt(lambda: comp.apply_batch(group), verbs)
                    details = details or [None] * len(group)
            except Degraded as d:
                result.degraded = str(d)
                result.results += [ObjectResult(c, False, str(d)) for c in group]
                continue
            if exc is not None:
                msg = str(exc) or type(exc).__name__
                result.results += [ObjectResult(c, False, msg, n) for c in group]
                if any(c.critical for c in group):
                    result.error = msg if ch.batch else f"{ch.object}: {msg}"
                    break
                continue
            for c, detail in zip(group, details):
                c = replace(c, detail=detail) if detail else c
                result.results.append(ObjectResult(c, True, None, n))
    finally:
        finish = getattr(comp, "finish", None)
        if finish:
            finish(result)
    return result


def run_component(comp: Component, plan: NodePlan, secrets: dict, dry_run: bool = False,
                  ) -> tuple[list[Change], ComponentResult]:
    """desired -> observe -> diff -> apply (or, in a dry run, preflight) for one component: the
    one place this is written. A component that cannot even diff is an error result."""
    changes: list[Change] = []
    try:
        desired = comp.desired(plan, secrets)
        changes = comp.diff(desired, comp.observe())
        if dry_run:
            preflight = getattr(comp, "preflight", None)
            result = preflight(changes) if preflight and changes else ComponentResult(comp.name)
        else:
            result = execute(comp, changes)
    except Exception as e:  # a component failure is a result, never a traceback
        result = ComponentResult(comp.name, error=_message(comp.name, e))
    result.notes = list(getattr(comp, "notes", [])) + result.notes
    return changes, result


def _run(name: str, make, ctx: NodeContext, plan: NodePlan, secrets: dict, report: ApplyReport) -> ComponentResult:
    try:
        comp = make(ctx)
    except Exception as e:
        return ComponentResult(name, error=_message(name, e))
    changes, result = run_component(comp, plan, secrets, ctx.dry_run)
    if ctx.dry_run:
        report.planned[name] = changes
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
                rec = make(ctx)
                res = rec.reset()
            except Exception as e:
                res = ComponentResult(name, error=_message(name, e))
            res.notes = list(getattr(rec, "notes", [])) + res.notes
            results.append(res)
        if all(r.ok for r in results):
            st.remove(node_dir(ctx) / APPLIED)
    return results
