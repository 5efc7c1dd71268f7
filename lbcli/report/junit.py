"""JUnit XML for CI test reports: one testsuite, one testcase per file (a failure per problem at
or above warning; infos go to system-out).

XML 1.0 cannot hold most control characters even as character references, so every echoed
string has them written as visible escapes first; the document always parses."""

from __future__ import annotations

from itertools import groupby
from xml.sax.saxutils import escape, quoteattr

from ..lint.problem import Severity
from ..lint.redact import escape_controls as esc


def render(report) -> str:
    # one testcase per file; a finding on a cluster object (no file) goes to its object's case
    by_file = {f: list(ps) for f, ps in groupby(report.problems, key=lambda p: p.file or p.resource or "?")}
    files = list(dict.fromkeys(list(report.load.files) + list(by_file)))
    cases, failures = [], 0
    for f in files:
        probs = by_file.get(f, [])
        bad = [p for p in probs if p.severity >= Severity.WARNING]
        body = ""
        if bad:
            failures += 1
            text = "\n".join(f"{esc(p.where)} {p.severity.label} {esc(p.rule)} {esc(p.message)}" for p in bad)
            body += f'<failure type={quoteattr(esc(bad[0].rule))} message={quoteattr(f"{len(bad)} problem(s)")}>{escape(text)}</failure>'
        infos = [p for p in probs if p.severity < Severity.WARNING]
        if infos:
            body += "<system-out>" + escape("\n".join(f"{esc(p.where)} info {esc(p.rule)} {esc(p.message)}" for p in infos)) + "</system-out>"
        cases.append(f'    <testcase classname="cilium-lb.validate" name={quoteattr(esc(f))}>{body}</testcase>')
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="cilium-lb validate" '
            f'tests="{len(files)}" failures="{failures}" errors="0" skipped="0">\n')
    return head + "\n".join(cases) + ("\n" if cases else "") + "  </testsuite>\n</testsuites>\n"
