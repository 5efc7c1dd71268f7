"""The health-adjusted plan: what the node carries out while some tier-2 nodes fail.

A service whose T2 set has failed members gets its own table: the plan's table, with only the
slots of the failed T2 nodes refilled, each from the Maglev table (lbcli/model/maglev_table.py,
the builder compile uses) over the healthy ones, same size and weights. Slots of healthy T2
nodes never move (stricter than rebuilding over the healthy set, which moves a few percent of
theirs), the refill spreads the failed share evenly, and the result depends only on the plan
and the failed set, so every tier-1 node computes the same bytes (a flow ECMP moves to another
T1 still reaches the same T2). When the T2 recovers, the plan's table is back, slot for slot.

A VIP all of whose services have no healthy T2 is taken out of every BGP peer's prefixes: a
node never announces what it cannot serve. A service without a healthy T2 on a VIP that stays
announced (another service on it is served) keeps the plan's table: there is nowhere better.

Pure: plan + failed set in, plan out; the engine carries the result out like any plan (so the
periodic drift repair keeps it, and a restarted agent that finds it on the host adopts it).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from array import array
from dataclasses import dataclass, replace

from ...plan.types import MaglevTable, NodePlan


@dataclass(frozen=True)
class Withdrawn:
    prefix: str
    services: tuple[str, ...]
    reason: str = "no healthy tier-2 node"


def _u16(raw_b64: str) -> array:
    a = array("H", base64.b64decode(raw_b64))
    if sys.byteorder != "little":
        a.byteswap()
    return a


def _b64(a: array) -> tuple[str, str]:
    b = array("H", a)
    if sys.byteorder != "little":
        b.byteswap()
    raw = b.tobytes()
    return base64.b64encode(raw).decode(), hashlib.sha256(raw).hexdigest()


def refill(table: MaglevTable, failed: frozenset[str], new_id: int) -> MaglevTable:
    """`table` with the slots of `failed` T2 nodes refilled over the others (see the module
    docstring). ValueError when no T2 of the table is left."""
    from ...model.maglev_table import build_table

    names = list(table.t2_nodes)
    healthy = [(n, w) for n, w in zip(names, table.weights) if n not in failed]
    if not healthy:
        raise ValueError(f"maglev table {table.id}: no healthy tier-2 node")
    slots = _u16(table.table)
    if len(slots) != table.size:
        raise ValueError(f"maglev table {table.id}: {len(slots)} slots, expected {table.size}")
    gone = {names.index(n) for n in failed if n in names}
    # build_table indexes its backends in sorted order; map back to the plan's t2Nodes indices
    order = sorted(healthy)
    to_plan = [names.index(n) for n, _ in order]
    spare = build_table(order, table.size)
    out = array("H", slots)
    for s, idx in enumerate(slots):
        if idx in gone:
            out[s] = to_plan[spare[s]]
    counts = [0] * len(names)
    for idx in out:
        counts[idx] += 1
    b64, sha = _b64(out)
    return replace(table, id=new_id, slots=tuple(counts), table=b64, sha256=sha)


def adjust(plan: NodePlan, down: dict[str, frozenset[str]]) -> tuple[NodePlan, list[Withdrawn]]:
    """The plan to carry out while `down` (service -> failed T2 names) holds, and the prefixes
    it withdraws. With nothing down, `plan` itself."""
    t1 = plan.tier1
    if t1 is None or not any(down.values()):
        return plan, []
    tables = {t.id: t for t in t1.maglev_tables}
    next_id = max(tables, default=-1) + 1
    made: dict[tuple[int, frozenset[str]], int] = {}
    new_tables: list[MaglevTable] = []
    services = []
    dead: dict[str, list[str]] = {}  # vip -> services without a healthy T2
    alive: set[str] = set()
    for s in t1.services:
        failed = frozenset(down.get(s.service, ())) & frozenset(s.t2_nodes)
        if failed and failed >= frozenset(s.t2_nodes):
            dead.setdefault(s.vip, []).append(s.service)
            services.append(s)
            continue
        alive.add(s.vip)
        if not failed:
            services.append(s)
            continue
        key = (s.maglev_table, failed)
        if key not in made:
            made[key] = next_id
            new_tables.append(refill(tables[s.maglev_table], failed, next_id))
            next_id += 1
        services.append(replace(s, maglev_table=made[key]))
    used = {s.maglev_table for s in services}
    t1_new = replace(t1, services=tuple(services),
                     maglev_tables=tuple(t for t in t1.maglev_tables if t.id in used) + tuple(new_tables))
    out = replace(plan, tier1=t1_new)
    withdrawn = [Withdrawn(f"{vip}/32", tuple(sorted(set(svcs)))) for vip, svcs in sorted(dead.items()) if vip not in alive]
    if withdrawn and plan.bgp is not None:
        gone = {w.prefix for w in withdrawn}
        instances = []
        for inst in plan.bgp.instances:
            peers = [replace(p, prefixes=tuple(x for x in p.prefixes if _norm(x.prefix) not in gone)) for p in inst.peers]
            instances.append(replace(inst, peers=tuple(peers)))
        out = replace(out, bgp=replace(plan.bgp, instances=tuple(instances)))
    return out, withdrawn


def _norm(prefix: str) -> str:
    return prefix if "/" in prefix else f"{prefix}/32"
