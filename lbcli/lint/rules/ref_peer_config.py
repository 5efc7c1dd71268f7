"""Every BGP peer's peerConfigRef names an existing peer config of its family.

The peer config carries the timers, the password, the address families and which
advertisements the peer receives; a dangling reference leaves the session without any of them
(Cilium reports the missing peer config on the cluster config and announces nothing to the
peer). An IsovalentBGPClusterConfig refers to IsovalentBGPPeerConfigs, a CiliumBGPClusterConfig
to CiliumBGPPeerConfigs; both are cluster-scoped, so the name is global. A peer without
peerConfigRef uses the defaults and is not reported.

Example of a finding:

    bgp.yaml:17:19: error: peer peer0 of instance instance0: IsovalentBGPPeerConfig
    router-peer-confg does not exist; did you mean 'router-peer-config'? [ref-peer-config]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ...manifest.index import bgp_sibling
from ..problem import Severity
from ._refs import as_list, ref_name, similar

ID = "ref-peer-config"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for cfg in ctx.index.bgp("ClusterConfig"):
        pc_kind = bgp_sibling(cfg.kind, "PeerConfig")
        for i, inst in enumerate(as_list(cfg.spec.get("bgpInstances"))):
            if not isinstance(inst, dict):
                continue
            for j, peer in enumerate(as_list(inst.get("peers"))):
                if not isinstance(peer, dict):
                    continue
                name = ref_name(peer, "peerConfigRef", "name")
                if name is None or ctx.index.get(pc_kind, None, name) is not None:
                    continue
                hint = similar(ctx.index, pc_kind, None, name)
                yield Finding(cfg, ("spec", "bgpInstances", i, "peers", j, "peerConfigRef", "name"),
                              f"peer {peer.get('name')} of instance {inst.get('name')}: "
                              f"{pc_kind} {name} does not exist{hint}")
