"""JUnit XML for CI test reports: one testsuite, one testcase per file (a failure per problem at
or above warning; infos go to system-out). Written with xml.etree, which escapes markup.

XML 1.0 cannot hold most control characters even as character references, so every echoed
string has them written as visible escapes first; the document always parses."""

from __future__ import annotations

from itertools import groupby
from xml.etree import ElementTree as ET

from ..lint.problem import Severity
from ..lint.redact import escape_controls as esc


def _line(p, label: str) -> str:
    return f"{esc(p.where)} {label} {esc(p.rule)} {esc(p.message)}"


def render(report) -> str:
    # one testcase per file; a finding on a cluster object (no file) goes to its object's case
    by_file = {f: list(ps) for f, ps in groupby(report.problems, key=lambda p: p.file or p.resource or "?")}
    files = list(dict.fromkeys(list(report.load.files) + list(by_file)))
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name="cilium-lb validate", tests=str(len(files)),
                          failures="0", errors="0", skipped="0")
    failures = 0
    for f in files:
        probs = by_file.get(f, [])
        case = ET.SubElement(suite, "testcase", classname="cilium-lb.validate", name=esc(f))
        bad = [p for p in probs if p.severity >= Severity.WARNING]
        if bad:
            failures += 1
            fail = ET.SubElement(case, "failure", type=esc(bad[0].rule), message=f"{len(bad)} problem(s)")
            fail.text = "\n".join(_line(p, p.severity.label) for p in bad)
        infos = [p for p in probs if p.severity < Severity.WARNING]
        if infos:
            ET.SubElement(case, "system-out").text = "\n".join(_line(p, "info") for p in infos)
    suite.set("failures", str(failures))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
