"""Renderers at the edge: each turns a LintReport into text for one output format."""

from __future__ import annotations

import sys


def render_lint(fmt: str, report, stream=None) -> None:
    stream = stream or sys.stdout
    if fmt == "text":
        from .text import render

        render(report)
        return
    if fmt == "json":
        from .json_report import render
    elif fmt == "sarif":
        from .sarif import render
    elif fmt == "github":
        from .github import render
    elif fmt == "junit":
        from .junit import render
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    stream.write(render(report))
