"""`cilium-lb apply` and `reset`: carry out a plan on this node, or undo it."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..report.console import error
from .common import DATAPATH_HELP, LOCK_HELP, PLAN_HELP, SECRETS_HELP, STATE_DIR_HELP, ApplyFormat, Datapath, node_name
from .kube import CONTEXT_HELP, KUBE_HELP, KUBECONFIG_HELP


def apply(
    paths: Optional[List[str]] = typer.Argument(None, metavar="[PATH...]", help="Manifest files, directories, globs, or - (or give --plan)."),
    node: str = typer.Option(..., "--node", metavar="NODE", callback=node_name, help="The node this runs on (its network namespace)."),
    plan_source: Optional[str] = typer.Option(None, "--plan", metavar="FILE|DIR", help=PLAN_HELP),
    secrets_paths: Optional[List[str]] = typer.Option(None, "--secrets", metavar="PATH", help=SECRETS_HELP),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help=LOCK_HELP),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", metavar="PATH", help="Extra file(s) with v1 Nodes."),
    state_dir: str = typer.Option("/var/lib/cilium-lb", "--state-dir", metavar="DIR", help=STATE_DIR_HELP),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", metavar="DIR", help="bpffs directory for pinned maps and programs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Observe and report what would change; change nothing."),
    datapath: Datapath = typer.Option(Datapath.tc, "--datapath", help=DATAPATH_HELP),
    output: ApplyFormat = typer.Option(ApplyFormat.text, "-o", "--output", help="text or json."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing on success."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help=CONTEXT_HELP),
) -> None:
    """Converge this node to its plan: observe, change only what differs, record the plan.
    The plan is compiled from PATH... (addresses from the allocation lock) or given with --plan."""
    from pathlib import Path

    from ..agent.engine import LockTimeout, apply_plan
    from ..agent.reconciler import NodeContext
    from .kube import source
    from .loading import node_plan

    src = source(kube, kubeconfig, context, paths)
    if src is not None:
        src.node = node
    plan, secrets = node_plan(paths, plan_source, secrets_paths, nodes, node, lock, kube=src)
    ctx = NodeContext(node, Path(state_dir), Path(bpf_root), dry_run, datapath.value)
    progress = None
    if output == ApplyFormat.text and not quiet and sys.stderr.isatty():
        progress = lambda name: sys.stderr.write(f"\r\x1b[2K{node}: {name} ...")  # noqa: E731
    try:
        result = apply_plan(ctx, plan, secrets, progress)
    except LockTimeout as e:
        error(str(e))
        raise typer.Exit(1)
    finally:
        if progress:
            sys.stderr.write("\r\x1b[2K")
    doc = result.to_dict()
    if output == ApplyFormat.json:
        import json

        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif not (quiet and result.ok):
        from ..report.apply_text import render

        render(doc)
    raise typer.Exit(0 if result.ok else 1)


def reset(
    node: str = typer.Option(..., "--node", metavar="NODE", callback=node_name, help="The node this runs on."),
    state_dir: str = typer.Option("/var/lib/cilium-lb", "--state-dir", metavar="DIR", help=STATE_DIR_HELP),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", metavar="DIR", help="bpffs directory for pinned maps and programs."),
    output: ApplyFormat = typer.Option(ApplyFormat.text, "-o", "--output", help="text or json."),
) -> None:
    """Remove everything cilium-lb created on this node."""
    from pathlib import Path

    from ..agent.engine import ApplyReport, LockTimeout, reset_node
    from ..agent.reconciler import NodeContext

    try:
        results = reset_node(NodeContext(node, Path(state_dir), Path(bpf_root)))
    except LockTimeout as e:
        error(str(e))
        raise typer.Exit(1)
    rep = ApplyReport(node, False, results)
    doc = rep.to_dict()
    if output == ApplyFormat.json:
        import json

        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        from ..report.apply_text import render

        render(doc)
    raise typer.Exit(0 if rep.ok else 1)
