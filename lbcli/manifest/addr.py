"""IP address parsing shared by rules and the compiler: ipaddress semantics, cached, with a fast
path for dotted-quad IPv4 (ipaddress's string parser dominates lint time on large sets)."""

from __future__ import annotations

import functools
import ipaddress
import re

_V4 = re.compile(r"(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})")


# backend-type and backend-weights each read every backend address, one rule after the other:
# a cache smaller than a set's addresses has evicted each before the second asks (0 hits at
# 100,000 backends with 65,536 entries); this one holds 262,144 (at most ~50 MB)
@functools.lru_cache(maxsize=1 << 18)
def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address, or None when `text` is not one (never raises)."""
    if not isinstance(text, str):
        return None
    m = _V4.fullmatch(text)
    if m:
        a, b, c, d = map(int, m.groups())
        if a > 255 or b > 255 or c > 255 or d > 255:
            return None
        return ipaddress.IPv4Address((a << 24) | (b << 16) | (c << 8) | d)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_V4_NET = re.compile(_V4.pattern + r"/(0|[1-9]\d?)")


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """ipaddress.ip_network(text, strict=False), or None when `text` is not a network (never
    raises). `a.b.c.d/n` is read without ipaddress's string parser (a Node's PodCIDR each)."""
    m = _V4_NET.fullmatch(text)
    if m:
        a, b, c, d, n = map(int, m.groups())
        if a <= 255 and b <= 255 and c <= 255 and d <= 255:
            if n > 32:
                return None  # as ip_network: no such prefix
            return ipaddress.IPv4Network(((a << 24) | (b << 16) | (c << 8) | d, n), strict=False)
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
