"""Maglev table sizes, defined once: what Cilium and Isovalent accept and their defaults.
Plain module (the builder lives in lbcli.compile.maglev)."""

from __future__ import annotations

# Cilium's `bpf-lb-maglev-table-size` / maglev.tableSize choices
CILIUM_SIZES: tuple[int, ...] = (251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071)
# Isovalent's LBBackendPool default (maglev.tableSize), also accepted
ISOVALENT_DEFAULT = 65537
SUPPORTED_SIZES: tuple[int, ...] = tuple(sorted(CILIUM_SIZES + (ISOVALENT_DEFAULT,)))
# tier 1: Cilium's bpf-lb-maglev-table-size default (cilium-config)
T1_DEFAULT = 16381
T1_CONFIG_KEY = "bpf-lb-maglev-table-size"
# tier 2: an LBBackendPool with consistentHashing and no tableSize
POOL_DEFAULT = ISOVALENT_DEFAULT
# M > 100 x N keeps every backend's share within 1 % (Maglev, NSDI'16)
SHARE_FACTOR = 100


def t1_table_size(options: dict) -> int:
    """Tier 1's table size from the cilium-config options (Cilium's default when absent; lint
    refuses a value that is not one of CILIUM_SIZES before compile runs)."""
    raw = options.get(T1_CONFIG_KEY)
    raw = raw.strip() if isinstance(raw, str) else ""
    return int(raw) if raw.isdigit() and int(raw) > 0 else T1_DEFAULT


# Deterministic Miller-Rabin witnesses (maglev tables must have a prime size; lint, compile): correct for every n < 3.3e24.
_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def is_prime(n: int) -> bool:
    """True when ``n`` is prime (deterministic Miller-Rabin, exact for n < 3.3e24)."""
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True
