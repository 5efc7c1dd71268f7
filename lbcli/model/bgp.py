"""What a node's BGP speaker (BIRD) can carry out, so lint refuses the rest at the field:
the address families it opens sessions for, and the well-known communities it knows by name
(RFC 1997). Imported by the node, so it imports nothing."""

from __future__ import annotations

# RFC 1997 well-known communities, as Cilium accepts them by name
WELL_KNOWN_COMMUNITIES = {
    "no-export": (65535, 65281),
    "no-advertise": (65535, 65282),
    "no-export-subconfed": (65535, 65283),
    "no-peer": (65535, 65284),
}
# BIRD channels for (afi, safi); the node refuses other families
CHANNELS = {("ipv4", "unicast"): "ipv4", ("ipv6", "unicast"): "ipv6"}
