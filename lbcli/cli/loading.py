"""Shared by commands that start from manifests: load, lint, and refuse a set with errors."""

from __future__ import annotations

import typer

from .console import error


MAX_FILE_SIZE_HELP = ("Largest manifest file read, e.g. 32M (default), 512K, 0 = no limit; "
                      "also max-file-size in .cilium-lb.yaml.")


def limits_for(cfg, max_file_size: str | None = None):
    """The loader's limits: `--max-file-size` over the config's `max-file-size` over the
    default. ValueError on a malformed size."""
    from ..manifest.limits import Limits, parse_size

    size = cfg.max_file_size
    if max_file_size is not None:
        try:
            size = parse_size(max_file_size)
        except ValueError as e:
            raise ValueError(f"--max-file-size: {e}") from None
    return Limits(max_file_size=size)


def load_checked(paths: list[str], extra: list[str] | None = None, config: str | None = None,
                 max_file_size: str | None = None):
    """Load and lint; on usage/I-O errors exit 2, on error findings print them (stderr) and
    exit 1, as `validate` would. Returns the LintReport."""
    from ..lint.config import ConfigError, load_config
    from ..lint.engine import lint
    from ..lint.problem import Severity
    from ..manifest.loader import LoadError, load

    try:
        cfg = load_config(config)
        loaded = load(list(paths) + list(extra or []), ignore=cfg.is_ignored if cfg.ignore else None,
                      limits=limits_for(cfg, max_file_size))
    except (ConfigError, LoadError, ValueError) as e:
        error(str(e))
        raise typer.Exit(2)
    report = lint(loaded, cfg)
    if report.count(Severity.ERROR):
        import sys

        from ..report.text import summary_line

        for p in report.problems:
            if p.severity >= Severity.ERROR:
                sys.stderr.write(f"{p.file}:{p.line}:{p.column} {p.severity.label} {p.rule} {p.message}\n")
        sys.stderr.write(summary_line(report.summary) + "\n")
        error("the manifest set has errors; fix them first (see `cilium-lb validate`)")
        raise typer.Exit(1)
    return report


def compile_node(paths: list[str], nodes: list[str] | None, node: str, applied: dict | None,
                 findings_exit: int = 1) -> tuple[dict, dict]:
    """(plan, secret material) of one node, compiled as `apply` does: addresses stay where the
    applied plan put them. `findings_exit` is the exit code for a set with errors (diff uses 2:
    its 1 means "changes")."""
    from ..compile.output import previous_ipam
    from ..compile.plan import compile_plans

    try:
        report = load_checked(paths, nodes)
    except typer.Exit as e:
        raise typer.Exit(findings_exit if e.exit_code == 1 else e.exit_code)
    compiled = compile_plans(report.index, previous_ipam({node: applied}) if applied else None)
    if node not in compiled.plans:
        error(f"no node named {node!r} in the manifest set (nodes: {', '.join(sorted(compiled.plans)) or 'none'})")
        raise typer.Exit(2)
    return compiled.plans[node], compiled.secrets.get(node, {})
