"""What tier 1 does not carry out for t1-only services (docs/t1-only.md): the refusals the
not-implemented rule adds for them. A t1-only service is balanced by tier 1 alone (Maglev over
the pool's IP backends, weights and Draining honoured, persistence on the source IP), through
NAT; what tier 2 would add (health checks, other algorithms, filters, limits, PROXY protocol,
TLS) is refused where it is written, on the service or on a pool one of them uses."""

from __future__ import annotations

from typing import Any

from ...manifest.index import ResourceIndex
from ...manifest.resource import Resource
from ...model import apps
from ..problem import Severity

E, W = Severity.ERROR, Severity.WARNING
A = "spec.applications.*"
_BY_T1 = "the service is t1-only: tier 1 sends straight to the backends and"


def t1_only_service(svc: Resource, index: ResourceIndex) -> bool:
    return apps.deployment_mode(svc) == apps.T1_ONLY


def pool_of_t1_only(pool: Resource, index: ResourceIndex) -> bool:
    """A pool some t1-only service routes to."""
    return (pool.namespace, pool.name) in index.derived("t1-only-pools", _t1_only_pools)


def _t1_only_pools(index: ResourceIndex) -> frozenset:
    """(namespace, name) of every pool a t1-only service routes to: one pass over the services
    (asked per pool, a pass per pool was pools x services)."""
    out = set()
    for svc in index.valid("LBService"):
        if apps.deployment_mode(svc) != apps.T1_ONLY:
            continue
        app = apps.application(svc)
        for r in (app[1].get("routes") or []) if app else []:
            if isinstance(r, dict):
                name = (r.get("backendRef") or {}).get("name")
                if isinstance(name, str):
                    out.add((svc.namespace, name))
    return frozenset(out)


def _set(v: Any) -> bool:
    return v is not None


def refusals(Refusal) -> tuple:  # noqa: N803 (the class, passed in to keep imports one way)
    svc, pool = t1_only_service, pool_of_t1_only
    return (
        Refusal("LBService", "spec.applications.udpProxy.forceDeploymentMode", E,
                "tier 2 proxies TCP only, so nothing would serve UDP there", when=lambda v: v == "t1-t2",
                fix="leave it out (auto) or say t1-only: tier 1 then sends straight to the backends"),
        Refusal("LBService", "spec.proxyProtocolConfig", E, f"{_BY_T1} reads no PROXY header", applies=svc),
        Refusal("LBService", f"{A}.routes[].connectionFiltering", E, f"{_BY_T1} filters nothing", applies=svc),
        Refusal("LBService", f"{A}.routes[].rateLimits", E, f"{_BY_T1} limits nothing", applies=svc),
        # a warning: the schema requires healthCheck, so an error would refuse every t1-only service
        Refusal("LBBackendPool", "spec.healthCheck", W, "a t1-only service uses this pool and tier 1 does "
                "not health-check backends: a dead one keeps its share of new flows",
                applies=pool, fix="mark a dead backend Draining, or serve the service through tier 2 "
                "(forceDeploymentMode t1-t2)"),
        Refusal("LBBackendPool", "spec.loadbalancing.algorithm.roundRobin", E, "a t1-only service uses this "
                "pool and tier 1 balances with Maglev only", applies=pool, when=_set,
                fix="use consistentHashing (or leave the algorithm out)"),
        Refusal("LBBackendPool", "spec.loadbalancing.algorithm.leastRequest", E, "a t1-only service uses this "
                "pool and tier 1 balances with Maglev only", applies=pool, when=_set,
                fix="use consistentHashing (or leave the algorithm out)"),
        Refusal("LBBackendPool", "spec.backendType", E, "a t1-only service uses this pool and tier 1 needs "
                "backend addresses", applies=pool, when=lambda v: v == "Hostname",
                fix="list IP backends, or serve the service through tier 2"),
        Refusal("LBBackendPool", "spec.tlsConfig", E, "a t1-only service uses this pool and tier 1 "
                "forwards packets, it opens no TLS", applies=pool),
        Refusal("LBBackendPool", "spec.proxyProtocolConfig", E, "a t1-only service uses this pool and "
                "tier 1 sends no PROXY header", applies=pool),
        Refusal("LBBackendPool", "spec.tcpConfig", W, "a t1-only service uses this pool and tier 1 opens "
                "no connections of its own", applies=pool),
        Refusal("LBBackendPool", "spec.httpConfig", W, "a t1-only service uses this pool and tier 1 does "
                "not speak HTTP", applies=pool),
    )
