"""SARIF 2.1.0 for code-scanning UIs: one run, rule metadata from the rule docstrings, real
regions (1-based startLine/startColumn), and always a `results` array (empty when clean).

JSON encoding keeps any string valid; message texts also have control characters written as
visible escapes (viewers print them), and file names become URI references (percent-encoded)."""

from __future__ import annotations

import json
from urllib.parse import quote

from .. import __version__
from ..lint.problem import Severity
from ..lint.redact import escape_controls
from ..lint.registry import all_rule_info

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(report) -> str:
    infos = all_rule_info()
    used = sorted({p.rule for p in report.problems} | set(infos))
    index = {rid: i for i, rid in enumerate(used)}
    rules = []
    for rid in used:
        info = infos.get(rid)
        rules.append({
            "id": rid,
            "name": rid,
            "shortDescription": {"text": info.summary if info else rid},
            "fullDescription": {"text": info.doc if info else rid},
            "defaultConfiguration": {"level": _LEVEL[info.severity] if info else "error"},
        })
    results = []
    for p in report.problems:
        results.append({
            "ruleId": p.rule,
            "ruleIndex": index[p.rule],
            "level": _LEVEL[p.severity],
            "message": {"text": escape_controls(p.message)},
            "locations": [_location(p)],
        })
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cilium-lb",
                "version": __version__,
                "informationUri": "https://github.com/isovalent/cilium-lb",
                "rules": rules,
            }},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


def _location(p) -> dict:
    """A file region; for an object read from a cluster (no file) only the logical location:
    the object, and the field inside it."""
    logical = {"fullyQualifiedName": escape_controls(p.resource), "kind": "resource"} if p.resource else None
    if not p.file:
        if p.field:
            logical = {**(logical or {}), "name": escape_controls(p.field),
                       "fullyQualifiedName": escape_controls(f"{p.resource or '?'}/{p.field}")}
        return {"logicalLocations": [logical]} if logical else {}
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(p.file)},
                                 "region": {"startLine": p.line, "startColumn": p.column}},
            **({"logicalLocations": [logical]} if logical else {})}


def _uri(path: str) -> str:
    """A relative URI reference for a file path: `/` separators, anything outside RFC 3986's
    path characters percent-encoded (a space, a newline, `#`, `?`)."""
    return quote(path.replace("\\", "/"), safe="/:@!$&'()*+,;=-._~", errors="surrogateescape")
