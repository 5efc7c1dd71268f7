"""Kubernetes resource quantities (`10M`, `1Gi`, `500k`, `1e6`) as exact numbers.

The grammar is apimachinery's (pkg/api/resource/quantity.go): a signed decimal number, then
an optional suffix — binary (Ki Mi Gi Ti Pi Ei), decimal SI (n u m "" k M G T P E) or a
decimal exponent (e3, E6). The bandwidth annotations `kubernetes.io/egress-bandwidth` and
`kubernetes.io/ingress-bandwidth` are such quantities in bits per second ("10M" = 10^7 bit/s),
and kubelet refuses values below 1k or above 1P (pkg/util/bandwidth: "unreasonably small /
large"); cilium-lb keeps those bounds and adds the kernel's: the HTB/TBF rate it writes is
a 32-bit count of bytes per second.
"""

from __future__ import annotations

import re
from fractions import Fraction

_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": 1,
           "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}

MIN_BANDWIDTH = 1000  # bit/s, kubelet's lower bound
MAX_BANDWIDTH = 10**15  # bit/s, kubelet's upper bound
KERNEL_MAX_BANDWIDTH = (2**32 - 1) * 8  # bit/s: tc rate field (bytes/s, u32) as pyroute2 writes it


def parse(text: str) -> Fraction:
    """The value of quantity `text`; ValueError naming what is wrong."""
    m = _RE.match(text.strip()) if isinstance(text, str) else None
    if m is None or not text.strip():
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 10M, 1Gi, 500k)")
    number, suffix = m.group(1), m.group(2) or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        exp = int(suffix[1:])
        if abs(exp) > 30:
            raise ValueError(f"{text!r}: exponent out of range")
        scale: Fraction | int = Fraction(10) ** exp
    else:
        scale = _SUFFIX[suffix]
    return Fraction(number) * scale


def bandwidth_problem(text: str) -> str | None:
    """Why `text` cannot be a bandwidth annotation this node shapes; None when it can."""
    try:
        v = parse(text)
    except ValueError as e:
        return str(e)
    if v < MIN_BANDWIDTH:
        return f"{text!r} is {_fmt(v)} bit/s, below 1k (kubelet refuses it as unreasonably small)"
    if v > MAX_BANDWIDTH:
        return f"{text!r} is above 1P bit/s (kubelet refuses it as unreasonably large)"
    if v > KERNEL_MAX_BANDWIDTH:
        return (f"{text!r} is above {KERNEL_MAX_BANDWIDTH // 10**6} Mbit/s, the most the kernel's "
                "HTB/TBF rate (32-bit bytes per second) can shape")
    return None


def bits_per_second(text: str) -> int:
    """The annotation as whole bits per second (rounded down); ValueError when not shapeable."""
    why = bandwidth_problem(text)
    if why:
        raise ValueError(why)
    return int(parse(text))


def _fmt(v: Fraction) -> str:
    return str(int(v)) if v.denominator == 1 else f"{float(v):g}"
