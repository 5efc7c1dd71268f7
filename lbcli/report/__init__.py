"""Renderers at the edge, one module per output, found through one registry: the registry also
gives the CLI its `--output` choices, so a format exists exactly when its renderer does."""

from __future__ import annotations

import importlib
import os
import sys

# what is rendered -> format -> module under lbcli/report with render(); "json" for the views
# is the value's own to_json() (no module)
RENDERERS: dict[str, dict[str, str | None]] = {
    "lint": {"text": "text", "json": "json_report", "sarif": "sarif", "github": "github", "junit": "junit"},
    "diff": {"text": "diff_text", "json": None},
    "status": {"text": "status_text", "json": None},
    "apply": {"text": "apply_text", "json": None},
}
# picked when no --output is given
DEFAULTS = {"lint": lambda: "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"}


def formats(what: str) -> tuple[str, ...]:
    return tuple(RENDERERS[what])


def renderer(what: str, fmt: str):
    """The render() of `fmt` for `what`; ValueError for a format no renderer provides."""
    module = RENDERERS.get(what, {}).get(fmt, "")
    if not module:
        raise ValueError(f"unknown {what} output format {fmt!r} (choose from {', '.join(formats(what))})")
    return importlib.import_module(f"{__name__}.{module}").render


def render_lint(fmt: str | None, report, stream=None) -> None:
    fmt = fmt or DEFAULTS["lint"]()
    render = renderer("lint", fmt)
    if fmt == "text":  # prints itself (colour, terminal width)
        render(report)
        return
    (stream or sys.stdout).write(render(report))
