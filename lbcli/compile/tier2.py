"""Tier 2: per LBService the L7 listener (application type, TLS, routes, auth) and the backend
pools it routes to, with every default made explicit so the agent needs no schema."""

from __future__ import annotations

from ..manifest.index import ResourceIndex
from ..manifest.kinds import default_of
from ..manifest.resource import Resource
from .secrets import SecretStore

APP_TYPES = ("httpProxy", "httpsProxy", "tlsPassthrough", "tlsProxy", "tcpProxy", "udpProxy")
TLS_VERSIONS = {"TLSv1_0": "TLSv1.0", "TLSv1_1": "TLSv1.1", "TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}


def app_type(svc: Resource) -> tuple[str | None, dict]:
    apps = svc.spec.get("applications") or {}
    for t in APP_TYPES:
        if t in apps:
            return t, apps[t] or {}
    return None, {}


def protocol_of(svc: Resource) -> str:
    return "UDP" if app_type(svc)[0] == "udpProxy" else "TCP"


def listener(svc: Resource, vip: str, secrets: SecretStore) -> dict:
    kind, app = app_type(svc)
    ns = svc.namespace
    tls = None
    if kind in ("httpsProxy", "tlsProxy"):
        tc = app.get("tlsConfig") or {}
        validation = tc.get("validation")
        tls = {
            "certificates": [secrets.ref(ns, c["secretRef"]["name"]) for c in tc.get("certificates") or []
                             if (c.get("secretRef") or {}).get("name")],
            "minVersion": TLS_VERSIONS.get(tc.get("minTLSVersion"), "TLSv1.2"),
            "maxVersion": TLS_VERSIONS.get(tc.get("maxTLSVersion"), "TLSv1.3"),
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


def backend_pool(pool: Resource) -> dict:
    spec = pool.spec
    algo = spec.get("loadbalancing", {}).get("algorithm") or {}
    name = next((k for k in ("consistentHashing", "leastRequest", "roundRobin") if k in algo), "roundRobin")
    table = None
    if name == "consistentHashing":
        table = (((algo.get("consistentHashing") or {}).get("algorithm") or {}).get("maglev") or {}).get("tableSize") \
            or default_of("LBBackendPool", "spec", "loadbalancing", "algorithm", "consistentHashing", "algorithm", "maglev", "tableSize")
    d = lambda *p: default_of("LBBackendPool", "spec", *p)  # noqa: E731 - schema defaults
    hc = spec.get("healthCheck")
    health = None
    if hc is not None:
        http = hc.get("http")
        health = {
            "intervalSeconds": hc.get("intervalSeconds", d("healthCheck", "intervalSeconds")),
            "timeoutSeconds": hc.get("timeoutSeconds", d("healthCheck", "timeoutSeconds")),
            "healthyThreshold": hc.get("healthyThreshold", d("healthCheck", "healthyThreshold")),
            "unhealthyThreshold": hc.get("unhealthyThreshold", d("healthCheck", "unhealthyThreshold")),
            "http": None if http is None else {
                "path": http.get("path", d("healthCheck", "http", "path")),
                "method": http.get("method", d("healthCheck", "http", "method")),
                "host": http.get("host", d("healthCheck", "http", "host")),
                "expectedStatusCodes": _codes(http.get("healthyStatusCodes")),
            },
            "tcp": http is None,
        }
    backends = []
    for b in spec.get("backends") or []:
        backends.append({
            "address": b.get("ip") or b.get("host"), "port": b.get("port"),
            "weight": b.get("weight", 1), "status": b.get("status", "Active"),
        })
    backends.sort(key=lambda b: (str(b["address"]), b["port"] or 0))
    return {
        "name": pool.key, "backendType": spec.get("backendType", "IP"), "algorithm": name, "tableSize": table,
        "backends": backends, "healthCheck": health,
        "resolvers": [{"ip": r.get("ip"), "port": r.get("port", 53)} for r in (spec.get("dnsResolverConfig") or {}).get("resolvers") or []],
        "connectTimeoutSeconds": (spec.get("tcpConfig") or {}).get("connectTimeoutSeconds", d("tcpConfig", "connectTimeoutSeconds")),
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


def pools_for(listeners: list[dict], index: ResourceIndex) -> list[dict]:
    names = sorted({r["backendPool"] for l in listeners for r in l["routes"]})
    out = []
    for n in names:
        ns, _, name = n.partition("/")
        pool = index.get("LBBackendPool", ns, name)
        if pool is not None and pool.valid:
            out.append(backend_pool(pool))
    return out
