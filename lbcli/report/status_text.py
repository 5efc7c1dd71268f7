"""Human output of `lb status`: a Summary, then one row per service. A rich table on a colour
terminal; plain aligned columns when piped or with --color never (stable for grep and diff)."""

from __future__ import annotations

from ..lint.redact import escape_controls as _esc

_STATUS_STYLE = {"ok": "green", "ok (planned)": "green", "degraded": "yellow", "down": "bold red"}


def plain(st) -> str:
    from ..status.table import COLUMNS, service_rows, summary_rows

    lines = ["Summary"]
    sw = max(len(k) for k, _ in summary_rows(st))
    lines += [f"  {k:<{sw}}  {v}" for k, v in summary_rows(st)]
    lines.append("")
    rows = [COLUMNS] + [[_esc(c) for c in r] for r in service_rows(st)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines) + "\n"


def render(st, stream=None) -> None:
    import sys

    from .console import console, use_color

    stream = stream or sys.stdout
    if not use_color(stream):
        stream.write(plain(st))
        return
    from rich.table import Table
    from rich.text import Text

    from ..status.table import COLUMNS, service_rows, summary_rows

    out = console()
    summary = Table(title="Summary", title_justify="left", show_header=False, box=None, padding=(0, 2))
    for k, v in summary_rows(st):
        summary.add_row(k, v)
    out.print(summary)
    table = Table(header_style="bold", show_lines=False)
    for c in COLUMNS:
        table.add_column(c, no_wrap=True)
    for row in ([_esc(c) for c in r] for r in service_rows(st)):
        style = _STATUS_STYLE.get(row[-1], "bold red")
        table.add_row(*(Text(c) for c in row[:-1]), Text(row[-1], style=style))
    out.print(table)
