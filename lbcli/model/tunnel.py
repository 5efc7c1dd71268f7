"""The MAC of a node's tier-2 tunnel device. Plain module: compile writes it into plans (tier 1
writes it as the inner destination so tier 2 takes the packet as its own, PACKET_HOST) and
tier 2 gives its device this address; the node reads it from the plan, never recomputes it."""

from __future__ import annotations

import hashlib


def tunnel_mac(node: str) -> str:
    """A stable, locally administered unicast MAC derived from the node name."""
    h = hashlib.sha256(b"cilium-lb/tunnel-mac/" + node.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *h[:5]))
