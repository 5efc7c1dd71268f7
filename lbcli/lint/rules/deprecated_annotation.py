"""Deprecated LB-IPAM annotation spellings are honoured, with a note to rename them.

Cilium still reads `io.cilium/lb-ipam-ips` and `io.cilium/lb-ipam-sharing-key` (the spellings
before 1.15) when the `lbipam.cilium.io/` ones are absent, and so do cilium-lb's lint and
compile: the request or sharing key counts. This rule only says, at info, what the current
name is. With both spellings present the current one wins, and the note says the old one is
ignored.

`cilium-lb fix` renames the annotation (when only the old spelling is set).

Example (info):

    svc.yaml:6:5: info: io.cilium/lb-ipam-ips is deprecated; rename it to lbipam.cilium.io/ips
    (honoured meanwhile) [deprecated-annotation]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.index import DEPRECATED_IPAM
from ..finding import Context, Finding
from ..problem import Severity

ID = "deprecated-annotation"
SEVERITY = Severity.INFO


def check(ctx: Context) -> Iterator[Finding]:
    for kind in ("Service", "LBVIP"):
        for res in ctx.index.valid(kind):
            ann = res.annotations
            for current, old in DEPRECATED_IPAM.items():
                if old not in ann:
                    continue
                effect = "ignored: the current spelling is set too" if current in ann else "honoured meanwhile"
                yield Finding(res, ("metadata", "annotations", old),
                              f"{old} is deprecated; rename it to {current} ({effect})", key=True,
                              hint=None if current in ann else current)


def fix(finding: Finding, doc):
    """Rename the annotation to its current spelling (not when both are set: the old value is
    ignored, and which one the user meant is theirs to say)."""
    if finding.hint is None:
        return None
    return doc.rename_key(finding.path, finding.hint, f"renamed {finding.path[-1]} to {finding.hint}")
