"""`cilium-lb diff`: what apply would change (plan x plan, manifests x applied plan, --live)."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..report.console import error
from .common import DATAPATH_HELP, DEFAULT_STATE_DIR, Datapath, ViewFormat, node_name
from .kube import CONTEXT_HELP, KUBE_HELP, KUBECONFIG_HELP


def diff(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="OLD NEW plans (files or directories of plans), or manifests with --node."),
    node: Optional[str] = typer.Option(None, "--node", metavar="NODE", callback=node_name, help="Only this node; with manifests: compare with the plan last applied on it."),
    state_dir: str = typer.Option(DEFAULT_STATE_DIR, "--state-dir", metavar="DIR", help="Where apply keeps <node>/applied-plan.json."),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", metavar="PATH", help="Extra file(s) with v1 Nodes (kubectl get nodes -o yaml)."),
    output: ViewFormat = typer.Option(ViewFormat.text, "-o", "--output", help="text (coloured, per node and section) or json."),
    live: bool = typer.Option(False, "--live", help="With manifests (or --plan) and --node: compare with what is observed on this host (run inside the node's netns)."),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", metavar="DIR", help="With --live: bpffs directory of the pinned maps."),
    datapath: Datapath = typer.Option(Datapath.tc, "--datapath", help="With --live: " + DATAPATH_HELP),
    plan_source: Optional[str] = typer.Option(None, "--plan", metavar="FILE|DIR", help="With --live: a compiled plan instead of manifests."),
    secrets_paths: Optional[List[str]] = typer.Option(None, "--secrets", metavar="PATH", help="With --live --plan: Secret manifests the plan references."),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help="Allocation lock read when compiling manifests (default: cilium-lb.lock beside them)."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP + " Needs --node."),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help=CONTEXT_HELP),
) -> None:
    """Show what would change, semantically: plan against plan, or manifests against the last
    applied plan, or (--live) against the host. Exit 0 no changes, 1 changes, 2 error (like kubectl diff)."""
    from ..diff import diff_plan_sets, diff_plans
    from ..diff.sources import PlanSourceError, applied_plan, read_plan_source, why_not_plans
    from .kube import source

    src = source(kube, kubeconfig, context, paths)
    if src is not None:
        src.node = node
    if live:
        _diff_live(paths, nodes, node, state_dir, bpf_root, output, plan_source, secrets_paths, lock, src,
                   datapath.value)
    if src is not None:
        if node is None:
            error("--kube compares the cluster's set with what is applied on a node: give --node NAME")
            raise typer.Exit(2)
        from .loading import compile_node

        desired, _ = compile_node([], nodes, node, lock, findings_exit=2, kube=src)
        _show_diff(diff_plans(applied_plan(state_dir, node), desired, node), output)
    if plan_source is not None or secrets_paths:
        error("--plan and --secrets go with --live (to compare plans, give them as OLD NEW)")
        raise typer.Exit(2)
    if not paths:
        error("give OLD NEW plans, or manifests with --node")
        raise typer.Exit(2)

    try:
        sources = [read_plan_source(p) for p in paths] if len(paths) <= 2 else [None]
        if len(paths) == 2 and all(s is not None for s in sources):
            old, new = sources
            if node is not None:
                if node not in old and node not in new:  # type: ignore[operator]
                    error(f"no plan for node {node!r} in {paths[0]} or {paths[1]}")
                    raise typer.Exit(2)
                old = {node: old[node]} if node in old else {}  # type: ignore[index,operator]
                new = {node: new[node]} if node in new else {}  # type: ignore[index,operator]
            changes = diff_plan_sets(old, new)  # type: ignore[arg-type]
        else:
            if len(paths) == 2 and any(s is not None for s in sources):
                plan_path, other = (paths[0], paths[1]) if sources[0] is not None else (paths[1], paths[0])
                error(f"{plan_path} holds plans but {other} does not ({why_not_plans(other)}): "
                      "diff OLD NEW compares two plans")
                raise typer.Exit(2)
            if node is None:
                error("diff OLD NEW compares two plans (files or directories of plans); "
                      "to compare manifests with what is applied on a node, give --node NAME")
                raise typer.Exit(2)
            applied = applied_plan(state_dir, node)
            if len(paths) == 1 and sources[0] is not None:  # one plan (file or directory) vs applied
                if node not in sources[0]:
                    error(f"no plan for node {node!r} in {paths[0]} (nodes: {', '.join(sorted(sources[0]))})")
                    raise typer.Exit(2)
                desired = sources[0][node]
            else:
                from .loading import compile_node

                desired, _ = compile_node(paths, nodes, node, lock, findings_exit=2)
            changes = diff_plans(applied, desired, node)
    except PlanSourceError as e:
        error(str(e))
        raise typer.Exit(2)
    except typer.Exit:
        raise
    except Exception as e:  # exit 1 means "changes": a failure must never look like one
        error(f"internal error while comparing plans ({type(e).__name__}: {e}); please report it")
        raise typer.Exit(2)
    _show_diff(changes, output)


def _show_diff(changes, output) -> None:
    if output == ViewFormat.json:
        import json

        sys.stdout.write(json.dumps([c.to_json() for c in changes], indent=2) + "\n")
    else:
        from ..report.diff_text import render

        render(changes)
    raise typer.Exit(1 if changes else 0)


def _diff_live(paths, nodes, node, state_dir, bpf_root, output, plan_source, secrets_paths, lock, src=None,
               datapath: str = "tc") -> None:
    """The host against the plan: every component observes and diffs, nothing is changed
    (apply's dry run)."""
    from pathlib import Path

    from ..agent.engine import LockTimeout, apply_plan
    from ..agent.reconciler import NodeContext
    from .loading import node_plan

    if node is None:
        error("--live needs --node NAME (and runs inside that node's network namespace)")
        raise typer.Exit(2)
    plan, secrets = node_plan(paths, plan_source, secrets_paths, nodes, node, lock, findings_exit=2, kube=src)
    ctx = NodeContext(node, Path(state_dir), Path(bpf_root), dry_run=True, datapath=datapath)
    try:
        result = apply_plan(ctx, plan, secrets)
    except LockTimeout as e:
        error(str(e))
        raise typer.Exit(2)
    doc = result.to_dict()
    if output == ViewFormat.json:
        import json

        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    else:
        from ..report.apply_text import render

        render(doc)
    raise typer.Exit(2 if not result.ok else (1 if result.changes else 0))
