"""A route's persistentBackend needs a backend pool balanced with consistentHashing.

Persistence (the same client, cookie or header value reaching the same backend) is a hash of
those attributes into the pool's Maglev table. With roundRobin (the default) or leastRequest
there is no table: the proxy would ignore persistentBackend, and sessions would spread over
every backend. Isovalent's controller rejects the combination; this rule reports it before.

Checked: every route of every application (HTTP, HTTPS, TLS, TCP, UDP) with a non-empty
persistentBackend (sourceIP true, cookies, headers) whose backendRef names an LBBackendPool
(in the LBService's namespace) balanced by anything but consistentHashing. The finding points
at persistentBackend and names the pool and its algorithm. A missing pool is reported by the
reference checks, not here.

Example (error):

    routes:
      - backendRef: {name: app}     # LBBackendPool app: roundRobin
        persistentBackend:
          sourceIP: true
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._backend import DEFAULT_ALGORITHM, algorithm, pool_of, routes

ID = "persistence-hash"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for svc in ctx.index.valid("LBService"):
        for route in routes(svc):
            persist = route.body.get("persistentBackend")
            if not _hashes_something(persist):
                continue
            pool = pool_of(ctx.index, route)
            if pool is None or not pool.valid:
                continue
            algo = algorithm(pool)
            if algo == "consistentHashing":
                continue
            how = f"{algo} (the default)" if algo == DEFAULT_ALGORITHM and "loadbalancing" not in pool.spec else algo
            yield Finding(svc, route.path + ("persistentBackend",),
                          f"persistentBackend ({', '.join(_attributes(persist))}) needs a consistentHashing "
                          f"pool, but LBBackendPool {pool.key} uses {how}; set "
                          "spec.loadbalancing.algorithm.consistentHashing on the pool", key=True)


def _hashes_something(persist: object) -> bool:
    return isinstance(persist, dict) and bool(_attributes(persist))


def _attributes(persist: dict) -> list[str]:
    out = []
    if persist.get("sourceIP") is True:
        out.append("sourceIP")
    for field in ("cookies", "headers"):
        names = [c.get("name") for c in persist.get(field) or [] if isinstance(c, dict) and c.get("name")]
        if names:
            out.append(f"{field} " + ", ".join(str(n) for n in names))
    return out
