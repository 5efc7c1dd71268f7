"""`cilium-lb agent`: the node apply, long-running (lbcli/agent/daemon). Parses options, builds
the source loader from the same loading code `apply` uses, and hands both to the loop."""

from __future__ import annotations

import re
import sys
from enum import Enum
from typing import List, Optional

import typer

from ..report.console import error
from .common import DATAPATH_HELP, Datapath, node_name


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class LogFormat(str, Enum):
    text = "text"
    json = "json"


def agent(
    paths: Optional[List[str]] = typer.Argument(None, metavar="[PATH...]", help="Manifest files or directories (or give --plan)."),
    node: str = typer.Option(..., "--node", callback=node_name, help="The node this runs on (its network namespace)."),
    plan_source: Optional[str] = typer.Option(None, "--plan", metavar="FILE|DIR", help="Carry out this compiled plan (a <node>.json file or the directory `compile -o` wrote)."),
    secrets_paths: Optional[List[str]] = typer.Option(None, "--secrets", metavar="PATH", help="With --plan: Secret manifests the plan references; repeat for more."),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help="Allocation lock (default: cilium-lb.lock beside the manifests)."),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", help="Extra file(s) with v1 Nodes."),
    state_dir: str = typer.Option("/var/lib/cilium-lb", "--state-dir", help="State directory (last applied plan, rendered configs, pid files, sockets)."),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", help="bpffs directory for pinned maps and programs."),
    datapath: Datapath = typer.Option(Datapath.tc, "--datapath", help=DATAPATH_HELP),
    interval: float = typer.Option(30.0, "--interval", min=0.2, max=3600, help="Seconds between full reconcile runs: the safety net for drift no event reports (with --no-events, the only drift detection)."),
    events: bool = typer.Option(True, "--events/--no-events", help="Repair drift as the kernel (netlink: links, addresses, routes, tc) and the daemons (BIRD's and HAProxy's exit) report it."),
    event_debounce: int = typer.Option(100, "--event-debounce", min=0, max=10000, help="Milliseconds a burst of kernel/daemon events is collected before one targeted reconcile."),
    debounce: int = typer.Option(300, "--debounce", min=10, max=60000, help="Milliseconds a burst of source changes is collected before one reconcile."),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help="text or json (one object per line)."),
    listen: Optional[str] = typer.Option(None, "--listen", metavar="HOST:PORT", help="Serve /status, /facts, /plan and /metrics over HTTP here (off unless given)."),
    kube: bool = typer.Option(False, "--kube", help="Watch the manifest set in a Kubernetes cluster (list + watch per kind) instead of files; write status back while holding the status Lease."),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help="With --kube: the kubeconfig file (default: $KUBECONFIG, ~/.kube/config; in a pod: in-cluster)."),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help="With --kube: the kubeconfig context."),
    write_status: bool = typer.Option(True, "--write-status/--no-write-status", help="With --kube: take part in the status Lease election; the holder writes LBVIP addresses and LBVIP/LBService conditions."),
    lease_namespace: Optional[str] = typer.Option(None, "--lease-namespace", metavar="NAMESPACE", help="With --kube: namespace of the status Lease (default: $POD_NAMESPACE, else kube-system)."),
    resync: float = typer.Option(300.0, "--resync", min=5, max=86400, help="With --kube: seconds between full relists of each kind (a missed event lives at most this long)."),
    secret_poll: float = typer.Option(10.0, "--secret-poll", min=1, max=3600, help="With --kube: seconds between re-reads of the referenced Secrets (read by name: RBAC grants no watch on Secrets)."),
    sync_timeout: float = typer.Option(60.0, "--sync-timeout", min=1, max=3600, help="With --kube: seconds to wait for the first list of every kind before giving up (exit 2)."),
    t2_health: bool = typer.Option(True, "--t2-health/--no-t2-health", help="Tier 1: check every tier-2 node per service and send new flows only to healthy ones; withdraw a VIP no tier-2 node serves."),
    hc_port: Optional[int] = typer.Option(None, "--t2-health-port", min=1, max=65535, help="Tier-2 health endpoint port (default: the plan's tier1.healthCheck.port, else 10901)."),
    hc_interval: Optional[int] = typer.Option(None, "--t2-health-interval-ms", min=10, max=60000, help="Milliseconds between probes of one tier-2 node (default 100)."),
    hc_timeout: Optional[int] = typer.Option(None, "--t2-health-timeout-ms", min=10, max=60000, help="Milliseconds a probe may take (default 200)."),
    hc_rise: Optional[int] = typer.Option(None, "--t2-health-rise", min=1, max=100, help="Passes in a row before a failed tier-2 node takes new flows again (default 3)."),
    hc_fall: Optional[int] = typer.Option(None, "--t2-health-fall", min=1, max=100, help="Failures in a row before a tier-2 node stops taking new flows (default 2)."),
) -> None:
    """Keep this node converged: apply at start (adopting what runs), when the sources change,
    on SIGHUP, when the kernel or a daemon reports drift (netlink, pidfd), and every --interval
    seconds (full drift repair). One log line per change on stdout. SIGTERM stops the agent and
    leaves everything serving."""
    from pathlib import Path

    from ..agent.daemon.events import EventLog
    from ..agent.daemon.loop import Agent, SourceError
    from ..agent.reconciler import NodeContext

    if paths and any(p == "-" for p in paths):
        error("the agent watches its sources: give files or directories, not -")
        raise typer.Exit(2)
    kube = kube or bool(kubeconfig or context)
    if kube and (paths or plan_source or secrets_paths):
        error("give manifests (PATH...), --plan, or --kube: one source")
        raise typer.Exit(2)
    if lease_namespace is not None and not _DNS_LABEL.match(lease_namespace):
        error(f"--lease-namespace {lease_namespace!r}: not a namespace name (lower-case letters, digits, '-', at most 63)")
        raise typer.Exit(2)
    address = _listen_address(listen) if listen else None

    def load():
        import contextlib
        import io

        from .loading import node_plan

        buf = io.StringIO()
        try:
            with contextlib.redirect_stderr(buf):
                return node_plan(paths, plan_source, secrets_paths, nodes, node, lock)
        except typer.Exit:
            lines = [ln[len("error: "):] if ln.startswith("error: ") else ln for ln in buf.getvalue().splitlines()]
            raise SourceError("; ".join(ln for ln in lines if ln.strip()) or "the sources do not load") from None

    watch = [Path(p) for p in (paths or [])] + ([Path(plan_source)] if plan_source else [])
    watch += [Path(p) for p in (secrets_paths or []) + (nodes or []) + ([lock] if lock else [])]
    ctx = NodeContext(node, Path(state_dir), Path(bpf_root), datapath=datapath.value)
    log = EventLog(node, log_format.value, sys.stdout)
    feeds = []
    if kube:
        import os

        from . import agent_kube

        cluster = agent_kube.start(kubeconfig, context, node, log.emit,
                                   lease_namespace or os.environ.get("POD_NAMESPACE") or "kube-system",
                                   write_status, resync, secret_poll, debounce / 1000, sync_timeout)
        load, watch, feeds = agent_kube.loader(cluster, node, nodes, lock), [], [cluster]
    runner = Agent(ctx, load, log, watch, interval, debounce, events=events,
                   event_debounce=event_debounce / 1000, feeds=feeds)
    if t2_health:
        from ..agent.health.monitor import HealthMonitor

        runner.health = HealthMonitor(ctx, runner.request, log, {
            "port": hc_port, "interval_ms": hc_interval, "timeout_ms": hc_timeout, "rise": hc_rise, "fall": hc_fall})
    try:
        if kube:
            agent_kube.first_load(runner, cluster, log.emit)
        else:
            runner.start()
    except SourceError as e:
        for feed in feeds:
            feed.stop()
        error(str(e))
        raise typer.Exit(2)
    server = None
    if address is not None:
        from ..agent.daemon.server import serve

        try:
            server = serve(runner, *address)
        except OSError as e:
            error(f"--listen {listen}: {e.strerror or e}")
            raise typer.Exit(2)
    try:
        runner.run()
    finally:
        if server is not None:
            server.shutdown()


def _listen_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        error(f"--listen {value!r}: expected HOST:PORT (e.g. 127.0.0.1:9965)")
        raise typer.Exit(2)
    return host, int(port)
