"""Every `k8sServiceRef` backend of an LBBackendPool resolves to endpoints in the set.

A `backendType: K8sService` pool gets its servers from a Kubernetes Service in the pool's
namespace: `k8sServiceRef.name` names the Service and the backend's `port` one of the
Service's TCP ports (its number, as clients of the Service use it) — UDP ports when only
udpProxy LBServices (served by tier 1) use the pool. Tier 2 (or tier 1) dials that port's
endpoints, read from the Service's EndpointSlices (or its Endpoints when it has no slice) the
way kube-proxy reads them: the slice port with the Service port's name (targetPort resolved),
ready endpoints only, serving-and-terminating ones when none is ready (lbcli/model/endpoints.py).

Reported at the reference:
- error: the Service is not in the set (BackendsExist=False), with a close name suggested;
  a warning instead when the set holds no v1 Service at all (Services kept with the
  applications, not with the load balancer): the pool compiles with no server for it;
- error: the Service has no port with that number and protocol (at the backend's `port`);
- warning: neither an EndpointSlice (label `kubernetes.io/service-name`) nor an Endpoints
  object of the Service is in the set, or none of its endpoints is ready: the pool would
  have no server for it. (Export them with the Service, or compile with `--kube`.)

Example of a finding:

    pools.yaml:12:15: error: backend 0: Service shop/echo does not exist (BackendsExist=False);
    did you mean 'echo-v2'? [ref-k8s-service]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._refs import similar

ID = "ref-k8s-service"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for pool in ctx.index.valid("LBBackendPool"):
        if pool.spec.get("backendType") != "K8sService":
            continue  # backend-type reports a k8sServiceRef in a pool of another type
        from ...model import endpoints  # only for K8sService pools: not at every start

        protocol = endpoints.pool_protocol(ctx.index, pool)
        for i, name, port in endpoints.pool_refs(pool):
            base = ("spec", "backends", i)
            ref = base + ("k8sServiceRef", "name")
            res = endpoints.resolve(ctx.index, pool.namespace, name, port, protocol)
            if res.service is None and not ctx.index.of_kind("Service"):
                yield Finding(pool, ref, f"backend {i}: Service {pool.namespace}/{name} is not in the set, which "
                              "has no Service at all (kept with the applications?): the pool has no server for "
                              "it; add the Service and its EndpointSlices, or compile with --kube",
                              severity=Severity.WARNING)
            elif res.service is None:
                hint = similar(ctx.index, "Service", pool.namespace, name)
                yield Finding(pool, ref, f"backend {i}: Service {pool.namespace}/{name} does not exist "
                              f"(BackendsExist=False){hint}")
            elif res.problem:
                yield Finding(pool, base + ("port",), f"backend {i}: {res.problem}")
            elif not res.source:
                yield Finding(pool, ref, f"backend {i}: Service {pool.namespace}/{name} has no EndpointSlice "
                              "or Endpoints in the set: the pool has no server for it; add them to the set "
                              "(or compile with --kube)", severity=Severity.WARNING)
            elif not res.endpoints:
                yield Finding(pool, ref, f"backend {i}: no endpoint of Service {pool.namespace}/{name} port "
                              f"{port} is ready ({res.source}): the pool has no server for it",
                              severity=Severity.WARNING)
