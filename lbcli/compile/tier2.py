"""Tier 2: per LBService the L7 listener (application type, TLS, routes, auth) and the backend
pools it routes to, with every default made explicit so the agent needs no schema."""

from __future__ import annotations

import functools

from ..manifest.index import ResourceIndex
from ..manifest.kinds import default_of
from ..manifest.resource import Resource
from ..model import apps, endpoints, l7policy, tls as tls_model
from ..model import lbservices
from ..model.maglev import POOL_DEFAULT
from .secrets import SecretStore, secret_data


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
        rl = l7policy.rate_limit(r.get("rateLimits"))
        if rl is not None:
            route["rateLimit"] = rl
        flt = l7policy.filtering(r.get("requestFiltering") or r.get("connectionFiltering"))
        if flt is not None:
            route["filtering"] = flt
        routes.append(route)
    out = {
        "service": svc.key, "vip": vip, "port": svc.spec.get("port"), "protocol": protocol_of(svc),
        "type": kind, "proxyProtocol": svc.spec.get("proxyProtocolConfig") or None,
        "tls": tls, "auth": auth, "routes": routes,
    }
    for key, value in (("rateLimit", l7policy.rate_limit(app.get("rateLimits"))),
                       ("connectionFiltering", l7policy.filtering(app.get("connectionFiltering"))),
                       ("httpVersions", l7policy.http_versions(app.get("httpConfig")))):
        if value is not None:
            out[key] = value
    return out


def shared_listener(svc: Resource, vip: str, secrets: SecretStore, cache: dict) -> dict:
    """`listener`, built once per service and shared by every tier-2 node's plan (plans are
    serialised, never mutated; 20 nodes x 1,000 services built it 20,000 times); the Secrets it
    names go to `secrets` on every node, as building it there would have put them."""
    hit = cache.get((svc.ref, vip))
    if hit is not None:
        for ns, name in hit[1]:
            secrets.ref(ns, name)
        return hit[0]
    seen = _SecretsSeen(secrets)
    out = listener(svc, vip, seen)
    cache[(svc.ref, vip)] = (out, seen.names)
    return out


class _SecretsSeen:
    """A SecretStore that remembers which Secrets were asked for, in order."""

    def __init__(self, store: SecretStore) -> None:
        self.store, self.names = store, []

    def ref(self, namespace: str, name: str, key: str = "secretRef") -> dict:
        self.names.append((namespace, name))
        return self.store.ref(namespace, name, key)


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


def backend_pool(pool: Resource, secrets: SecretStore | None = None, index: ResourceIndex | None = None) -> dict:
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
        if hc.get("tlsConfig") is not None:
            health["tls"] = _backend_tls(pool, hc["tlsConfig"], secrets)
    weight = dflt["weight"]
    if spec.get("backendType") == "K8sService":
        backends = _service_backends(pool, index, weight)
    else:
        backends = [{"address": b.get("ip") or b.get("host"), "port": b.get("port"),
                     "weight": b.get("weight", weight), "status": b.get("status", "Active")}
                    for b in spec.get("backends") or []]
    backends.sort(key=lambda b: (str(b["address"]), b["port"] or 0))
    out = {
        "name": pool.key, "backendType": spec.get("backendType", "IP"), "algorithm": name, "tableSize": table,
        "backends": backends, "healthCheck": health,
        "resolvers": [{"ip": r.get("ip"), "port": r.get("port", 53)} for r in (spec.get("dnsResolverConfig") or {}).get("resolvers") or []],
        "connectTimeoutSeconds": (spec.get("tcpConfig") or {}).get("connectTimeoutSeconds", dflt["connectTimeoutSeconds"]),
    }
    if spec.get("tlsConfig") is not None:
        out["tls"] = _backend_tls(pool, spec["tlsConfig"], secrets)
    if (spec.get("proxyProtocolConfig") or {}).get("version") in (1, 2):
        out["proxyProtocolVersion"] = spec["proxyProtocolConfig"]["version"]
    versions = l7policy.http_versions(spec.get("httpConfig"))
    if versions is not None:
        out["httpVersions"] = versions
    return out


