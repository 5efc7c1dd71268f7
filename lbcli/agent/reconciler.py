"""The contract between the node engine (lbcli/agent/engine.py) and its components (after
cilium's statedb reconciler).

A component supplies four things and nothing else:

* ``desired(plan, secrets)`` — what the typed plan asks of it (``None``: nothing on this node);
* ``observe()`` — what the host has; never changes anything;
* ``diff(desired, observed)`` — the changes, one per object, each a :class:`Change` whose
  ``spec`` is a typed value of the component's own (a frozen dataclass per object kind);
  pruning is against the whole desired set; empty when converged;
* ``apply(change)`` — carry out one change (returns an optional detail, raises on failure);
  objects carried out together (one Maglev map write, one bird.conf) share ``Change.batch`` and
  go to ``apply_batch(changes)`` instead.

Optional hooks: ``prepare(changes)`` (record names before the host is touched, so an
interrupted apply can still be reset), ``finish(result)`` (close handles, report degraded
sessions), ``preflight(changes)`` (the checks a dry run makes) and ``reset()``.

The engine owns the rest: lock, order, dry run, bounded retries, one status per object,
deleting what is already gone counts as success, and the applied record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..plan.change import Verb

Action = Verb  # the name the components and reports used before the engine


@dataclass(frozen=True)
class NodeContext:
    """Where a node's agent acts: everything it creates is named from `node` and lives under
    `state_dir` / `bpf_root`, so several nodes run on one machine (one netns each)."""

    node: str
    state_dir: Path
    bpf_root: Path
    dry_run: bool = False
    datapath: str = "tc"  # tier-1 program flavour: "tc" (default) or "xdp" (native XDP on the uplink)


@dataclass(frozen=True)
class Change:
    """One object to create, update or delete on this node."""

    component: str
    action: Verb
    object: str  # a stable, human-readable id, e.g. "service 100.64.0.101:443/TCP"
    detail: str = ""  # what differs, e.g. "slots written: 12"; never a secret
    spec: Any = field(default=None, compare=False, repr=False)  # the component's typed value
    # the VIPs a failure of this object keeps the node from serving; None: every VIP the
    # component serves (the engine then does not announce them: engine.gate_announcements)
    vips: tuple[str, ...] | None = None
    batch: str | None = None  # changes carried out together by apply_batch()
    critical: bool = False  # a failure stops the component: what follows depends on it


@dataclass(frozen=True)
class ObjectResult:
    change: Change
    ok: bool
    error: str | None = None
    attempts: int = 1


@dataclass
class ComponentResult:
    component: str
    results: list[ObjectResult] = field(default_factory=list)
    # degraded: the component could not do its whole job (e.g. a BGP peer down) but the
    # rest of the node converged; error: it failed and left the previous state in place
    degraded: str | None = None
    error: str | None = None
    # what the reader should know although nothing failed (e.g. a state file recovered)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.ok for r in self.results)

    @property
    def changed(self) -> int:
        return sum(1 for r in self.results if r.ok)


class Degraded(Exception):
    """Raised by apply: the object could not be carried out for a reason outside the plan (a
    daemon not installed); reported as `degraded`, not as the component's error."""


class Component(Protocol):
    """One per node component (network, receive, l7, datapath, bgp)."""

    name: str

    def desired(self, plan: Any, secrets: Any) -> Any: ...

    def observe(self) -> Any: ...

    def diff(self, desired: Any, observed: Any) -> list[Change]: ...

    def apply(self, change: Change) -> str | None: ...

    def reset(self) -> ComponentResult: ...


def record_step(result: ComponentResult, obj: str, fn, action: Verb = "delete") -> None:
    """Run one step (of a reset, typically) and record its outcome in `result`: a failure is a
    result naming the object, never an exception that would skip the remaining steps."""
    ch = Change(result.component, action, obj)
    try:
        fn()
        result.results.append(ObjectResult(ch, True))
    except Exception as exc:
        result.results.append(ObjectResult(ch, False, str(exc)))


def reset_or_raise(component) -> None:
    """Carry out a Teardown change: the component's reset, raising what failed (so the engine
    records the change as failed, naming each object that could not be removed)."""
    res = component.reset()
    if not res.ok:
        raise RuntimeError(res.error or "; ".join(f"{r.change.object}: {r.error}" for r in res.results if not r.ok))
