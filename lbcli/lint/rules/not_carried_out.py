"""Real upstream kinds that cilium-lb does not carry out are named once per run, at info.

A repository that keeps cilium-lb's manifests often keeps other Cilium and Isovalent resources
beside them (CiliumNetworkPolicy, CiliumL2AnnouncementPolicy, CiliumBGPPeeringPolicy,
IsovalentVRF, ...). They are real kinds, so they are never `unknown-kind` errors; cilium-lb
neither checks nor compiles them, and says so once per kind, at the first object of that kind,
with the number of objects.

Example (info):

    policies.yaml:2:7: info: known, not carried out by cilium-lb: CiliumNetworkPolicy
    (3 objects) [not-carried-out]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity

ID = "not-carried-out"
SEVERITY = Severity.INFO
ON_INVALID = True  # its objects are never schema-checked (valid=False): it speaks for them


def check(ctx: Context) -> Iterator[Finding]:
    by_kind: dict[str, list] = {}
    for res in ctx.index.resources:
        if res.extra.get("foreign"):
            by_kind.setdefault(res.kind, []).append(res)
    for kind in sorted(by_kind):
        items = by_kind[kind]
        n = len(items)
        yield Finding(items[0], ("kind",),
                      f"known, not carried out by cilium-lb: {kind} ({n} object{'s' if n != 1 else ''})")
