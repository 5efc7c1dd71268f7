"""Kinds and apiVersions in the isovalent.com and cilium.io groups are ones cilium-lb knows.

A typo in those groups (`LBServices`, `isovalent.com/v1beta1`) would otherwise make a
resource silently disappear from the set; it is reported with the closest known kind and its
apiVersions. Every kind that exists upstream (Cilium's CRDs, Isovalent's API types) is known:
those cilium-lb does not carry out are reported by `not-carried-out` at info, never here, and
"did you mean" is only offered for names that are not real kinds. Kinds of other groups are
skipped and counted in the summary.
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.kinds import UPSTREAM_KINDS, all_kinds, group_of, known_kinds
from ..finding import Context, Finding
from ..problem import Severity

ID = "unknown-kind"
SEVERITY = Severity.ERROR
PHASE = 0


def check(ctx: Context) -> Iterator[Finding]:
    kinds = all_kinds()
    for res in ctx.index.resources:
        if not res.extra.get("unknown"):
            continue
        if res.kind in kinds:
            upstream = UPSTREAM_KINDS.get(res.kind)
            if res.kind not in known_kinds() and upstream and group_of(res.api_version) != upstream[0]:
                versions = f"an apiVersion of {upstream[0]}"
            else:
                versions = "apiVersion " + ", ".join(kinds[res.kind])
            yield Finding(res, ("apiVersion",),
                          f"{res.kind} is not served as {res.api_version}; use {versions}")
            continue
        import difflib  # only for a kind it does not know: not at every start

        close = difflib.get_close_matches(res.kind, list(kinds), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]} ({', '.join(kinds[close[0]])})?" if close else ""
        yield Finding(res, ("kind",), f"unknown kind {res.kind} in {res.api_version}{hint}")
