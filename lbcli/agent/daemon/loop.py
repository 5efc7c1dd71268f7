"""The agent loop. One thread reconciles; the watcher, the signal handlers and the HTTP server
only ask for a run. Triggers:

    start   the first run: adopts what runs (a converged host changes nothing)
    source  the watched sources changed (debounced): reload them, then reconcile
    reload  SIGHUP: the same, on demand
    period  every `interval` seconds since the last run: drift repair (every change it makes
            is a drift repair: the sources did not change, the host did)
    health  a tier-2 node failed or recovered for a service (lbcli/agent/health/): every run
            carries out the health-adjusted plan, so this one moves the tables or the VIP

A source that no longer loads (a manifest with errors, a Secret that does not match the plan)
is logged and the plan in force stays: the node keeps serving and keeps being repaired.
SIGTERM/SIGINT stop the loop after the run in progress; nothing is torn down.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..reconciler import NodeContext
from .events import EventLog, change_records


BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)  # run durations (s)


class SourceError(Exception):
    """The sources could not be turned into a plan; the message says why (already located)."""


@dataclass
class RunInfo:
    trigger: str
    started: float  # wall clock
    duration: float
    ok: bool
    changes: int
    error: str | None = None


@dataclass
class Stats:
    runs: dict[str, int] = field(default_factory=dict)          # trigger -> runs
    errors: int = 0                                             # runs that did not converge
    drift_repairs: dict[str, int] = field(default_factory=dict)  # component -> changes made by period runs
    changes: dict[tuple[str, str], int] = field(default_factory=dict)  # (component, action) -> count
    duration_sum: float = 0.0
    duration_buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))  # cumulative per le
    last: RunInfo | None = None
    source_errors: int = 0
    last_source_error: str | None = None


class Agent:
    def __init__(self, ctx: NodeContext, load: Callable[[], tuple[Any, dict]], log: EventLog,
                 watch: list[Path] | None = None, interval: float = 5.0, debounce_ms: int = 300,
                 apply: Callable | None = None) -> None:
        if interval <= 0:
            raise ValueError("the reconcile interval must be positive")
        self.ctx, self.load, self.log = ctx, load, log
        self.watch_paths = list(watch or [])
        self.interval, self.debounce_ms = interval, debounce_ms
        self._apply = apply
        self.plan: Any = None
        self.secrets: dict = {}
        self.report: dict | None = None
        self.stats = Stats()
        self.lock = threading.Lock()  # guards plan/report/stats for the HTTP server
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._stopping = False
        self.started = time.time()
        self.health: Any = None  # lbcli.agent.health.monitor.HealthMonitor, when tier 1 checks tier 2

    # -- asking for a run (any thread, signal handlers) -------------------------------------
    def request(self, trigger: str) -> None:
        with self._cond:
            self._pending.append(trigger)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Load the sources (SourceError when they do not load: nothing was run yet)."""
        self.plan, self.secrets = self.load()
        self.log.emit({"event": "start", "interval": self.interval, "watching": len(self.watch_paths)})
        if self.health is not None:
            self.health.set_plan(self.plan, seed_from_host=True)

    def run(self, install_signals: bool = True, max_runs: int | None = None) -> None:
        from .watch import Watcher

        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
            signal.signal(signal.SIGHUP, lambda *_: self.request("reload"))
        watcher = Watcher(self.watch_paths, lambda paths: self.request("source"), self.debounce_ms)
        watcher.start()
        try:
            trigger: str | None = "start"
            runs = 0
            while trigger is not None:
                self.reconcile(trigger)
                runs += 1
                if max_runs is not None and runs >= max_runs:
                    break
                trigger = self._next()
        finally:
            watcher.stop()
            if self.health is not None:
                self.health.stop()
            self.log.emit({"event": "stop", "detail": "the datapath, BIRD and HAProxy keep serving"})

    def _next(self) -> str | None:
        """The next trigger: one asked for, else `period` when the interval is over; None to stop."""
        deadline = time.monotonic() + self.interval
        with self._cond:
            while not self._stopping and not self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "period"
                self._cond.wait(left)
            if self._stopping:
                return None
            pending, self._pending = self._pending, []
        # a reload or source change wins over anything else asked for meanwhile
        return "reload" if "reload" in pending else ("source" if "source" in pending else pending[0])

    def reconcile(self, trigger: str) -> RunInfo:
        if trigger in ("source", "reload"):
            try:
                plan, secrets = self.load()
            except SourceError as e:
                with self.lock:
                    self.stats.source_errors += 1
                    self.stats.last_source_error = str(e)
                self.log.emit({"event": "source-rejected", "trigger": trigger, "error": str(e),
                               "detail": "the plan in force stays"}, level="error")
            else:
                if plan != self.plan or secrets != self.secrets:
                    self.log.emit({"event": "plan", "trigger": trigger, "detail": "new plan loaded"})
                    if self.health is not None:
                        self.health.set_plan(plan)
                with self.lock:
                    self.plan, self.secrets = plan, secrets
        t0, wall = time.monotonic(), time.time()
        error = None
        doc: dict = {}
        try:
            report = self._apply_plan(self.ctx, self.plan, self.secrets, trigger)
            doc = report.to_dict()
        except Exception as e:  # a lock timeout, an unexpected bug: logged, the loop goes on
            error = f"{type(e).__name__}: {e}"
        dt = time.monotonic() - t0
        records = change_records(doc, trigger) if doc else []
        info = RunInfo(trigger, wall, dt, bool(doc.get("ok")) and error is None, int(doc.get("changes", 0)), error)
        with self.lock:
            s = self.stats
            s.runs[trigger] = s.runs.get(trigger, 0) + 1
            s.duration_sum += dt
            for i, le in enumerate(BUCKETS):
                s.duration_buckets[i] += dt <= le
            s.errors += 0 if info.ok else 1
            for r in records:
                if r["event"] == "change" and r["ok"]:
                    key = (r["component"], r["action"])
                    s.changes[key] = s.changes.get(key, 0) + 1
                    if trigger == "period":
                        s.drift_repairs[r["component"]] = s.drift_repairs.get(r["component"], 0) + 1
            s.last = info
            if doc:
                self.report = doc
        self.log.emit_all(records)
        if error:
            self.log.emit({"event": "run-failed", "trigger": trigger, "error": error}, level="error")
        return info

    def _apply_plan(self, ctx, plan, secrets, trigger: str = ""):
        if self.health is not None:
            plan = self.health.adjust(plan)
        if self._apply is not None:
            report = self._apply(ctx, plan, secrets)
        else:
            from ..engine import apply_plan

            # a health transition changes tables (and announcements) only: run just those (the
            # next period run still checks everything)
            only = self.health.components() if trigger == "health" and self.health is not None else None
            report = apply_plan(ctx, plan, secrets, only=only)
        if self.health is not None:
            self.health.after_apply(report)
        return report
