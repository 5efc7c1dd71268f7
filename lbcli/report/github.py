"""GitHub Actions workflow commands: one `::error file=...,line=...,col=...::msg` per problem."""

from __future__ import annotations

from ..lint.problem import Severity
from ..lint.redact import escape_controls

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(s: str) -> str:
    # GitHub's own encoding for %, CR and LF; every other control character (ANSI escapes,
    # NUL, bidi overrides) as a visible escape, so no value can start a workflow command
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escape_controls(s)


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def render(report) -> str:
    lines = []
    for p in report.problems:
        if p.file:
            props = f"file={_escape_prop(p.file)},line={p.line},col={p.column},title={_escape_prop(p.rule)}"
            lines.append(f"::{_LEVEL[p.severity]} {props}::{_escape_data(p.message)}")
        else:  # a cluster object: no file to annotate, the object and field lead the message
            props = f"title={_escape_prop(p.rule)}"
            lines.append(f"::{_LEVEL[p.severity]} {props}::{_escape_data(p.where + ': ' + p.message)}")
    return "".join(line + "\n" for line in lines)
