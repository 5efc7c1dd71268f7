"""The MAC of a node's tier-2 tunnel device. Plain module: compile writes it into plans (tier 1
writes it as the inner destination so tier 2 takes the packet as its own, PACKET_HOST) and
tier 2 gives its device this address; the node reads it from the plan, never recomputes it."""

from __future__ import annotations

import functools
import hashlib


def tunnel_mac(node: str) -> str:
    """A stable, locally administered unicast MAC derived from the node name."""
    h = hashlib.sha256(b"cilium-lb/tunnel-mac/" + node.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *h[:5]))


@functools.lru_cache(maxsize=4096)  # every node's plan lists every peer's: n x n hashes otherwise
def pod_tunnel_mac(node: str) -> str:
    """The MAC of a node's pod tunnel device (peers write it as the inner destination; another
    hash domain than the tier-2 device's, so the two differ on a node that has both)."""
    h = hashlib.sha256(b"cilium-lb/pod-tunnel-mac/" + node.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *h[:5]))
