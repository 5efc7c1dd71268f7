"""Every route's backendRef names an LBBackendPool in the LBService's namespace.

A route without its pool has nowhere to send traffic: Isovalent's controller reports
`lb.cilium.io/BackendsExist=False` and tier 2 answers 503 (HTTP) or resets the connection. All
six application types are checked (httpProxy, httpsProxy, tlsPassthrough, tlsProxy, tcpProxy,
udpProxy); each missing reference is reported at its own `backendRef.name`, with a close name
from the namespace suggested.

Example of a finding:

    vip-service.yaml:24:19: error: route 0 of httpsProxy: LBBackendPool default/web does not
    exist (BackendsExist=False) [ref-backend]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._refs import ref_name, routes, similar

ID = "ref-backend"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for svc in ctx.index.valid("LBService"):
        for path, route in routes(svc):
            name = ref_name(route, "backendRef", "name")
            if name is None or ctx.index.get("LBBackendPool", svc.namespace, name) is not None:
                continue
            hint = similar(ctx.index, "LBBackendPool", svc.namespace, name)
            yield Finding(svc, path + ("backendRef", "name"),
                          f"route {path[-1]} of {path[2]}: LBBackendPool {svc.namespace}/{name} "
                          f"does not exist (BackendsExist=False){hint}")
