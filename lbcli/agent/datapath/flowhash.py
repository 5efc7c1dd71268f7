"""The datapath's flow hash in Python (mirror of bpf/lb_jhash.h and the call in lb_tc.c).

Lets tools and tests predict which Maglev slot, hence which T2, a flow is steered to.
"""

from __future__ import annotations

import socket
import struct

_M = 0xFFFFFFFF
_INITVAL = 0xDEADBEEF


def _rol(w: int, s: int) -> int:
    return ((w << s) | (w >> (32 - s))) & _M


def jhash_3words(a: int, b: int, c: int, initval: int) -> int:
    initval = (initval + _INITVAL + (3 << 2)) & _M
    a = (a + initval) & _M
    b = (b + initval) & _M
    c = (c + initval) & _M
    c ^= b; c = (c - _rol(b, 14)) & _M  # noqa: E702
    a ^= c; a = (a - _rol(c, 11)) & _M  # noqa: E702
    b ^= a; b = (b - _rol(a, 25)) & _M  # noqa: E702
    c ^= b; c = (c - _rol(b, 16)) & _M  # noqa: E702
    a ^= c; a = (a - _rol(c, 4)) & _M  # noqa: E702
    b ^= a; b = (b - _rol(a, 14)) & _M  # noqa: E702
    c ^= b; c = (c - _rol(b, 24)) & _M  # noqa: E702
    return c


def flow_hash(saddr: str, daddr: str, sport: int, dport: int, proto: int, seed: int) -> int:
    """Hash of a flow as the BPF program computes it (words loaded little-endian from the wire)."""
    (a,) = struct.unpack("<I", socket.inet_aton(saddr))
    (b,) = struct.unpack("<I", socket.inet_aton(daddr))
    (c,) = struct.unpack("<I", struct.pack(">HH", sport, dport))
    return jhash_3words(a, b, c, (seed ^ proto) & _M)


def maglev_slot(saddr: str, daddr: str, sport: int, dport: int, proto: int, seed: int, size: int) -> int:
    return flow_hash(saddr, daddr, sport, dport, proto, seed) % size
