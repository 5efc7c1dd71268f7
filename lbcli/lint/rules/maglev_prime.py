"""Maglev table sizes are prime (and supported), and large enough for the pool's backends.

Maglev fills its lookup table from per-backend permutations `(offset + j*skip) mod M`; only a
prime M makes every permutation visit every slot, so a composite M leaves backends with far
fewer slots than their weight asks for (or none). Cilium accepts only the sizes 251, 509,
1021, 2039, 4093, 8191, 16381, 32749, 65521 and 131071; Isovalent's pools default to 65537.
With M < 100 x N backends the slot shares of equal backends drift apart by more than 1 %
(Maglev, NSDI'16), so the rule warns below that.

Checked:

- LBBackendPool `loadbalancing.algorithm.consistentHashing.algorithm.maglev.tableSize`
  (default 65537): prime, else an error suggesting the nearest supported size; a warning
  when it is below 100 x the number of backends;
- cilium-config `bpf-lb-maglev-table-size`: one of Cilium's supported sizes (the agent
  refuses others), and at least 100 x the number of tier-2 nodes (tier 1 spreads over them).

`cilium-lb fix` replaces a size that is not prime (or not supported) with the nearest
supported size (the larger on a tie); the warnings are left to the user.

Example (error: 65536 is not prime; use 65537):

    consistentHashing:
      algorithm:
        maglev:
          tableSize: 65536
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import get_in
from ...model.maglev import (CILIUM_SIZES, ISOVALENT_DEFAULT, SHARE_FACTOR, SUPPORTED_SIZES, T1_CONFIG_KEY,
                             is_prime)
from ..finding import Context, Finding
from ..problem import Severity
from ._backend import algorithm, backends

ID = "maglev-prime"
SEVERITY = Severity.ERROR

SUPPORTED = SUPPORTED_SIZES
CONFIG_KEY = T1_CONFIG_KEY
_SIZE_PATH = ("spec", "loadbalancing", "algorithm", "consistentHashing", "algorithm", "maglev", "tableSize")


def check(ctx: Context) -> Iterator[Finding]:
    for pool in ctx.index.valid("LBBackendPool"):
        if algorithm(pool) != "consistentHashing":
            continue
        size = get_in(pool.spec, _SIZE_PATH[1:])
        at = _SIZE_PATH if size is not None else _deepest(pool)
        if size is None:
            size = ISOVALENT_DEFAULT
        if not isinstance(size, int) or isinstance(size, bool):
            continue  # the schema reports the type
        if not _is_prime(size):
            best = nearest(size, SUPPORTED)
            yield Finding(pool, at, f"maglev tableSize {size} is not prime; use {best} "
                                    f"(supported: {', '.join(map(str, SUPPORTED))})", hint=best)
            continue
        n = len(backends(pool))
        if size < SHARE_FACTOR * n:
            yield Finding(pool, at, _small(size, n, "backends", SUPPORTED), key=at != _SIZE_PATH,
                          severity=Severity.WARNING)
    yield from _cilium_config(ctx)


def _cilium_config(ctx: Context) -> Iterator[Finding]:
    cm = ctx.index.cilium_config()
    if cm is None or not cm.valid:
        return
    raw = get_in(cm.body, ("data", CONFIG_KEY))
    if not isinstance(raw, str) or not raw.strip().isdigit():
        return  # absent (Cilium's default 16381) or not a number: the cilium-config rule
    size = int(raw.strip())
    at = ("data", CONFIG_KEY)
    if size not in CILIUM_SIZES:
        why = "not prime" if not _is_prime(size) else "not one Cilium supports"
        best = nearest(size, CILIUM_SIZES)
        yield Finding(cm, at, f"{CONFIG_KEY} {size} is {why}; use {best} "
                              f"(supported: {', '.join(map(str, CILIUM_SIZES))})", hint=str(best))
        return
    n = len(ctx.index.nodes_of_tier("t2"))
    if size < SHARE_FACTOR * n:
        yield Finding(cm, at, _small(size, n, "tier-2 nodes", CILIUM_SIZES), severity=Severity.WARNING)


def fix(finding: Finding, doc):
    """A size that is not prime (or not supported) becomes the nearest supported size, written
    as it was (a number in a pool, a quoted string in cilium-config). Warnings about a table
    too small for its backends are left alone: a larger table is a choice, not a repair."""
    if finding.hint is None:
        return None
    return doc.set_scalar(finding.path, finding.hint, f"set {finding.path[-1]} to {finding.hint}")


def _small(size: int, n: int, what: str, sizes: tuple[int, ...]) -> str:
    better = next((s for s in sizes if s >= SHARE_FACTOR * n), sizes[-1])
    return (f"maglev table size {size} is below 100 x {n} {what} ({SHARE_FACTOR * n}): slot shares "
            f"drift apart by more than 1 %; use {better}")


def _deepest(pool) -> tuple:
    """Path of the deepest present key on the way to tableSize (where the default applies)."""
    path: tuple = ("spec",)
    node = pool.spec
    for step in _SIZE_PATH[1:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(step), dict):
            break
        node = node[step]
        path += (step,)
    return path


def nearest(n: int, sizes: tuple[int, ...]) -> int:
    """The supported size closest to n (the larger on a tie: more slots never hurt)."""
    return min(sizes, key=lambda s: (abs(s - n), -s))


def _is_prime(n: int) -> bool:
    return is_prime(n)
