"""t1-only services: tier 1 sends straight to the backends (docs/t1-only.md).

Per service the backends of its route's pool (IP pools; Draining backends take no new flows,
so they are left out of the table) and a Maglev table over them, built like the T2 tables
(backends sorted by key, so every T1 builds the same table) and shared between services with
the same backends, weights and size. Backend ids are stable: derived from address and port,
so adding a backend moves no other backend's id and a table changes only where Maglev moves
slots.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress

from ..manifest.index import ResourceIndex
from ..model import apps, endpoints
from ..model.maglev import POOL_DEFAULT
from .maglev import build_table
from .tier1 import _u16le

ID_SPACE = 2**31 - 1


def backend_id(ip: str, port: int, taken: set[int]) -> int:
    """1..2^31-1 from sha256("ip:port"), probing on (unlikely) collisions in sorted order."""
    i = int.from_bytes(hashlib.sha256(f"{ip}:{port}".encode()).digest()[:4], "big") % ID_SPACE + 1
    while i in taken:
        i = i % ID_SPACE + 1
    return i


def service_backends(svc, index: ResourceIndex) -> tuple[list[tuple[str, int, int]], int | None, str]:
    """([(ip, port, weight)] of the active backends, the pool's Maglev size or None, hash kind)."""
    app = apps.application(svc)
    body = app[1] if app else {}
    route = (body.get("routes") or [{}])[0]
    name = (route.get("backendRef") or {}).get("name")
    pool = index.get("LBBackendPool", svc.namespace, name) if name else None
    hash_kind = "sourceIP" if (route.get("persistentBackend") or {}).get("sourceIP") else "flow"
    if pool is None or not pool.valid or pool.spec.get("backendType", "IP") not in ("IP", "K8sService"):
        return [], None, hash_kind
    out, seen = [], set()
    for b in _pool_backends(pool, index):
        if b.get("status") == "Draining" or not b.get("ip") or not b.get("port") or (b["ip"], b["port"]) in seen:
            continue
        if ":" in b["ip"]:  # tier 1 NATs IPv4 only (docs/t1-only.md)
            continue
        seen.add((b["ip"], b["port"]))
        out.append((b["ip"], int(b["port"]), int(b.get("weight", 1))))
    algo = (pool.spec.get("loadbalancing") or {}).get("algorithm") or {}
    size = None
    if "consistentHashing" in algo:
        size = (((algo["consistentHashing"] or {}).get("algorithm") or {}).get("maglev") or {}).get("tableSize") \
            or POOL_DEFAULT
    out.sort(key=lambda b: (int(ipaddress.IPv4Address(b[0])), b[1]))
    return out, size, hash_kind


def _pool_backends(pool, index: ResourceIndex) -> list[dict]:
    """The pool's backends as {ip, port, weight, status}: IP pools as written, K8sService pools
    resolved to the ready endpoints of their Services (lbcli/model/endpoints.py)."""
    if pool.spec.get("backendType", "IP") == "IP":
        return [b for b in pool.spec.get("backends") or [] if isinstance(b, dict)]
    backends = pool.spec.get("backends") or []
    protocol = endpoints.pool_protocol(index, pool)
    out = []
    for i, name, port in endpoints.pool_refs(pool):
        b = backends[i]
        for ep in endpoints.resolve(index, pool.namespace, name, port, protocol).endpoints:
            out.append({"ip": ep.address, "port": ep.port, "weight": b.get("weight", 1),
                        "status": b.get("status", "Active")})
    return out


def add_direct(section: dict, entries: list[dict], t1_size: int, cache: dict) -> None:
    """Add the t1-only parts to a tier-1 section (nothing when `entries` is empty, so plans of
    sets without t1-only services keep their bytes). `entries`: [{service, vip, port,
    protocol, backends: [(ip, port, weight)], size, hash}] in plan order."""
    if not entries:
        return
    keys = sorted({(int(ipaddress.IPv4Address(ip)), ip, port) for e in entries for ip, port, _ in e["backends"]})
    ids: dict[tuple[str, int], int] = {}
    for _, ip, port in keys:
        ids[(ip, port)] = backend_id(ip, port, set(ids.values()))
    tables: dict[tuple, dict] = {}
    services = []
    for e in entries:
        size = e["size"] or t1_size
        # in the order build_table numbers them (sorted by key), so slot values index `backends`
        members = tuple(sorted(((ids[(ip, port)], w) for ip, port, w in e["backends"]), key=lambda m: str(m[0])))
        if (members, size) not in tables:
            tables[(members, size)] = _table(members, size, len(tables), cache)
        services.append({"service": e["service"], "vip": e["vip"], "port": e["port"], "protocol": e["protocol"],
                         "backendTable": tables[(members, size)]["id"], "hash": e["hash"], "nat": "snat"})
    section["backends"] = [{"id": ids[(ip, port)], "ip": ip, "port": port} for _, ip, port in keys]
    section["backendTables"] = list(tables.values())
    section["directServices"] = services


def _table(members: tuple, size: int, tid: int, cache: dict) -> dict:
    key = ("backends", members, size)
    if key not in cache:
        # Maglev keys are the ids as text: sorted and permuted like T2 names, stable per backend
        table = build_table([(str(i), w) for i, w in members], size)
        raw = _u16le(table)
        counts = [0] * len(members)
        for slot in table:
            counts[slot] += 1
        cache[key] = (base64.b64encode(raw).decode(), hashlib.sha256(raw).hexdigest(), counts)
    b64, sha, counts = cache[key]
    return {"id": tid, "size": size, "backends": [i for i, _ in members], "weights": [w for _, w in members],
            "slots": list(counts), "encoding": "u16le-base64", "table": b64, "sha256": sha}
