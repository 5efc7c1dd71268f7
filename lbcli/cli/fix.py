"""`cilium-lb fix PATH...`: repair in place what the rules can repair; `--diff` previews."""

from __future__ import annotations

import sys
from enum import Enum
from typing import List, Optional

import typer

from ..report.console import error
from .loading import MAX_FILE_SIZE_HELP


class FailLevel(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


def fix(
    paths: List[str] = typer.Argument(..., help="Files, directories (recursive), globs (- for stdin, with --diff)."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff of the repairs; write nothing."),
    fail_level: Optional[FailLevel] = typer.Option(None, "--fail-level", help="Exit 1 when a finding at or above this severity remains (default: error)."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Config file (default: .cilium-lb.yaml searched upwards)."),
    no_config: bool = typer.Option(False, "--no-config", help="Ignore .cilium-lb.yaml files."),
    max_file_size: Optional[str] = typer.Option(None, "--max-file-size", help=MAX_FILE_SIZE_HELP),
) -> None:
    """Repair, in place, the findings a rule can repair (misspelt or misplaced fields, Maglev
    sizes, deprecated annotations, ...), keeping comments, order, quoting and layout.
    Exit 0 when nothing remains, 1 when findings remain, 2 on usage or I/O errors."""
    from ..fix.engine import fix as run_fix
    from ..lint.config import ConfigError, load_config
    from ..lint.problem import Severity
    from ..manifest.loader import LoadError, load
    from .loading import limits_for

    if "-" in paths and not diff:
        error("fix rewrites files; - (stdin) can only be previewed with --diff")
        raise typer.Exit(2)
    try:
        cfg = load_config(config, search=not no_config)
        limits = limits_for(cfg, max_file_size)
        loaded = load(list(paths), ignore=cfg.is_ignored if cfg.ignore else None, limits=limits)
    except (ConfigError, LoadError, ValueError) as e:
        error(str(e))
        raise typer.Exit(2)
    result = run_fix(loaded, cfg, limits=limits)
    log = sys.stderr if diff else sys.stdout
    failed = False
    if diff:
        from ..fix.diff import unified

        for name in result.after:
            sys.stdout.write(unified(name, result.before[name], result.after[name]))
    else:
        from ..fix.write import WriteError, rewrite

        for name in result.after:
            try:
                rewrite(name, result.before[name], result.after[name])
            except WriteError as e:
                error(str(e))
                failed = True
    _log(log, result, diff)
    if failed:
        raise typer.Exit(2)
    level = Severity.parse(fail_level.value) if fail_level else (cfg.fail_level or Severity.ERROR)
    raise typer.Exit(1 if result.report.count(level) else 0)


def _log(stream, result, diff: bool) -> None:
    from ..lint.redact import escape_controls as esc
    from ..report.text import lines

    verb = "would fix" if diff else "fixed"
    for a in result.applied:
        stream.write(f"{esc(a.file)}:{a.line}:{a.column}: {verb}: {esc(a.edit.description)} [{a.rule}]\n")
    for rule, why in result.refused:
        stream.write(f"warning: rule {rule} could not fix a finding: {why}\n")
    if stream is sys.stdout:
        from ..report import render_lint

        render_lint("text", result.report)
    else:
        stream.write("".join("".join(t for t, _ in line) + "\n" for line in lines(result.report)))


def register(app: typer.Typer) -> None:
    app.command("fix")(fix)
