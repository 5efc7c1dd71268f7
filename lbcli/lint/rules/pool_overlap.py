"""CiliumLoadBalancerIPPool blocks do not overlap, within a pool or across pools.

An address in two pools has two owners: Cilium marks the later pool `Conflicting` and
allocates nothing from it, so services selected only by that pool stay without address.
Disabled pools are included: `disabled` only stops new allocations, the pool keeps its
addresses, and Cilium checks conflicts regardless. Blocks are CIDRs or start[-stop] ranges,
compared as address ranges (a range inside a CIDR overlaps it); IPv4 and IPv6 never overlap.

Each overlapping block is reported once, at its `cidr`/`start`, naming the first earlier block
it overlaps (in file order).

Example of a finding:

    pools.yaml:14:13: error: block 100.64.0.128/25 overlaps block 100.64.0.0/24 of pool
    lb-pool (pools.yaml:4); Cilium marks the later pool Conflicting [pool-overlap]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ...manifest.ippool import Block, blocks
from ._refs import where

ID = "pool-overlap"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    earlier: list[Block] = []
    for pool in ctx.index.valid("CiliumLoadBalancerIPPool"):
        for b in blocks(pool):
            other = next((e for e in earlier if e.overlaps(b)), None)
            if other is not None:
                if other.pool is pool:
                    msg = f"block {b.text} overlaps block {other.text} of the same pool"
                else:
                    msg = (f"block {b.text} overlaps block {other.text} of pool {other.pool.name} "
                           f"({where(other.pool, _path(other))}); Cilium marks the later pool Conflicting")
                yield Finding(pool, _path(b), msg)
            earlier.append(b)


def _path(b: Block) -> tuple:
    raw = b.pool.spec["blocks"][b.index]
    return ("spec", "blocks", b.index, "cidr" if "cidr" in raw else "start")
