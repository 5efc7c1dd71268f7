"""Each TCP port of a served LoadBalancer Service has endpoints to send traffic to.

cilium-lb serves a v1 Service of type LoadBalancer that LB-IPAM gives an address like an
LBService on each TCP port (lbcli/model/lbservices.py): tier 1 dispatches the VIP's port to
tier 2, which passes the connections through to the Service's endpoints as kube-proxy would
pick them (ready endpoints of the EndpointSlices, or the Endpoints when there is no slice;
lbcli/model/endpoints.py). A port whose endpoints are missing from the set, or none of them
ready, is served by a proxy with no server: connections are reset.

Warning, at the Service's port (a cluster's endpoints come and go, so this never fails CI).

Example of a finding:

    services.yaml:14:9: warning: port 80/TCP of Service shop/web has no EndpointSlice or
    Endpoints in the set: tier 2 has no server for it [lb-service-endpoints]
"""

from __future__ import annotations

from typing import Iterator

from ...model import lbservices
from ..finding import Context, Finding
from ..problem import Severity

ID = "lb-service-endpoints"
SEVERITY = Severity.WARNING


def check(ctx: Context) -> Iterator[Finding]:
    for svc in lbservices.served(ctx.index):
        from ...model import endpoints  # only for a set with served v1 Services: not at every start

        for i, p in enumerate(svc.spec.get("ports") or []):
            if not isinstance(p, dict) or (p.get("protocol") or "TCP") not in lbservices.SERVED_PROTOCOLS:
                continue
            port = p.get("port")
            if not isinstance(port, int) or isinstance(port, bool):
                continue
            res = endpoints.resolve(ctx.index, svc.namespace, svc.name, port)
            where = ("spec", "ports", i, "port")
            if not res.source:
                yield Finding(svc, where, f"port {port}/TCP of Service {svc.key} has no EndpointSlice or "
                              "Endpoints in the set: tier 2 has no server for it; add them to the set "
                              "(or compile with --kube)")
            elif not res.endpoints:
                yield Finding(svc, where, f"port {port}/TCP of Service {svc.key}: no endpoint is ready "
                              f"({res.source}): tier 2 has no server for it")
