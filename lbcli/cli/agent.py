"""`cilium-lb agent`: the node apply, long-running (lbcli/agent/daemon). Parses options, builds
the source loader from the same loading code `apply` uses, and hands both to the loop."""

from __future__ import annotations

import sys
from enum import Enum
from typing import List, Optional

import typer

from ..report.console import error
from .common import DATAPATH_HELP, Datapath, node_name


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
    interval: float = typer.Option(5.0, "--interval", min=0.2, max=3600, help="Seconds between drift-repair runs."),
    debounce: int = typer.Option(300, "--debounce", min=10, max=60000, help="Milliseconds a burst of source changes is collected before one reconcile."),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help="text or json (one object per line)."),
    listen: Optional[str] = typer.Option(None, "--listen", metavar="HOST:PORT", help="Serve /status, /facts, /plan and /metrics over HTTP here (off unless given)."),
) -> None:
    """Keep this node converged: apply at start (adopting what runs), when the sources change,
    on SIGHUP, and every --interval seconds (drift repair). One log line per change on stdout.
    SIGTERM stops the agent and leaves everything serving."""
    from pathlib import Path

    from ..agent.daemon.events import EventLog
    from ..agent.daemon.loop import Agent, SourceError
    from ..agent.reconciler import NodeContext

    if paths and any(p == "-" for p in paths):
        error("the agent watches its sources: give files or directories, not -")
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
    runner = Agent(ctx, load, EventLog(node, log_format.value, sys.stdout), watch, interval, debounce)
    try:
        runner.start()
    except SourceError as e:
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
