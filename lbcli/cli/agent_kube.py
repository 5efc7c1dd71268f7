"""`cilium-lb agent --kube`: the cluster as the agent's source. Wires lbcli.kube.feed (the
watched copy of the cluster) and lbcli.kube.leader (the status Lease and write-back) to the
agent loop: the loop asks `load()` for the plan after every debounced change, and each load
that compiles hands the status it implies to the writer (which writes only while it holds the
Lease)."""

from __future__ import annotations

import time

import typer

from ..report.console import error


class FeedSource:
    """The KubeSource interface the loading code calls (read, allocations), over the feed's
    copy instead of fresh API calls."""

    def __init__(self, feed) -> None:
        self.feed = feed
        self.loaded = None

    def read(self):
        self.loaded = self.feed.load()
        return self.loaded

    def allocations(self) -> dict[str, str]:
        from ..kube.source import allocations_of

        return allocations_of(self.loaded)


class AgentCluster:
    """The feed and the status writer as one source of the loop (attach / stop)."""

    def __init__(self, feed, writer) -> None:
        self.feed, self.writer = feed, writer

    def attach(self, request) -> None:
        self.feed.attach(request)

    def stop(self) -> None:
        self.feed.stop()
        if self.writer is not None:
            self.writer.stop()

    def status(self) -> dict:
        out = {"kube": self.feed.status()}
        if self.writer is not None:
            out["statusWriter"] = {"leader": self.writer.is_leader(), "identity": self.writer.lock.identity,
                                   "lease": f"{self.writer.lock.namespace}/{self.writer.lock.name}",
                                   "objectsWritten": self.writer.writes}
        return out


def start(kubeconfig: str | None, context: str | None, node: str, log, lease_namespace: str,
          write_status: bool, resync: float, secret_poll: float, debounce: float = 0.1,
          sync_timeout: float = 60.0, writer_timing: dict | None = None,
          feed_options: dict | None = None) -> AgentCluster:
    """Connect, start the watches and wait (`sync_timeout` s) for the first list of every kind;
    exit 2 when the cluster cannot be reached or a kind cannot be listed (the message says which
    and why). `writer_timing`: the status Lease's duration / renew / renew_deadline / retry;
    `feed_options`: ClusterFeed's watch_timeout / backoff (defaults: client-go's orders)."""
    from ..kube.client import ConfigError, connect
    from ..kube.feed import ClusterFeed, connections_needed
    from ..kube.leader import StatusWriter

    try:
        kube = connect(kubeconfig, context, connections_needed())
    except ConfigError as e:
        error(f"--kube: {e}")
        raise typer.Exit(2)
    # a steady stream of events still reaches the node: at most max_delay after the first
    feed = ClusterFeed(kube, node, log, resync=resync, secret_poll=secret_poll, debounce=debounce,
                       max_delay=max(debounce, 0.5), **(feed_options or {}))
    feed.start()
    pending = feed.wait_synced(sync_timeout)
    if pending:
        feed.stop()
        why = "; ".join(f"{k}: {feed.errors(k) or 'no answer yet'}" for k in pending)
        error(f"--kube: could not list {', '.join(pending)} from {kube.host} within {sync_timeout:.0f} s ({why})")
        raise typer.Exit(2)
    writer = StatusWriter(kube, node, lease_namespace, log, **(writer_timing or {})) if write_status else None
    if writer is not None:
        writer.start()  # already while a first set with errors is waited out: its conditions count
    return AgentCluster(feed, writer)


def first_load(runner, cluster: AgentCluster, log, poll: float = 0.2) -> None:
    """The agent's first load, from the cluster: a set that does not load (findings, a missing
    node) is logged and waited out — loaded again at each change — instead of exiting, so a
    DaemonSet pod does not crash-loop on someone else's broken object. The status writer runs
    meanwhile (the flagged objects get their conditions)."""
    from ..agent.daemon.loop import SourceError

    last = None
    while True:
        gen = cluster.feed.generation
        try:
            runner.start()
            return
        except SourceError as e:
            if str(e) != last:
                last = str(e)
                log({"event": "source-rejected", "trigger": "start", "error": last,
                     "detail": "no plan yet: waiting for the cluster's set to change"}, level="error")
        while cluster.feed.generation == gen:
            time.sleep(poll)


def loader(cluster: AgentCluster, node: str, nodes, lock):
    """The loop's load(): (plan, secret material) of `node` compiled from the feed's copy;
    SourceError (the findings, one line) when the set has errors — the node keeps the plan in
    force. Status is submitted either way: a set with errors still gets its False conditions
    (NoPool, VIPNotFound, ...) on the objects compile flagged, and nothing else is touched, so
    an unrelated broken object never moves an address that status records."""
    from pathlib import Path

    from ..agent.daemon.loop import SourceError
    from ..kube.client import KubeError

    src = FeedSource(cluster.feed)

    def load():
        from ..compile.allocations import LockError, read_lock
        from ..compile.nodes import IdentityError
        from ..compile.plan import PlanBuildError, compile_plans
        from ..lint.config import ConfigError, load_config
        from ..lint.engine import lint
        from ..lint.problem import Severity
        from ..lint.redact import escape_controls
        from ..manifest.loader import LoadError
        from .loading import limits_for, load_any

        try:
            cfg = load_config(None)
            report = lint(load_any([], nodes, cfg, limits_for(cfg), src), cfg)
            locked = {**read_lock(Path(lock) if lock else None), **src.allocations()}
            compiled = compile_plans(report.index, locked)
        except KubeError as e:  # a referenced Secret could not be read: this load fails
            raise SourceError(f"--kube: {e}") from None
        except (ConfigError, LoadError, ValueError, LockError, IdentityError, PlanBuildError) as e:
            raise SourceError(str(e)) from None
        errors = [p for p in report.problems if p.severity >= Severity.ERROR]
        if cluster.writer is not None:
            from ..kube.status import desired

            want = desired(compiled, report.index)
            if errors:
                flagged = {c["ref"] for c in compiled.conditions}
                want = {ref: w for ref, w in want.items() if ref in flagged}
            cluster.writer.submit(want, cluster.feed.served)
        if errors:
            raise SourceError("; ".join(escape_controls(f"{p.where} {p.rule} {p.message}") for p in errors[:10])
                              + (f"; ... {len(errors) - 10} more" if len(errors) > 10 else ""))
        if node not in compiled.plans:
            raise SourceError(f"no node named {node!r} in the cluster (nodes: {', '.join(sorted(compiled.plans)) or 'none'})")
        return compiled.plans[node], compiled.secrets.get(node, {})

    return load
