"""A backend pool has at least one active backend and lists each backend once.

A pool whose backends are all `status: Draining` takes no new connections at all: the
service answers 503 (HTTP) or resets (TCP) although every backend is healthy. The same
address and port listed twice doubles that backend's share behind the author's back (and
its weight is not the one written on either entry).

Checked, per LBBackendPool:

- at least one backend is not Draining (warning, at `backends`);
- no two backends have the same ip (compared as addresses: `2001:db8::1` equals
  `2001:DB8:0::1`), host (case-insensitive) or k8sServiceRef with the same port (warning, at
  the later one, naming the earlier).

Example (warning):

    backends:
      - ip: 10.0.0.1
        port: 80
      - ip: 10.0.0.1     # backend 1 duplicates backend 0 (10.0.0.1:80)
        port: 80
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.addr import parse_ip
from ..finding import Context, Finding
from ..problem import Severity
from ._backend import backends

ID = "backend-weights"
SEVERITY = Severity.WARNING


def check(ctx: Context) -> Iterator[Finding]:
    for pool in ctx.index.valid("LBBackendPool"):
        items = backends(pool)
        if items and all(b.get("status") == "Draining" for _, b in items):
            yield Finding(pool, ("spec", "backends"),
                          f"all {len(items)} backends of LBBackendPool {pool.key} are Draining: the pool "
                          "accepts no new connections; set at least one backend active", key=True)
        first: dict[tuple, int] = {}
        for i, b in items:
            ident = _identity(b)
            if ident is None:
                continue
            field, key = ident
            if key in first:
                yield Finding(pool, ("spec", "backends", i, field),
                              f"backend {i} duplicates backend {first[key]} ({_shown(b)}); merge them and "
                              "set the weight on one entry")
            else:
                first[key] = i


def _identity(b: dict) -> tuple[str, tuple] | None:
    """(field to point at, comparable key): an address compares as the address, whatever its
    spelling (its text is made only for a message)."""
    port = b.get("port")
    if isinstance(b.get("ip"), str):
        parsed = parse_ip(b["ip"])
        # keyed by the address's family and integer: ipaddress hashes through hex() in Python
        addr = (parsed.version, int(parsed)) if parsed is not None else b["ip"]  # backend-type reports bad ones
        return "ip", ("ip", addr, port)
    if isinstance(b.get("host"), str):
        return "host", ("host", b["host"].lower().rstrip("."), port)
    ref = b.get("k8sServiceRef")
    if isinstance(ref, dict) and isinstance(ref.get("name"), str):
        return "k8sServiceRef", ("svc", ref["name"], port)
    return None


def _shown(b: dict) -> str:
    """The backend as a message names it (the one _identity found)."""
    port = b.get("port")
    if isinstance(b.get("ip"), str):
        parsed = parse_ip(b["ip"])
        addr = str(parsed) if parsed is not None else b["ip"]
        return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
    if isinstance(b.get("host"), str):
        return f"{b['host'].lower().rstrip('.')}:{port}"
    return f"Service {b['k8sServiceRef']['name']}:{port}"
