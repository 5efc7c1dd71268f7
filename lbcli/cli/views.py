"""`cilium-lb diff` and `cilium-lb lb status` (alias `cilium-lb status`): read-only views of
plans. `register(app, lb_app)` adds them to the CLI; like main.py, every command imports what
it needs inside its function to keep start-up lean."""

from __future__ import annotations

import sys
from enum import Enum
from typing import List, Optional

import typer

from .console import error
from .kube import CONTEXT_HELP, KUBE_HELP, KUBECONFIG_HELP

DEFAULT_STATE_DIR = "/var/lib/cilium-lb"  # = lbcli.agent.apply.DEFAULT_STATE_DIR (not imported at start-up)


def node_name(value: Optional[str]) -> Optional[str]:
    """--node callback: the name becomes a directory under --state-dir and --bpf-root, so it
    must be a node name (usage error, exit 2, otherwise)."""
    if value is None:
        return value
    from ..plan.names import node_name_problem

    why = node_name_problem(value)
    if why is not None:
        raise typer.BadParameter(f"not a node name: {why}")
    return value


class ViewFormat(str, Enum):
    text = "text"
    json = "json"


def diff(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="OLD NEW plans (files or directories of plans), or manifests with --node."),
    node: Optional[str] = typer.Option(None, "--node", callback=node_name, help="Only this node; with manifests: compare with the plan last applied on it."),
    state_dir: str = typer.Option(DEFAULT_STATE_DIR, "--state-dir", help="Where apply keeps <node>/applied-plan.json."),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", help="Extra file(s) with v1 Nodes (kubectl get nodes -o yaml)."),
    output: ViewFormat = typer.Option(ViewFormat.text, "-o", "--output", help="text (coloured, per node and section) or json."),
    live: bool = typer.Option(False, "--live", help="With manifests (or --plan) and --node: compare with what is observed on this host (run inside the node's netns)."),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", help="With --live: bpffs directory of the pinned maps."),
    plan_source: Optional[str] = typer.Option(None, "--plan", metavar="FILE|DIR", help="With --live: a compiled plan instead of manifests."),
    secrets_paths: Optional[List[str]] = typer.Option(None, "--secrets", metavar="PATH", help="With --live --plan: Secret manifests the plan references."),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help="Allocation lock read when compiling manifests (default: cilium-lb.lock beside them)."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP + " Needs --node."),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", help=CONTEXT_HELP),
) -> None:
    """Show what would change, semantically: plan against plan, or manifests against the last
    applied plan, or (--live) against the host. Exit 0 no changes, 1 changes, 2 error (like kubectl diff)."""
    from ..diff import diff_plan_sets, diff_plans
    from ..diff.sources import PlanSourceError, applied_plan, read_plan_source, why_not_plans
    from .kube import source

    src = source(kube, kubeconfig, context, paths)
    if live:
        _diff_live(paths, nodes, node, state_dir, bpf_root, output, plan_source, secrets_paths, lock, src)
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


def _diff_live(paths, nodes, node, state_dir, bpf_root, output, plan_source, secrets_paths, lock, src=None) -> None:
    """The host against the plan: every component observes and diffs, nothing is changed
    (apply's dry run)."""
    from pathlib import Path

    from ..agent.apply import LockTimeout, apply_plan
    from ..agent.reconciler import NodeContext
    from .loading import node_plan

    if node is None:
        error("--live needs --node NAME (and runs inside that node's network namespace)")
        raise typer.Exit(2)
    plan, secrets = node_plan(paths, plan_source, secrets_paths, nodes, node, lock, findings_exit=2, kube=src)
    ctx = NodeContext(node, Path(state_dir), Path(bpf_root), dry_run=True)
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


