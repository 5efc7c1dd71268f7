"""The reconciler contract every node component follows (after cilium's statedb reconciler).

observe() reads what the host has; diff() compares it with the desired state from the plan and
returns the changes; apply() carries them out one object at a time. Updates are idempotent,
deleting what is already gone is success, pruning is against the whole desired set, and every
object gets its own result so one failure does not hide the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class NodeContext:
    """Where a node's agent acts: everything it creates is named from `node` and lives under
    `state_dir` / `bpf_root`, so several nodes run on one machine (one netns each)."""

    node: str
    state_dir: Path
    bpf_root: Path
    dry_run: bool = False


@dataclass(frozen=True)
class Change:
    component: str
    action: Action
    object: str  # a stable, human-readable id, e.g. "vip 100.64.0.101:443/TCP"
    detail: str = ""  # what differs, e.g. "slots written: 12"; never a secret
    desired: Any = None  # the reconciler's own payload for apply(); not rendered
    observed: Any = None
    # the VIPs a failure of this object keeps the node from serving; None: every VIP the
    # component serves (apply then does not announce them: lbcli.agent.apply.withheld)
    vips: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ObjectResult:
    change: Change
    ok: bool
    error: str | None = None


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


class Reconciler(Protocol):
    """One per component (datapath, receive, network, bgp, l7)."""

    name: str

    def observe(self) -> Any:
        """Read the host's current state of this component; never changes anything."""

    def diff(self, desired: Any, observed: Any) -> list[Change]:
        """The changes that turn `observed` into `desired`; empty when converged."""

    def apply(self, changes: list[Change]) -> ComponentResult:
        """Carry out `changes`; each object's outcome is recorded, failures do not raise."""

    def reset(self) -> ComponentResult:
        """Remove everything this component created on the node."""


def record_step(result: ComponentResult, obj: str, fn, action: Action = "delete") -> None:
    """Run one step (of a reset, typically) and record its outcome in `result`: a failure is a
    result naming the object, never an exception that would skip the remaining steps."""
    ch = Change(result.component, action, obj)
    try:
        fn()
        result.results.append(ObjectResult(ch, True))
    except Exception as exc:
        result.results.append(ObjectResult(ch, False, str(exc)))
