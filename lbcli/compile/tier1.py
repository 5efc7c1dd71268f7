"""Tier 1: per VIP:port/protocol the T2 node set and its Maglev table, as BPF maps need them.

Tables are built over T2 node names (sorted, so every T1 builds the same table) and shared
between services with the same T2 set, which keeps plans small and compilation fast.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from array import array

from ..model.tunnel import tunnel_mac
from .maglev import build_table
from .nodes import NodeInfo

DISPATCH = {"mode": "vxlan", "device": "lb1vx", "vni": 1, "port": 4789}


def tier1_section(services: list[dict], t2_nodes: list[NodeInfo], table_size: int, cache: dict) -> dict:
    """`services`: [{service, vip, port, protocol, t2Nodes}] in plan order."""
    by_name = {n.name: n for n in t2_nodes}
    tables: dict[tuple, dict] = {}
    out_services = []
    for s in services:
        names = tuple(sorted(s["t2Nodes"]))
        if not names:
            continue
        if names not in tables:
            tables[names] = _table(names, table_size, len(tables), cache)
        out_services.append({**s, "t2Nodes": list(names), "maglevTable": tables[names]["id"]})
    used = sorted({n for names in tables for n in names})
    return {
        "dispatch": dict(DISPATCH),
        "t2Nodes": [{"name": n, "ip": by_name[n].internal_ip, "tunnelMac": tunnel_mac(n)} for n in used],
        "maglevTables": list(tables.values()),
        "services": out_services,
    }


def _table(names: tuple, size: int, tid: int, cache: dict) -> dict:
    key = (names, size)
    if key not in cache:
        table = build_table([(n, 1) for n in names], size)
        raw = _u16le(table)
        counts = [0] * len(names)
        for slot in table:
            counts[slot] += 1
        cache[key] = (base64.b64encode(raw).decode(), hashlib.sha256(raw).hexdigest(), counts)
    b64, sha, counts = cache[key]
    # `slots`: how many table entries each T2 node got, so a reader can check the spread
    return {"id": tid, "size": size, "t2Nodes": list(names), "weights": [1] * len(names),
            "slots": list(counts), "encoding": "u16le-base64", "table": b64, "sha256": sha}


def _u16le(table) -> bytes:
    a = array("H", table)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()
