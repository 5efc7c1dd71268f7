"""Every object (kind, namespace, name) is defined once in the set.

Two documents with the same identity are one object to Kubernetes and to cilium-lb: the later
one silently replaces the earlier (kubectl apply) or is ignored (the resource index keeps the
first), so an edit to the "wrong" copy has no effect. Versions of one kind (cilium.io/v2alpha1
and v2 pools) are the same object. Checked for every recognized resource, schema-valid or not,
since the clash does not depend on the content; documents without a name are left to the
schema rule. An identical copy (the same content in two files, as when several sets share
their cluster-wide objects) is harmless and counts once, as `kubectl apply` of both would.

The finding is at the later copy's `metadata.name` and names the first copy's file:line.

Example of a finding:

    more/bgp.yaml:4:9: error: IsovalentBFDProfile/router-bfd is already defined at
    bgp.yaml:57; one of them has no effect [duplicate-resource]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import Resource
from ..finding import Context, Finding
from ..problem import Severity
from ._refs import where

ID = "duplicate-resource"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    first: dict[tuple, Resource] = {}
    for res in ctx.index.resources:
        if res.extra.get("unknown") or res.extra.get("foreign") or not res.name:
            continue
        seen = first.setdefault((res.kind, res.namespace, res.name), res)
        if seen is not res and seen.body != res.body:
            yield Finding(res, ("metadata", "name"),
                          f"{res.ref} is already defined at {where(seen)}; one of them has no effect")