def status(
    plan: Optional[str] = typer.Option(None, "--plan", help="Directory of plans (cilium-lb compile -o DIR) or one plan file."),
    observed: Optional[List[str]] = typer.Option(None, "--observed", help="JSON file(s) of observed facts (`cilium-lb observe` on each node; see lbcli/status/observed.py)."),
    output: ViewFormat = typer.Option(ViewFormat.text, "-o", "--output", help="text (table) or json."),
    kube: bool = typer.Option(False, "--kube", help="Compile the plans from the cluster's manifest set instead of --plan."),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", help=CONTEXT_HELP),
) -> None:
    """The service table of `cilium lb status`: VIPs, BGP, T1/T2 nodes and health, backends.
    From plans alone, what only the hosts know (sessions, health checks) shows as "?"."""
    from ..diff.sources import PlanSourceError, read_plan_source
    from ..status import build_status
    from .kube import source

    src = source(kube, kubeconfig, context, None)
    if src is not None and plan is not None:
        error("give --plan or --kube, not both")
        raise typer.Exit(2)
    if src is None and plan is None:
        error("give --plan DIR (the plans `cilium-lb compile -o DIR` wrote) or --kube")
        raise typer.Exit(2)
    try:
        plans = read_plan_source(plan, strict=True) if src is None else _cluster_plans(src)
    except PlanSourceError as e:
        error(str(e))
        raise typer.Exit(2)
    if not plans:
        error(f"{plan}: no NodePlan JSON found" if src is None else "the cluster has no v1 Nodes: no plans")
        raise typer.Exit(2)
    facts = None
    if observed:
        import orjson

        from ..plan.read import PlanError, read_bounded
        from ..status.collect import merge

        reports = []
        for path in observed:
            try:
                doc = orjson.loads(read_bounded(path))  # a regular file of bounded size: no FIFO, no device
                merge([doc if isinstance(doc, dict) else {"services": None}])  # check each file on its own
            except PlanError as e:
                error(str(e))
                raise typer.Exit(2)
            except (ValueError, AttributeError) as e:
                error(f"{path}: {e}")
                raise typer.Exit(2)
            reports.append(doc)
        facts = merge(reports)
    st = build_status(plans, facts)
    if output == ViewFormat.json:
        import json

        sys.stdout.write(json.dumps(st.to_json(), indent=2, sort_keys=True) + "\n")
        return
    from ..report.status_text import render

    render(st)


def _cluster_plans(src) -> dict:
    """Every node's plan, compiled from the cluster's set (addresses from LBVIP status)."""
    from ..compile.nodes import IdentityError
    from ..compile.plan import PlanBuildError, compile_plans
    from .loading import load_checked

    report = load_checked([], kube=src)
    try:
        return compile_plans(report.index, src.allocations()).plans
    except (IdentityError, PlanBuildError) as e:
        error(str(e))
        raise typer.Exit(2)


def observe(
    paths: List[str] = typer.Argument(None, help="Manifests (optional): with them, HAProxy's expected services come from the compiled plan."),
    node: str = typer.Option(..., "--node", callback=node_name, help="This node (run inside its network namespace)."),
    state_dir: str = typer.Option(DEFAULT_STATE_DIR, "--state-dir", help="Where apply keeps <node>/applied-plan.json."),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", help="bpffs directory of the pinned maps."),
    secrets_paths: Optional[List[str]] = typer.Option(None, "--secrets", metavar="PATH", help="Secret manifests of the applied plan (instead of compiling PATH...)."),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help="Allocation lock read when compiling manifests."),
) -> None:
    """Print this node's observed facts (BGP sessions and routes, tier-1 counters, backend
    health) as JSON for `cilium-lb lb status --observed`."""
    import json
    from pathlib import Path

    from ..agent.reconciler import NodeContext
    from ..diff.sources import PlanSourceError, applied_plan
    from ..status.collect import collect

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


def register(app: typer.Typer, lb_app: typer.Typer) -> None:
    app.command("diff")(diff)
    lb_app.command("status")(status)
    app.command("status", help="Alias of `cilium-lb lb status`.")(status)
    app.command("observe")(observe)
