"""Human output: problems grouped by file, `file:line:col severity rule message`, then a summary."""

from __future__ import annotations

from itertools import groupby

from ..cli.console import console
from ..lint.problem import Severity

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def summary_line(s: dict) -> str:
    res = "resource" if s["resources"] == 1 else "resources"
    files = "file" if s["files"] == 1 else "files"
    return (f"{s['resources']} {res} in {s['files']} {files}: {s['valid']} valid, "
            f"{s['invalid']} invalid, {s['skipped']} skipped")


def render(report) -> None:
    from rich.text import Text

    out = console()
    for file, probs in groupby(report.problems, key=lambda p: p.file):
        out.print(Text(file, style="bold underline"))
        for p in probs:
            line = Text("  ")
            line.append(f"{p.file}:{p.line}:{p.column}", style="dim")
            line.append(" ")
            line.append(f"{p.severity.label:<7}", style=_STYLE[p.severity])
            line.append(f" {p.rule:<22} ", style="magenta")
            line.append(p.message)
            if p.resource:
                line.append(f"  [{p.resource}]", style="dim")
            out.print(line)
        out.print()
    s = report.summary
    counts = f" ({s['errors']} errors, {s['warnings']} warnings, {s['infos']} infos)" if report.problems else ""
    style = "bold red" if s["errors"] else ("yellow" if s["warnings"] else "green")
    out.print(Text(summary_line(s) + counts, style=style))
