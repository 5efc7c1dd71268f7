"""The agent loop. One thread reconciles; the watcher, the signal handlers and the HTTP server
only ask for a run. Triggers:

    start   the first run: adopts what runs (a converged host changes nothing)
    source  the watched sources changed (debounced): reload them, then reconcile (files are
            watched here; a feed such as the cluster watch of `agent --kube` asks the same)
    reload  SIGHUP: the same, on demand
    event   the kernel (netlink) or a daemon's exit (pidfd) said something changed
            (lbcli/agent/daemon/monitor.py): a run of just the components concerned (plus
            BGP, which gates announcements on them), debounced
    period  every `interval` seconds since the last full run: the safety net for drift no
            event reports (a sysctl, a map slot, a daemon's state changed through its socket)
    health  a tier-2 node failed or recovered for a service (lbcli/agent/health/): every run
            carries out the health-adjusted plan, so this one moves the tables or the VIP

Every change an `event` or `period` run makes is a drift repair: the sources did not change,
the host did. An event run widens to a full run when the last run did not converge (a
component that failed then is not known to be fine now). Event runs that keep changing things
(something fights the agent, or a change that never reads back as converged) back off
exponentially up to the period, so a fight costs a bounded share of a core, not all of it.

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


EVENT_STREAK = 3  # event runs in a row with changes before the next one waits
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
    last_event: str | None = None  # what the last event burst was (netlink messages, daemon exits)


HEALTH_SCOPE = "health"  # the scope of a `health` run until the adjust says what it moved


class Agent:
    def __init__(self, ctx: NodeContext, load: Callable[[], tuple[Any, dict]], log: EventLog,
                 watch: list[Path] | None = None, interval: float = 5.0, debounce_ms: int = 300,
                 apply: Callable | None = None, events: bool = False, event_debounce: float = 0.1,
                 feeds: list | None = None) -> None:
        if interval <= 0:
            raise ValueError("the reconcile interval must be positive")
        self.ctx, self.load, self.log = ctx, load, log
        self.watch_paths = list(watch or [])
        self.interval, self.debounce_ms = interval, debounce_ms
        self._apply = apply
        # other sources of change (the cluster watch): attach(request) once the loop runs,
        # stop() when it ends; they ask for runs with request("source")
        self.feeds = list(feeds or [])
        self.plan: Any = None
        self.secrets: dict = {}
        self.report: dict | None = None
        self.stats = Stats()
        self.lock = threading.Lock()  # guards plan/report/stats for the HTTP server
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._scope: set[str] = set()  # components asked for by `event` requests
        self._stopping = False
        self.events, self.event_debounce = events, event_debounce
        self.monitor: Any = None
        self._last_full = time.monotonic()
        self._streak = 0  # consecutive event runs that changed something
        self.started = time.time()
        self.health: Any = None  # lbcli.agent.health.monitor.HealthMonitor, when tier 1 checks tier 2

    # -- asking for a run (any thread, signal handlers) -------------------------------------
    def request(self, trigger: str, components: set[str] | None = None) -> None:
        with self._cond:
            self._pending.append(trigger)
            if components:
                self._scope |= components
            self._cond.notify()

    def _on_drift(self, components: set[str], reasons: list[str]) -> None:
        # not logged: the agent's own changes echo back as events; the run's changes are logged
        with self.lock:
            self.stats.last_event = "; ".join(reasons)[:500]
        self.request("event", components)

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
        if self.events:
            self._start_monitor()
        for feed in self.feeds:
            feed.attach(self.request)
        try:
            trigger: str | None = "start"
            only: set[str] | None = None
            runs = 0
            while trigger is not None:
                self.reconcile(trigger, only)
                if self.monitor is not None:
                    self.monitor.refresh()  # a run may have (re)started a daemon: watch its pid
                runs += 1
                if max_runs is not None and runs >= max_runs:
                    break
                trigger, only = self._next()
        finally:
            watcher.stop()
            if self.monitor is not None:
                self.monitor.stop()
            for feed in self.feeds:
                feed.stop()
            if self.health is not None:
                self.health.stop()
            self.log.emit({"event": "stop", "detail": "the datapath, BIRD and HAProxy keep serving"})

    def _start_monitor(self) -> None:
        from .monitor import Monitor, daemon_pids

        def daemons() -> dict[str, int | None]:
            with self.lock:
                plan = self.plan
            return daemon_pids(self.ctx, plan)

        self.monitor = Monitor(self._on_drift, daemons, self.event_debounce)
        self.monitor.start()

    def _next(self) -> tuple[str | None, set[str] | None]:
        """The next trigger and the components it runs (None: all): one asked for, else `period`
        when the interval since the last full run is over; (None, None) to stop."""
        with self._cond:
            while not self._stopping and not self._pending:
                left = self._last_full + self.interval - time.monotonic()
                if left <= 0:
                    return "period", None
                self._cond.wait(left)
            if self._stopping:
                return None, None
            pending, self._pending = self._pending, []
            scope, self._scope = self._scope, set()
        # a reload or source change wins over anything else asked for meanwhile, and runs all
        for full in ("reload", "source", "period", "start"):
            if full in pending:
                return full, None
        if pending[0] == "health" and self.health is not None:
            # a health transition changes tables (and announcements) only: run just those (the
            # next full run still checks everything)
            return "health", {HEALTH_SCOPE}  # resolved after the adjust (_apply_plan)
        if pending[0] != "event":
            return pending[0], None
        if self._streak >= EVENT_STREAK:
            with self._cond:  # back off, still responsive to stop and to the full triggers
                self._cond.wait_for(lambda: self._stopping, timeout=self._backoff())
            if self._stopping:
                return None, None
        # BGP gates announcements on the components just run (engine.gate_announcements)
        return "event", scope | ({"bgp"} if getattr(self.plan, "bgp", None) is not None else set())

    def _backoff(self) -> float:
        return min(0.1 * 2 ** (self._streak - EVENT_STREAK), self.interval)

    def reconcile(self, trigger: str, only: set[str] | None = None) -> RunInfo:
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
        if only is not None and not (self.report or {}).get("ok"):
            only = None  # the last run did not converge: check everything
        t0, wall = time.monotonic(), time.time()
        if only is None:
            self._last_full = t0
        error = None
        doc: dict = {}
        try:
            report = self._apply_plan(self.ctx, self.plan, self.secrets, only)
            doc = report.to_dict()
        except Exception as e:  # a lock timeout, an unexpected bug: logged, the loop goes on
            error = f"{type(e).__name__}: {e}"
        dt = time.monotonic() - t0
        records = change_records(doc, trigger) if doc else []
        info = RunInfo(trigger, wall, dt, bool(doc.get("ok")) and error is None, int(doc.get("changes", 0)), error)
        if trigger == "event":
            self._streak = self._streak + 1 if info.changes else 0
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
                    if trigger in ("period", "event"):
                        s.drift_repairs[r["component"]] = s.drift_repairs.get(r["component"], 0) + 1
            s.last = info
            if doc:
                self.report = doc if only is None else merge_reports(self.report, doc)
        self.log.emit_all(records)
        if error:
            self.log.emit({"event": "run-failed", "trigger": trigger, "error": error}, level="error")
        return info

    def _apply_plan(self, ctx, plan, secrets, only: set[str] | None = None):
        if self.health is not None:
            plan = self.health.adjust(plan)  # every run carries out the health-adjusted plan
            if only is not None and HEALTH_SCOPE in only:  # what this adjust moved: tables, VIPs
                only = (only - {HEALTH_SCOPE}) | self.health.components()
        if self._apply is not None:
            report = self._apply(ctx, plan, secrets) if only is None else self._apply(ctx, plan, secrets, only=only)
        else:
            from ..engine import apply_plan

            report = apply_plan(ctx, plan, secrets, only=only)
        if self.health is not None:
            self.health.after_apply(report)
        return report


def merge_reports(full: dict | None, part: dict) -> dict:
    """The last full report with the components a targeted run ran replaced by their new
    results (BGP always runs in one, so `withheld` is the targeted run's)."""
    if not full:
        return part
    new = {c["name"]: c for c in part.get("components", [])}
    comps = [new.pop(c["name"], c) for c in full.get("components", [])] + list(new.values())
    ok = all(c["ok"] for c in comps) and not part.get("withheld")
    return {**full, "components": comps, "withheld": part.get("withheld", []), "ok": ok,
            "changes": part.get("changes", 0), "recorded": part.get("recorded", False)}
