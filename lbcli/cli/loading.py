"""Shared by commands that start from manifests: load, lint, and refuse a set with errors."""

from __future__ import annotations

import typer

from ..report.console import error
from .sources import MAX_FILE_SIZE_HELP, limits_for, load_any  # noqa: F401 (re-exported)


def load_checked(paths: list[str], extra: list[str] | None = None, config: str | None = None,
                 max_file_size: str | None = None, kube=None):
    """Load (files, or the cluster when `kube` is a cli.kube.KubeSource) and lint; on usage/I-O
    errors exit 2, on error findings print them (stderr) and exit 1, as `validate` would.
    Returns the LintReport."""
    from ..lint.config import ConfigError, load_config
    from ..lint.engine import lint
    from ..lint.problem import Severity
    from ..manifest.loader import LoadError, load

    try:
        cfg = load_config(config)
        loaded = load_any(paths, extra, cfg, limits_for(cfg, max_file_size), kube)
    except (ConfigError, LoadError, ValueError) as e:
        error(str(e))
        raise typer.Exit(2)
    report = lint(loaded, cfg)
    if report.count(Severity.ERROR):
        import sys

        from ..lint.redact import escape_controls
        from ..report.text import summary_line

        for p in report.problems:
            if p.severity >= Severity.ERROR:
                sys.stderr.write(f"{escape_controls(p.where)} {p.severity.label} {p.rule} {escape_controls(p.message)}\n")
        sys.stderr.write(summary_line(report.summary) + "\n")
        error("the manifest set has errors; fix them first (see `cilium-lb validate`)")
        raise typer.Exit(1)
    return report


def compile_node(paths: list[str], nodes: list[str] | None, node: str, lock: str | None = None,
                 findings_exit: int = 1, kube=None):
    """(plan, secret material) of one node, compiled as `compile` does: addresses allocated
    before come from the allocation lock beside the manifests (read, never written here).
    `findings_exit` is the exit code for a set with errors (diff uses 2: its 1 means "changes")."""
    compiled = compile_all(paths, nodes, lock, findings_exit, kube)
    if node not in compiled.plans:
        error(f"no node named {node!r} in the manifest set (nodes: {', '.join(sorted(compiled.plans)) or 'none'})")
        raise typer.Exit(2)
    return compiled.plans[node], compiled.secrets.get(node, {})


def compile_all(paths: list[str], nodes: list[str] | None, lock: str | None = None, findings_exit: int = 1,
                kube=None):
    """The compiled set (plans per node, their secret material), as `compile` makes it."""
    from pathlib import Path

    from ..compile.allocations import LockError, default_path, read_lock
    from ..compile.nodes import IdentityError
    from ..compile.plan import PlanBuildError, compile_plans

    try:
        report = load_checked(paths, nodes, kube=kube)
    except typer.Exit as e:
        raise typer.Exit(findings_exit if e.exit_code == 1 else e.exit_code)
    try:
        locked = read_lock(Path(lock) if lock else default_path(paths))
        if kube is not None:  # in a cluster, LBVIP/Service status records what was allocated
            locked = {**locked, **kube.allocations()}
        compiled = compile_plans(report.index, locked)
    except (LockError, IdentityError, PlanBuildError) as e:
        error(str(e))
        raise typer.Exit(2)
    return compiled


def secrets_from(paths: list[str]) -> dict[str, dict[str, bytes]]:
    """"ns/name" -> decoded keys of every v1 Secret in the manifests at `paths` (loaded and
    linted like any manifest set: a set with errors exits 1, unreadable input 2)."""
    from ..compile.secrets import secret_data

    index = load_checked(paths).index
    out = {}
    for r in index.of_kind("Secret"):
        data = secret_data(index, r.namespace, r.name)
        if data is not None:
            out[f"{r.namespace}/{r.name}"] = data
    return out


def plan_from(source: str, node: str, secret_paths: list[str] | None):
    """(plan, secret material) of `node` from a compiled plan (a file or a directory of plans)
    and the Secret manifests at `secret_paths`, each checked against the plan's digest. Exit 2
    when the plan cannot be read or a Secret is missing or differs (the message names the
    Secret, never its content)."""
    from ..diff.sources import PlanSourceError, read_plan_source, why_not_plans
    from ..plan.secrets import SecretMismatch, material_for

    try:
        plans = read_plan_source(source, strict=True)
    except PlanSourceError as e:
        error(str(e))
        raise typer.Exit(2)
    if not plans:
        error(f"{source}: no NodePlan JSON found ({why_not_plans(source)})")
        raise typer.Exit(2)
    if node not in plans:
        error(f"no plan for node {node!r} in {source} (nodes: {', '.join(sorted(plans))})")
        raise typer.Exit(2)
    plan = plans[node]
    given = secrets_from(secret_paths) if secret_paths else {}
    try:
        return plan, material_for(plan, given, "the --secrets manifests" if secret_paths else "(no --secrets given)")
    except SecretMismatch as e:
        error(f"{node}: {e}")
        raise typer.Exit(2)


def node_plan(paths: list[str] | None, plan_source: str | None, secret_paths: list[str] | None,
              nodes: list[str] | None, node: str, lock: str | None, findings_exit: int = 1, kube=None):
    """(plan, secret material) for `apply`, `diff --live`: compiled from manifest `paths` or
    read from `plan_source` with Secrets from `secret_paths`; usage errors exit 2."""
    if plan_source is not None:
        if paths:
            error("give manifests (PATH...) or --plan, not both")
            raise typer.Exit(2)
        if nodes or lock:
            error("--nodes and --lock are for compiling manifests; a --plan is compiled already")
            raise typer.Exit(2)
        if kube is not None:
            error("give --kube or --plan, not both")
            raise typer.Exit(2)
        return plan_from(plan_source, node, secret_paths)
    if kube is not None:
        if secret_paths:
            error("--secrets goes with --plan; with --kube the Secrets come from the cluster")
            raise typer.Exit(2)
        return compile_node([], nodes, node, lock, findings_exit, kube)
    if not paths:
        error("give manifests (PATH...) or a compiled plan (--plan FILE|DIR)")
        raise typer.Exit(2)
    if secret_paths:
        error("--secrets goes with --plan; with manifests the Secrets come from PATH...")
        raise typer.Exit(2)
    return compile_node(paths, nodes, node, lock, findings_exit)
