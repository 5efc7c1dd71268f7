"""Maglev lookup tables (Eisenbud et al., NSDI'16), weighted, identical on every node.

In the model layer because compile builds the plan's tables and the node rebuilds a service's
table over its healthy tier-2 nodes (lbcli/agent/health/table.py) with the same bytes.

Table: ``M`` slots (``M`` prime); slot ``s`` holds the index of a backend in
:func:`sorted_backends` order. Tier 1 picks ``table[flow_hash % M]``.

Determinism (every node, process and machine builds the same bytes):

* Backends are sorted by their key (``str`` order = Unicode code point order, which is also
  the byte order of their UTF-8 encodings), so input order does not matter.
* Hash: BLAKE2b (``hashlib``, RFC 7693) with a 16-byte digest and personalisation
  :data:`HASH_PERSON` over the key's UTF-8 bytes. ``h1`` = bytes 0..7 and ``h2`` = bytes 8..15,
  each read as little-endian unsigned 64-bit integers. Python's ``hash()`` is never used
  (salted per process). Changing :data:`HASH_PERSON` changes every table, so it carries a version.
* Permutation of backend ``i`` (paper, section 3.4): ``offset = h1 % M``,
  ``skip = h2 % (M - 1) + 1``, ``permutation[j] = (offset + j * skip) % M``. ``M`` prime and
  ``1 <= skip < M`` make it visit every slot exactly once.

Weights (integer ``1..MAX_WEIGHT``), an integer form of Envoy's weighted Maglev (Cilium's weighted
Maglev likewise gives backends turns in proportion to their weights): the table is filled in rounds; in each round backends are visited in sorted order and
backend ``i`` first adds ``w_i`` to its credit and takes a turn (claims the next free slot of
its permutation) only when its credit reaches ``max_w``, then pays ``max_w``. After ``r`` rounds
backend ``i`` has taken exactly ``floor(r * w_i / max_w)`` turns and every turn fills one slot,
so its slot count is within ``1 + N * w_i / sum(w)`` slots of ``M * w_i / sum(w)``. With equal weights every backend takes a turn in every
round: exactly the paper's algorithm. Cost grows with ``N * max_w / mean_w`` idle visits per
round, which is why weights are capped (Cilium's weight is 16-bit as well).

An empty backend list raises :class:`ValueError`: a VIP without backends must be withdrawn by the
caller, not programmed with a table of nothing.

The C extension ``lbcli.model._maglev`` (optional) runs the fill loop; the pure-Python
:func:`build_table_reference` is the specification and the fallback, and tests prove both give
byte-identical tables.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence

# Cilium's maglev.tableSize choices plus Isovalent's default 65537, defined once in the model
from .maglev import ISOVALENT_DEFAULT as DEFAULT_TABLE_SIZE
from .maglev import SUPPORTED_SIZES
from .maglev import is_prime  # noqa: F401  (part of this module's API: __all__)

try:  # optional accelerator, built by setuptools when a compiler is present
    from . import _maglev as _accel
except ImportError:  # pragma: no cover - depends on the build
    _accel = None

__all__ = [
    "DEFAULT_TABLE_SIZE",
    "HASH_PERSON",
    "MAX_WEIGHT",
    "SUPPORTED_SIZES",
    "accelerated",
    "build_table",
    "build_table_reference",
    "changed_slots",
    "is_prime",
    "permutation_params",
    "sorted_backends",
]

MAX_WEIGHT = 65535
# Largest M the int32 table and the C loop's 32-bit positions accept.
MAX_TABLE_SIZE = 2**31 - 1
HASH_PERSON = b"lbcli-maglev-v1"

Backend = tuple[str, int]

# Copying a pre-initialised state is ~2x cheaper than a fresh blake2b(..., person=...) per key.
_HASH_BASE = hashlib.blake2b(digest_size=16, person=HASH_PERSON)


def _key_digest(key: str) -> bytes:
    h = _HASH_BASE.copy()
    h.update(key.encode("utf-8"))
    return h.digest()


def permutation_params(key: str, m: int) -> tuple[int, int]:
    """``(offset, skip)`` of the permutation of backend ``key`` in a table of size ``m``."""
    digest = _key_digest(key)
    h1 = int.from_bytes(digest[:8], "little")
    h2 = int.from_bytes(digest[8:], "little")
    return h1 % m, h2 % (m - 1) + 1


def sorted_backends(backends: Sequence[Backend]) -> list[Backend]:
    """Backends validated and sorted by key: the order table entries index into."""
    out: list[Backend] = []
    for item in backends:
        key, weight = item
        if not isinstance(key, str) or not key:
            raise ValueError(f"backend key must be a non-empty string, got {key!r}")
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise ValueError(f"backend {key!r}: weight must be an integer, got {weight!r}")
        if not 1 <= weight <= MAX_WEIGHT:
            raise ValueError(
                f"backend {key!r}: weight {weight} outside 1..{MAX_WEIGHT}"
                " (exclude weight-0 and draining backends before building)"
            )
        out.append((key, weight))
    out.sort()
    for (a, _), (b, _) in zip(out, out[1:]):
        if a == b:
            raise ValueError(f"duplicate backend key {a!r}")
    return out


def _check_size(m: int, n: int) -> None:
    if isinstance(m, bool) or not isinstance(m, int):
        raise ValueError(f"Maglev table size must be an integer, got {m!r}")
    if not is_prime(m) or m > MAX_TABLE_SIZE:
        raise ValueError(
            f"Maglev table size {m} must be a prime <= {MAX_TABLE_SIZE}"
            f" (supported: {', '.join(map(str, SUPPORTED_SIZES))})"
        )
    if n == 0:
        raise ValueError("cannot build a Maglev table without backends")
    if n > m:
        raise ValueError(f"{n} backends do not fit a Maglev table of {m} slots")


def _prepare(backends: Sequence[Backend], m: int) -> list[Backend]:
    ordered = sorted_backends(backends)
    _check_size(m, len(ordered))
    return ordered


def _fill_python(m: int, params: list[tuple[int, int]], weights: list[int]) -> array:
    n = len(params)
    table = [-1] * m
    pos = [offset for offset, _ in params]
    skips = [skip for _, skip in params]
    max_w = max(weights)
    uniform = min(weights) == max_w
    credit = [0] * n
    filled = 0
    while True:  # ends: every turn fills one slot, and some backend takes a turn each round
        for i in range(n):
            if not uniform:
                c = credit[i] + weights[i]
                if c < max_w:
                    credit[i] = c
                    continue
                credit[i] = c - max_w
            p = pos[i]
            s = skips[i]
            while table[p] >= 0:
                p += s
                if p >= m:
                    p -= m
            table[p] = i
            p += s
            if p >= m:
                p -= m
            pos[i] = p
            filled += 1
            if filled == m:
                return array("i", table)


def build_table_reference(backends: Sequence[Backend], m: int = DEFAULT_TABLE_SIZE) -> array:
    """Pure-Python Maglev table (the specification; slow: ~0.1 s for M=65537)."""
    ordered = _prepare(backends, m)
    params = [permutation_params(key, m) for key, _ in ordered]
    return _fill_python(m, params, [w for _, w in ordered])


def accelerated() -> bool:
    """True when the C extension is importable and :func:`build_table` uses it."""
    return _accel is not None


def build_table(backends: Sequence[Backend], m: int = DEFAULT_TABLE_SIZE) -> array:
    """Maglev table of ``m`` slots (typecode ``'i'``) over ``sorted_backends(backends)``.

    Raises ValueError for an empty backend list, a non-prime ``m``, bad weights or duplicate keys.
    """
    if _accel is None:
        return build_table_reference(backends, m)
    ordered = _prepare(backends, m)
    digests = b"".join(_key_digest(key) for key, _ in ordered)
    weights = array("I", [w for _, w in ordered])
    table = array("i", [-1]) * m  # repeat is ~40x faster than array("i", bytes(4 * m))
    _accel.fill(table, digests, weights)
    return table


def changed_slots(old: Sequence[int], new: Sequence[int]) -> list[int]:
    """Ascending slot indices where ``old`` and ``new`` differ (the slots to write).

    Compare tables whose entries identify backends the same way in both (e.g. translated to
    stable backend ids): raw indexes shift when a backend before them in sort order leaves.
    A size change is not a slot update: the map has to be rebuilt, so it raises ValueError.
    """
    if len(old) != len(new):
        raise ValueError(f"table sizes differ ({len(old)} != {len(new)}); rebuild the whole table")
    if old == new:
        return []
    if (
        _accel is not None
        and isinstance(old, array) and isinstance(new, array)
        and old.typecode == new.typecode == "i"
    ):
        return _accel.changed(old, new)
    return [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
