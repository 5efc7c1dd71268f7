"""`cilium-lb rules`: the lint rules and their documentation."""

from __future__ import annotations

from typing import Optional

import typer

from .common import LintFormat


def rules(
    output: Optional[LintFormat] = typer.Option(None, "-o", "--output", help="text or json."),
) -> None:
    """List the lint rules with their default severity and documentation."""
    from ..lint.registry import all_rule_info

    infos = sorted(all_rule_info().values(), key=lambda r: r.id)
    if output == LintFormat.json:
        import json

        typer.echo(json.dumps([{"id": r.id, "severity": r.severity.label, "summary": r.summary} for r in infos], indent=2))
        return
    width = max(len(r.id) for r in infos)
    for r in infos:
        typer.echo(f"{r.id:<{width}}  {r.severity.label:<7}  {r.summary}")
