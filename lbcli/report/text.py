"""Human output: problems grouped by file, `file:line:col severity rule message`, then a summary.

Plain text needs no rich (its import costs ~80 ms of every pre-commit run); rich only colours.
"""

from __future__ import annotations

import sys
from itertools import groupby

from .console import use_color
from ..lint.problem import Severity
from ..lint.redact import escape_controls as esc

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def summary_line(s: dict) -> str:
    res = "resource" if s["resources"] == 1 else "resources"
    files = "file" if s["files"] == 1 else "files"
    where = f"in {s['files']} {files}" if s["files"] or not s["resources"] else "from the cluster"
    return (f"{s['resources']} {res} {where}: {s['valid']} valid, "
            f"{s['invalid']} invalid, {s['skipped']} skipped")


def lines(report) -> list[list[tuple[str, str]]]:
    """The output as lines of (text, style) segments; every echoed string is escaped (a
    file name or YAML key with a newline or an ANSI escape cannot forge a line or recolour
    the terminal)."""
    out: list[list[tuple[str, str]]] = []
    for file, probs in groupby(report.problems, key=lambda p: p.file):
        out.append([(esc(file) if file else "cluster objects", "bold underline")])
        for p in probs:
            seg = [("  ", ""), (esc(p.where), "dim"), (" ", ""),
                   (f"{p.severity.label:<7}", _STYLE[p.severity]), (f" {esc(p.rule):<22} ", "magenta"), (esc(p.message), "")]
            if p.resource and p.file:
                seg.append((f"  [{esc(p.resource)}]", "dim"))
            out.append(seg)
        out.append([])
    s = report.summary
    counts = f" ({s['errors']} errors, {s['warnings']} warnings, {s['infos']} infos)" if report.problems else ""
    style = "bold red" if s["errors"] else ("yellow" if s["warnings"] else "green")
    out.append([(summary_line(s) + counts, style)])
    return out


def render(report) -> None:
    if not use_color(sys.stdout):
        sys.stdout.write("".join("".join(t for t, _ in line) + "\n" for line in lines(report)))
        return
    from rich.text import Text

    from .console import console

    out = console()
    for line in lines(report):
        t = Text()
        for text, style in line:
            t.append(text, style=style or None)
        out.print(t)
