"""`cilium-lb lb status` (and `status`): the service table."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..report.console import error
from .common import ViewFormat
from .kube import CONTEXT_HELP, KUBECONFIG_HELP


def status(
    paths: Optional[List[str]] = typer.Argument(None, metavar="[PATH...]", help="Manifests: compiled (with the allocation lock beside them) instead of reading --plan."),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", metavar="PATH", help="With manifests: extra file(s) with v1 Nodes."),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help="With manifests: the allocation lock (default: cilium-lb.lock beside them)."),
    plan: Optional[str] = typer.Option(None, "--plan", metavar="FILE|DIR", help="Directory of plans (cilium-lb compile -o DIR) or one plan file."),
    observed: Optional[List[str]] = typer.Option(None, "--observed", metavar="FILE", help="JSON file(s) of observed facts (`cilium-lb observe` on each node; docs/plan-format.md)."),
    output: ViewFormat = typer.Option(ViewFormat.text, "-o", "--output", help="text (table) or json."),
    kube: bool = typer.Option(False, "--kube", help="Compile the plans from the cluster's manifest set instead of --plan."),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help=CONTEXT_HELP),
) -> None:
    """The service table of `cilium lb status`: VIPs, BGP, T1/T2 nodes and health, backends.
    From plans alone, what only the hosts know (sessions, health checks) shows as "?"."""
    from ..diff.sources import PlanSourceError, read_plan_source
    from ..status import build_status
    from .kube import source

    src = source(kube, kubeconfig, context, paths)
    if sum(x is not None and x != [] for x in (paths, plan, src)) > 1:
        error("give one of manifests (PATH...), --plan or --kube, not both")
        raise typer.Exit(2)
    if paths or src is not None:
        from .loading import compile_all

        plans = compile_all(list(paths or []), nodes, lock, kube=src).plans
        if not plans:
            error("the manifest set has no v1 Nodes: no plans")
            raise typer.Exit(2)
    elif plan is None:
        error("give manifests (PATH...), --plan DIR (the plans `cilium-lb compile -o DIR` wrote) or --kube")
        raise typer.Exit(2)
    else:
        try:
            plans = read_plan_source(plan, strict=True)
        except PlanSourceError as e:
            error(str(e))
            raise typer.Exit(2)
        if not plans:
            error(f"{plan}: no NodePlan JSON found")
            raise typer.Exit(2)
    facts = None
    if observed:
        import orjson

        from ..plan.read import PlanError, read_bounded
        from ..status.observed import merge

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