def _service_backends(pool: Resource, index: ResourceIndex | None, weight: int) -> list[dict]:
    """A K8sService pool's backends: each referenced Service port resolved to its ready endpoints
    (lbcli/model/endpoints.py), with the backend entry's weight and status; an address:port
    reached through two references is kept once, with the first reference's weight."""
    out: dict[tuple[str, int], dict] = {}
    if index is None:
        return []
    backends = pool.spec.get("backends") or []
    for i, name, port in endpoints.pool_refs(pool):
        b = backends[i]
        for ep in endpoints.resolve(index, pool.namespace, name, port).endpoints:
            out.setdefault((ep.address, ep.port), {"address": ep.address, "port": ep.port,
                                                   "weight": b.get("weight", weight),
                                                   "status": b.get("status", "Active")})
    return list(out.values())


def service_listener(svc: Resource, port: int, vip: str) -> dict:
    """The tier-2 listener of one TCP port of a v1 Service of type LoadBalancer: TCP passthrough
    to the pool of its endpoints (the same key names both)."""
    key = lbservices.key(svc, port)
    sticky = {"sourceIP": True, "cookies": [], "headers": []} if lbservices.client_ip_affinity(svc) else None
    return {"service": key, "vip": vip, "port": port, "protocol": "TCP", "type": "tcpProxy",
            "proxyProtocol": None, "tls": None, "auth": None,
            "routes": [{"hostNames": [], "path": None, "backendPool": key, "persistence": sticky}]}


def service_pool(index: ResourceIndex, key: str) -> dict | None:
    """The pool of a v1 Service port key "ns/name:port": its ready endpoints, round robin (or
    hashed on the client address with `sessionAffinity: ClientIP`), the LBBackendPool defaults
    for everything else (kube-proxy has no health checks: readiness is)."""
    ns, _, rest = key.partition("/")
    name, _, port = rest.rpartition(":")
    dflt = _pool_defaults()
    res = endpoints.resolve(index, ns, name, int(port))
    backends = [{"address": e.address, "port": e.port, "weight": dflt["weight"], "status": "Active"}
                for e in res.endpoints]
    sticky = res.service is not None and lbservices.client_ip_affinity(res.service)
    return {"name": key, "backendType": "K8sService", "algorithm": "consistentHashing" if sticky else "roundRobin",
            "tableSize": dflt["tableSize"] if sticky else None,
            "backends": backends, "healthCheck": None, "resolvers": [],
            "connectTimeoutSeconds": dflt["connectTimeoutSeconds"]}


def _backend_tls(pool: Resource, cfg: dict, secrets: SecretStore | None) -> dict:
    ca = l7policy.ca_secret_name(cfg)
    ref = None
    if ca:
        ref = secrets.ref(pool.namespace, ca) if secrets is not None else {"secretRef": f"{pool.namespace}/{ca}", "sha256": None}
    return l7policy.backend_tls(cfg, ref)


def _codes(ranges) -> list[int]:
    if not ranges:
        return [200]
    codes: set[int] = set()
    for r in ranges:
        start = int(r.get("start", 200))
        end = int(r.get("end", start + 1))  # exclusive
        codes.update(range(start, max(end, start + 1)))
    return sorted(codes)


def pools_for(listeners: list[dict], index: ResourceIndex, cache: dict | None = None,
              secrets: SecretStore | None = None) -> list[dict]:
    """The pools the listeners route to; `cache` shares them between nodes (plans are
    serialised, never mutated, so one dict may appear in several); the CA Secrets they name
    go to `secrets` on every node."""
    cache = {} if cache is None else cache
    names = sorted({r["backendPool"] for lst in listeners for r in lst["routes"]})
    out = []
    for n in names:
        if n not in cache:
            ns, _, name = n.partition("/")
            if ":" in name:  # a v1 Service port: the pool of its endpoints
                cache[n] = service_pool(index, n)
            else:
                pool = index.get("LBBackendPool", ns, name)
                cache[n] = backend_pool(pool, secrets, index) if pool is not None and pool.valid else None
        if cache[n] is not None:
            out.append(cache[n])
            if secrets is not None:
                _share_ca_material(cache[n], secrets)
    return out


def _share_ca_material(pool: dict, secrets: SecretStore) -> None:
    """A cached pool's CA Secrets, added to this node's material (the digest is in the plan)."""
    for tls in (pool.get("tls"), (pool.get("healthCheck") or {}).get("tls")):
        ca = (tls or {}).get("ca")
        if ca and ca["secretRef"] not in secrets.material:
            ns, _, name = ca["secretRef"].partition("/")
            data = secret_data(secrets.index, ns, name)
            if data is not None:
                secrets.material[ca["secretRef"]] = data
