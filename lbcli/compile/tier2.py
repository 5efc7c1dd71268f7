"""Tier 2: per LBService the L7 listener (application type, TLS, routes, auth) and the backend
pools it routes to, with every default made explicit so the agent needs no schema."""

from __future__ import annotations

import functools

from ..manifest.index import ResourceIndex
from ..manifest.kinds import default_of
from ..manifest.resource import Resource
from ..model import apps, tls as tls_model
from ..model.maglev import POOL_DEFAULT
from .secrets import SecretStore


def app_type(svc: Resource) -> tuple[str | None, dict]:
    app = apps.application(svc)
    return app if app else (None, {})


protocol_of = apps.protocol


def listener(svc: Resource, vip: str, secrets: SecretStore) -> dict:
    kind, app = app_type(svc)
    ns = svc.namespace
    tls = None
    if kind in apps.TLS_TERMINATING:
        tc = app.get("tlsConfig") or {}
        validation = tc.get("validation")
        tls = {
            "certificates": [secrets.ref(ns, c["secretRef"]["name"]) for c in tc.get("certificates") or []
                             if (c.get("secretRef") or {}).get("name")],
            "minVersion": tls_model.plan_version(tc.get("minTLSVersion"), tls_model.DEFAULT_MIN),
            "maxVersion": tls_model.plan_version(tc.get("maxTLSVersion"), tls_model.DEFAULT_MAX),
            "cipherSuites": sorted(tc.get("allowedCipherSuites") or []),
            "clientValidation": None,
        }
        if validation and (validation.get("secretRef") or {}).get("name"):
            ref = secrets.ref(ns, validation["secretRef"]["name"], "caSecretRef")
            ref["subjectAlternativeNames"] = sorted(s.get("exact") for s in validation.get("subjectAlternativeNames") or [] if s.get("exact"))
            tls["clientValidation"] = ref
    auth = None
    users_ref = (((app.get("auth") or {}).get("basic") or {}).get("users") or {}).get("secretRef") or {}
    if users_ref.get("name"):
        auth = {"basic": secrets.ref(ns, users_ref["name"])}
    routes = []
    for r in app.get("routes") or []:
        match = r.get("match") or {}
        path = match.get("path") or {}
        pb = r.get("persistentBackend")
        route = {
            "hostNames": list(match.get("hostNames") or []),
            "path": ({"type": "exact", "value": path["exact"]} if "exact" in path else
                     {"type": "prefix", "value": path["prefix"]} if "prefix" in path else None),
            "backendPool": f"{ns}/{(r.get('backendRef') or {}).get('name')}",
            "persistence": None if not pb else {
                "sourceIP": bool(pb.get("sourceIP")),
                "cookies": [c["name"] for c in pb.get("cookies") or [] if c.get("name")],
                "headers": [h["name"] for h in pb.get("headers") or [] if h.get("name")],
            },
        }
        if ((r.get("auth") or {}).get("basic") or {}).get("disabled"):
            route["authDisabled"] = True
        routes.append(route)
    return {
        "service": svc.key, "vip": vip, "port": svc.spec.get("port"), "protocol": protocol_of(svc),
        "type": kind, "proxyProtocol": svc.spec.get("proxyProtocolConfig") or None,
        "tls": tls, "auth": auth, "routes": routes,
    }


@functools.lru_cache(maxsize=None)
def _pool_defaults() -> dict:
    """The schema's defaults for a backend pool, read once."""
    d = lambda *p: default_of("LBBackendPool", "spec", *p)  # noqa: E731
    return {
        "intervalSeconds": d("healthCheck", "intervalSeconds"),
        "timeoutSeconds": d("healthCheck", "timeoutSeconds"),
        "healthyThreshold": d("healthCheck", "healthyThreshold"),
        "unhealthyThreshold": d("healthCheck", "unhealthyThreshold"),
        "path": d("healthCheck", "http", "path"),
        "method": d("healthCheck", "http", "method"),
        "host": d("healthCheck", "http", "host"),
        "connectTimeoutSeconds": d("tcpConfig", "connectTimeoutSeconds"),
        "tableSize": d("loadbalancing", "algorithm", "consistentHashing", "algorithm", "maglev", "tableSize") or POOL_DEFAULT,
        "weight": default_of("LBBackendPool", "spec", "backends", "[]", "weight"),
    }


def backend_pool(pool: Resource) -> dict:
    spec = pool.spec
    dflt = _pool_defaults()
    algo = spec.get("loadbalancing", {}).get("algorithm") or {}
    name = next((k for k in ("consistentHashing", "leastRequest", "roundRobin") if k in algo), "roundRobin")
    table = None
    if name == "consistentHashing":
        table = (((algo.get("consistentHashing") or {}).get("algorithm") or {}).get("maglev") or {}).get("tableSize") \
            or dflt["tableSize"]
    hc = spec.get("healthCheck")
    health = None
    if hc is not None:
        http = hc.get("http")
        health = {k: hc.get(k, dflt[k]) for k in ("intervalSeconds", "timeoutSeconds", "healthyThreshold", "unhealthyThreshold")}
        health["http"] = None if http is None else {
            "path": http.get("path", dflt["path"]), "method": http.get("method", dflt["method"]),
            "host": http.get("host", dflt["host"]), "expectedStatusCodes": _codes(http.get("healthyStatusCodes")),
        }
        health["tcp"] = http is None
    weight = dflt["weight"]
    backends = [{"address": b.get("ip") or b.get("host"), "port": b.get("port"),
                 "weight": b.get("weight", weight), "status": b.get("status", "Active")}
                for b in spec.get("backends") or []]
    backends.sort(key=lambda b: (str(b["address"]), b["port"] or 0))
    return {
        "name": pool.key, "backendType": spec.get("backendType", "IP"), "algorithm": name, "tableSize": table,
        "backends": backends, "healthCheck": health,
        "resolvers": [{"ip": r.get("ip"), "port": r.get("port", 53)} for r in (spec.get("dnsResolverConfig") or {}).get("resolvers") or []],
        "connectTimeoutSeconds": (spec.get("tcpConfig") or {}).get("connectTimeoutSeconds", dflt["connectTimeoutSeconds"]),
    }


def _codes(ranges) -> list[int]:
    if not ranges:
        return [200]
    codes: set[int] = set()
    for r in ranges:
        start = int(r.get("start", 200))
        end = int(r.get("end", start + 1))  # exclusive
        codes.update(range(start, max(end, start + 1)))
    return sorted(codes)


def pools_for(listeners: list[dict], index: ResourceIndex, cache: dict | None = None) -> list[dict]:
    """The pools the listeners route to; `cache` shares them between nodes (plans are
    serialised, never mutated, so one dict may appear in several)."""
    cache = {} if cache is None else cache
    names = sorted({r["backendPool"] for lst in listeners for r in lst["routes"]})
    out = []
    for n in names:
        if n not in cache:
            ns, _, name = n.partition("/")
            pool = index.get("LBBackendPool", ns, name)
            cache[n] = backend_pool(pool) if pool is not None and pool.valid else None
        if cache[n] is not None:
            out.append(cache[n])
    return out
