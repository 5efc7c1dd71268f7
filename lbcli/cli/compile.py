"""`cilium-lb compile`: a manifest set into one plan per node (and the allocation lock)."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..report.console import error
from .common import LOCK_HELP
from .kube import CONTEXT_HELP, KUBE_HELP, KUBECONFIG_HELP
from .loading import MAX_FILE_SIZE_HELP


def compile_cmd(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="Manifest files, directories, globs, or - (or --kube)."),
    output: str = typer.Option(..., "-o", "--output", metavar="DIR", help="Directory for <node>.json plans, or - to print one plan."),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", metavar="PATH", help="Extra file(s) with v1 Nodes (kubectl get nodes -o yaml)."),
    node: Optional[str] = typer.Option(None, "--node", metavar="NODE", help="Only this node's plan."),
    max_file_size: Optional[str] = typer.Option(None, "--max-file-size", metavar="SIZE", help=MAX_FILE_SIZE_HELP),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help=LOCK_HELP),
    locked: bool = typer.Option(False, "--locked", help="Refuse to change the allocation lock (exit 1 if it is not up to date): for CI."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help=CONTEXT_HELP),
    write_status: bool = typer.Option(False, "--write-status", help="With --kube: write LBVIP addresses and LBVIP/LBService conditions back (while holding the status Lease)."),
    lease_namespace: str = typer.Option("kube-system", "--lease-namespace", metavar="NAMESPACE", help="With --write-status: namespace of the status Lease (the agent's)."),
) -> None:
    """Compile the manifest set into one deterministic plan per node; keep LB-IPAM allocations
    in the allocation lock (cilium-lb.lock beside the manifests) or, with --kube, in the
    LBVIP status the cluster holds."""
    from pathlib import Path

    from ..compile.allocations import LockError, default_path, lock_of, read_lock, write_lock
    from ..compile.allocations import dumps as lock_dumps
    from ..compile.nodes import IdentityError
    from ..compile.output import OutputError, write_plans
    from ..compile.plan import PlanBuildError, compile_plans, dumps
    from .kube import source
    from .kube import write_status as write_back
    from .loading import load_checked

    if not output:
        error("-o needs a directory (or - for one plan on stdout)")
        raise typer.Exit(2)
    src = source(kube, kubeconfig, context, paths)
    if src is None and (not paths or write_status):
        error("--write-status needs --kube" if write_status else "give manifests (PATH...) or --kube")
        raise typer.Exit(2)
    paths = paths or []
    report = load_checked(paths, nodes, max_file_size=max_file_size, kube=src)
    lock_path = Path(lock) if lock else default_path(paths)
    try:
        previous = read_lock(lock_path)
        if src is not None:  # the cluster's record (LBVIP status) of what was allocated
            previous = {**previous, **src.allocations()}
        compiled = compile_plans(report.index, previous)
    except (LockError, IdentityError, PlanBuildError) as e:
        error(str(e))
        raise typer.Exit(2)
    if lock_path is not None:
        want = lock_dumps(lock_of(compiled.allocations))
        have = lock_path.read_bytes() if lock_path.is_file() else (want if not compiled.allocations else b"")
        if have != want and locked:
            error(f"{lock_path}: the allocation lock is not up to date with the manifests "
                  f"(run cilium-lb compile without --locked and commit the lock)")
            raise typer.Exit(1)
        if have != want:
            try:
                write_lock(lock_path, compiled.allocations)
            except LockError as e:
                error(str(e))
                raise typer.Exit(2)
    if write_status:
        write_back(src, compiled, report.index, lease_namespace)
    plans = compiled.plans
    if node is not None:
        if node not in plans:
            known = ", ".join(sorted(plans)) or "none"
            error(f"no node named {node!r} in the manifest set (nodes: {known})")
            raise typer.Exit(2)
        plans = {node: plans[node]}
    if not plans:
        error("the manifest set has no v1 Node objects: nothing to compile (add nodes or use --nodes FILE)")
        raise typer.Exit(2)
    if output == "-":
        if len(plans) != 1:
            error(f"-o - prints one plan: choose it with --node ({', '.join(sorted(plans))})")
            raise typer.Exit(2)
        sys.stdout.buffer.write(dumps(next(iter(plans.values()))))
        return
    # with --node only that plan is written: the other nodes' files are left alone
    try:
        written, removed = write_plans(Path(output), plans, prune=node is None)
    except OutputError as e:
        error(str(e))
        raise typer.Exit(2)
    for c in compiled.conditions:
        sys.stderr.write(f"warning: {c['ref']}: {c['reason']}: {c['message']}\n")
    typer.echo(f"{len(plans)} plan(s) in {output}: {len(written)} written, {len(plans) - len(written)} unchanged"
               + (f", {len(removed)} removed" if removed else ""))
