"""Human output of a plan diff: per node, per section, one line per change, coloured
(+ green, - red, ~ yellow); digests of secrets shortened, never material."""

from __future__ import annotations

from typing import Any

from ..lint.redact import escape_controls

_STYLE = {"create": "green", "delete": "red", "update": "yellow"}
_MARK = {"create": "+", "delete": "-", "update": "~"}


def value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ", ".join(value(x) for x in v) if v else "[]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {value(x)}" for k, x in sorted(v.items())) + "}"
    return str(v)


def line(c) -> str:
    """One change as a sentence, e.g. `VIP 100.64.0.101:443 https-proxy: ~ backend 172.18.0.8:8080
    weight 1 -> 2` or `BGP peer 192.168.121.201: + prefix 100.64.0.102/32`."""
    from ..diff.maglev import short

    if c.secret:
        text = f"{c.object}: ~ {c.field} changed (sha256 {short(c.old)} -> {short(c.new)})"
    elif c.action == "update":
        text = f"{c.object}: ~ {c.field} {value(c.old)} -> {value(c.new)}"
    else:
        v = c.new if c.action == "create" else c.old
        # list items and whole objects are named by their identity in `field`; scalars show
        text = f"{c.object}: {_MARK[c.action]} {c.field}" + ("" if isinstance(v, dict) else f" {value(v)}")
    # plan values come from manifests: never let one write control characters to a terminal
    return escape_controls(text + (f" ({c.detail})" if c.detail else ""))


def render(changes: list, out=None) -> None:
    from rich.text import Text

    from .console import console
    from ..diff.change import SECTIONS

    out = out or console()
    if not changes:
        out.print(Text("no changes", style="green"))
        return
    node = section = object()
    for c in changes:
        if c.node != node:
            node, section = c.node, object()
            out.print(Text(f"node {escape_controls(str(c.node))}", style="bold underline"))
        if c.section != section:
            section = c.section
            out.print(Text(f"  {SECTIONS.get(c.section, c.section)}", style="bold"))
        text = line(c)
        obj, sep, rest = text.partition(": ")
        t = Text("    " + obj + sep)
        t.append(rest[:1], style=f"bold {_STYLE[c.action]}")
        t.append(rest[1:], style=_STYLE[c.action])
        out.print(t)
    counts = {a: sum(1 for c in changes if c.action == a) for a in ("create", "delete", "update")}
    nodes = len({c.node for c in changes})
    out.print(Text(f"{len(changes)} change(s) on {nodes} node(s): {counts['create']} added, "
                   f"{counts['delete']} removed, {counts['update']} changed", style="bold"))
