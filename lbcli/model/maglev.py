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
