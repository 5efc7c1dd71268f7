"""CiliumLoadBalancerIPPool blocks as integer ranges: shared by the lint rules (overlap, pool
membership) and the compiler's LB-IPAM, so both read `blocks` and `allowFirstLastIPs` alike."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .addr import parse_ip
from .resource import Resource

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Block:
    """One pool block as an inclusive integer range, with what is reserved in it."""

    pool: Resource
    index: int
    text: str  # "100.64.0.0/24" or "10.0.0.1-10.0.0.9"
    version: int
    first: int
    last: int
    reserved: frozenset[int]  # network/broadcast addresses kept out by allowFirstLastIPs: No

    def holds(self, addr: Address) -> bool:
        return addr.version == self.version and self.first <= int(addr) <= self.last

    def overlaps(self, other: "Block") -> bool:
        return self.version == other.version and self.first <= other.last and other.first <= self.last


def blocks(pool: Resource) -> list[Block]:
    """The blocks of a pool; unparsable ones are skipped (the schema reports them)."""
    allow_first_last = pool.spec.get("allowFirstLastIPs", "Yes") != "No"
    out = []
    for i, b in enumerate(_as_list(pool.spec.get("blocks"))):
        if not isinstance(b, dict):
            continue
        if isinstance(b.get("cidr"), str):
            try:
                net = ipaddress.ip_network(b["cidr"], strict=False)
            except ValueError:
                continue
            first, last = int(net.network_address), int(net.broadcast_address)
            reserved: frozenset[int] = frozenset()
            # /31, /32 (/127, /128) would be unusable without their first and last address
            if not allow_first_last and net.max_prefixlen - net.prefixlen >= 2:
                reserved = frozenset({first, last})
            out.append(Block(pool, i, str(net), net.version, first, last, reserved))
        elif isinstance(b.get("start"), str):
            start = address(b["start"])
            stop = address(b["stop"]) if isinstance(b.get("stop"), str) else start
            if start is None or stop is None or start.version != stop.version:
                continue
            lo, hi = sorted((int(start), int(stop)))
            text = str(start) if start == stop else f"{start}-{stop}"
            out.append(Block(pool, i, text, start.version, lo, hi, frozenset()))
    return out



def _as_list(v) -> list:
    return v if isinstance(v, list) else []


def address(text: str) -> Address | None:
    """`text` as an address (surrounding blanks ignored), or None."""
    return parse_ip(text.strip()) if isinstance(text, str) else None
