"""Human output of apply / reset: one line per change, grouped by component, then a verdict."""

from __future__ import annotations

from .console import console
from ..lint.redact import escape_controls as esc  # names and errors may carry manifest text

_MARK = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def render(report_dict: dict) -> None:
    from rich.text import Text

    out = console()
    verb = "would change" if report_dict.get("dryRun") else "changed"
    for comp in report_dict["components"]:
        if not comp["changes"] and comp["ok"] and not comp["degraded"] and not comp.get("notes"):
            continue
        out.print(Text(comp["name"], style="bold"))
        for ch in comp["changes"]:
            mark, style = _MARK.get(ch["action"], ("?", "white"))
            line = Text(f"  {mark} ", style=style)
            line.append(esc(ch["object"]))
            if ch["detail"]:
                line.append(f"  ({esc(ch['detail'])})", style="dim")
            if ch.get("ok") is False:
                line.append(f"  FAILED: {esc(str(ch['error']))}", style="bold red")
            out.print(line)
        for note in comp.get("notes") or []:
            out.print(Text(f"  note: {esc(note)}", style="yellow"))
        if comp["degraded"]:
            out.print(Text(f"  degraded: {esc(comp['degraded'])}", style="yellow"))
        if comp["error"]:
            out.print(Text(f"  error: {esc(comp['error'])}", style="bold red"))
    for w in report_dict.get("withheld") or []:
        verb_w = "would not announce" if report_dict.get("dryRun") else "not announced"
        out.print(Text(f"bgp: {verb_w} {w['prefix']}: this node cannot serve it ({esc(w['reason'])})", style="bold red"))
    n = report_dict["changes"]
    node = report_dict["node"]
    if not report_dict["ok"]:
        failed = ", ".join(c["name"] for c in report_dict["components"] if not c["ok"])
        if report_dict.get("dryRun"):
            out.print(Text(f"{node}: apply would fail ({failed})", style="bold red"))
        else:
            out.print(Text(f"{node}: not converged ({failed} failed); the previous state of the failed parts is left in place", style="bold red"))
    elif n == 0:
        out.print(Text(f"{node}: converged, no changes", style="green"))
    else:
        out.print(Text(f"{node}: {n} {'change' if n == 1 else 'changes'} {verb}" + ("" if report_dict.get("dryRun") else ", converged"), style="green"))
