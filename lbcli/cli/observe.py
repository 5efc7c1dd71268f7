"""`cilium-lb observe`: the facts of this node that status cannot get from plans."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..report.console import error
from .common import DEFAULT_STATE_DIR, node_name


def observe(
    paths: List[str] = typer.Argument(None, metavar="[PATH...]", help="Manifests (optional): with them, HAProxy's expected services come from the compiled plan."),
    node: str = typer.Option(..., "--node", metavar="NODE", callback=node_name, help="This node (run inside its network namespace)."),
    state_dir: str = typer.Option(DEFAULT_STATE_DIR, "--state-dir", metavar="DIR", help="Where apply keeps <node>/applied-plan.json."),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", metavar="DIR", help="bpffs directory of the pinned maps."),
    secrets_paths: Optional[List[str]] = typer.Option(None, "--secrets", metavar="PATH", help="Secret manifests of the applied plan (instead of compiling PATH...)."),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help="Allocation lock read when compiling manifests."),
) -> None:
    """Print this node's observed facts (BGP sessions and routes, tier-1 counters, backend
    health) as JSON for `cilium-lb lb status --observed`."""
    import json
    from pathlib import Path

    from ..agent.reconciler import NodeContext
    from ..diff.sources import PlanSourceError, applied_plan
    from ..agent.facts import collect

    try:
        plan = applied_plan(state_dir, node)
    except PlanSourceError as e:
        error(str(e))
        raise typer.Exit(2)
    if plan is None:
        error(f"nothing applied on {node} under {state_dir} (run cilium-lb apply first)")
        raise typer.Exit(2)
    secrets = None
    if paths and secrets_paths:
        error("give manifests (PATH...) or --secrets, not both")
        raise typer.Exit(2)
    if secrets_paths:
        from ..plan.secrets import SecretMismatch, material_for
        from .loading import secrets_from

        try:
            secrets = material_for(plan, secrets_from(secrets_paths), "the --secrets manifests")
        except SecretMismatch as e:
            error(f"{node}: {e}")
            raise typer.Exit(2)
    elif paths:
        from .loading import compile_node

        _, secrets = compile_node(paths, None, node, lock)
    doc = collect(NodeContext(node, Path(state_dir), Path(bpf_root)), plan, secrets)
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
