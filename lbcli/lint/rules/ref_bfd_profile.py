"""Every IsovalentBGPPeerConfig's bfdProfileRef names an existing IsovalentBFDProfile.

BFD is what withdraws a dead tier-1 node in under a second; with a dangling profile reference
the sessions run without BFD and failover falls back to the BGP hold timer (90 s by default).
IsovalentBFDProfile is cluster-scoped, so the name is global.

Example of a finding:

    bgp.yaml:30:18: error: IsovalentBFDProfile router-bdf does not exist (BFD stays off for
    peers using this config); did you mean 'router-bfd'? [ref-bfd-profile]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._refs import similar

ID = "ref-bfd-profile"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for peer in ctx.index.valid("IsovalentBGPPeerConfig"):
        name = peer.spec.get("bfdProfileRef")
        if not isinstance(name, str) or not name:
            continue
        if ctx.index.get("IsovalentBFDProfile", None, name) is not None:
            continue
        hint = similar(ctx.index, "IsovalentBFDProfile", None, name)
        yield Finding(peer, ("spec", "bfdProfileRef"),
                      f"IsovalentBFDProfile {name} does not exist (BFD stays off for peers using "
                      f"this config){hint}")
