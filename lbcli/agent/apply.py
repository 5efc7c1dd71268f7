"""One-shot apply on a node: for every component observe -> diff -> apply, in dependency order,
under a lock in the state directory; the applied plan is recorded only when everything
converged, so a failed run leaves the previous record (and the previous working state of the
component that failed) in place and the next run picks up from what it observes.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .reconciler import Change, ComponentResult, NodeContext

DEFAULT_STATE_DIR = Path("/var/lib/cilium-lb")
DEFAULT_BPF_ROOT = Path("/sys/fs/bpf/cilium-lb")
APPLIED = "applied-plan.json"


class LockTimeout(Exception):
    pass


def _receive(ctx):
    from .receive import ReceiveReconciler

    return ReceiveReconciler(ctx), lambda rec, plan, secrets: plan


def _datapath(ctx):
    from .datapath.reconciler import DatapathReconciler

    return DatapathReconciler(ctx), lambda rec, plan, secrets: plan


def _l7(ctx):
    from .l7.reconciler import L7Reconciler

    return L7Reconciler(ctx), lambda rec, plan, secrets: rec.desired(plan, secrets)


def _bgp(ctx):
    from .bgp.reconciler import BgpReconciler

    return BgpReconciler(ctx), lambda rec, plan, secrets: rec.desired(plan, secrets)


# Order matters: tier 2 can receive before tier 1 sends to it, and BGP announces last (so a
# VIP attracts traffic only once the node can serve it).
COMPONENTS: list[tuple[str, Callable]] = [("receive", _receive), ("l7", _l7), ("datapath", _datapath), ("bgp", _bgp)]


@dataclass
class ApplyReport:
    node: str
    dry_run: bool
    components: list[ComponentResult] = field(default_factory=list)
    planned: dict[str, list[Change]] = field(default_factory=dict)  # dry-run: what would change
    recorded: bool = False

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.components)

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
                "changes": [{"action": ch.action, "object": ch.object, "detail": ch.detail,
                             "ok": oks[id(ch)].ok if id(ch) in oks else None,
                             "error": oks[id(ch)].error if id(ch) in oks else None} for ch in items],
            })
        return {"node": self.node, "dryRun": self.dry_run, "ok": self.ok, "changes": self.changes,
                "recorded": self.recorded, "components": comps}


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


def apply_plan(ctx: NodeContext, plan: dict, secrets: dict, progress: Callable[[str], None] | None = None,
               only: set[str] | None = None) -> ApplyReport:
    from ..compile.plan import dumps

    report = ApplyReport(ctx.node, ctx.dry_run)
    with node_lock(ctx):
        for name, make in COMPONENTS:
            if only is not None and name not in only:
                continue
            if progress:
                progress(name)
            report.components.append(_run(name, make, ctx, plan, secrets, report))
        if not ctx.dry_run and report.ok:
            _write_atomic(node_dir(ctx) / APPLIED, dumps(plan), 0o600)
            report.recorded = True
    return report


def _run(name: str, make, ctx: NodeContext, plan: dict, secrets: dict, report: ApplyReport) -> ComponentResult:
    try:
        rec, desired_of = make(ctx)
        desired = desired_of(rec, plan, secrets)
        changes = rec.diff(desired, rec.observe())
        if ctx.dry_run:
            report.planned[name] = changes
            return ComponentResult(name)
        return rec.apply(changes)
    except Exception as e:  # a component failure is a result, never a traceback
        return ComponentResult(name, error=f"{type(e).__name__}: {e}" if not str(e).startswith(name) else str(e))


def reset_node(ctx: NodeContext) -> list[ComponentResult]:
    results = []
    with node_lock(ctx):
        for name, make in reversed(COMPONENTS):
            try:
                rec, _ = make(ctx)
                results.append(rec.reset())
            except Exception as e:
                results.append(ComponentResult(name, error=f"{type(e).__name__}: {e}"))
        if all(r.ok for r in results):
            (node_dir(ctx) / APPLIED).unlink(missing_ok=True)
    return results


def applied_plan(state_dir: Path | str, node: str) -> dict | None:
    """The plan last recorded on `node`; None when nothing was applied yet. A record that is not
    a plan raises ValueError, an unreadable one OSError."""
    from ..compile.output import read_plan

    p = Path(state_dir) / node / APPLIED
    if not p.exists():
        return None
    plan = read_plan(p)
    if plan is None:
        raise ValueError(f"{p}: not a NodePlan (corrupt state? re-run apply)")
    return plan


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
