"""A manifest set that reaches every renderer feature fed by a manifest string: the rebel-base
example plus, in memory, mTLS with SANs, cipher suites, path and host routes, cookie and
header persistence, an HTTP health check with host and query, a Hostname pool with resolvers,
TLS passthrough / TLS proxy / TCP services, BGP MD5 auth, BFD and every community kind."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BGP_PASSWORD = "md5-Injection-pw"


def _load(name: str) -> list[dict]:
    docs: list[dict] = []
    for p in sorted((EXAMPLES / name).glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(p.read_text()) if d]
    return docs


def _find(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _meta(name: str, ns: str | None = "default", **kw) -> dict:
    m = {"name": name, **kw}
    if ns:
        m["namespace"] = ns
    return m


def _vip(name: str, ip: str) -> dict:
    return {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBVIP", "metadata": _meta(name),
            "spec": {"ipv4Request": ip}}


def _service(name: str, port: int, apps: dict, labels: dict | None = None) -> dict:
    return {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBService",
            "metadata": _meta(name, labels=labels or {"app": name}),
            "spec": {"vipRef": {"name": name}, "port": port, "applications": apps}}


def _pool(name: str, spec: dict) -> dict:
    return {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBBackendPool", "metadata": _meta(name),
            "spec": spec}


def base_docs() -> list[dict]:
    docs = _load("rebel-base")
    https = _find(docs, "LBService", "https-proxy")["spec"]["applications"]["httpsProxy"]
    https["tlsConfig"].update({
        "validation": {"secretRef": {"name": "https-proxy"},
                       "subjectAlternativeNames": [{"exact": "client.acme.io"}]},
        "minTLSVersion": "TLSv1_2", "maxTLSVersion": "TLSv1_3",
        "allowedCipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"],
    })
    https["routes"] += [
        {"match": {"hostNames": ["https-proxy.acme.io"], "path": {"prefix": "/api"}},
         "backendRef": {"name": "api"}, "persistentBackend": {"cookies": [{"name": "session"}]}},
        {"match": {"hostNames": ["https-proxy.acme.io"], "path": {"exact": "/exact"}},
         "backendRef": {"name": "api"},
         "rateLimits": {"requests": {"limit": 10, "timePeriodSeconds": 60}},
         "requestFiltering": {"ruleType": "Deny", "rules": [
             {"sourceCIDR": {"cidr": "192.0.2.0/24"}, "hostName": {"suffix": "acme.io"},
              "path": {"prefix": "/admin"},
              "headers": [{"name": "X-Env", "value": {"exact": "dev"}},
                          {"name": "X-Tag", "value": {"prefix": "t-"}},
                          {"name": "X-Re", "value": {"regex": "^a+$"}}]},
             {"hostName": {"exact": "https-proxy.acme.io"}, "path": {"exact": "/secret"}}]}},
    ]
    https["connectionFiltering"] = {"ruleType": "Deny", "rules": [{"sourceCIDR": {"cidr": "198.51.100.0/24"}}]}
    https["rateLimits"] = {"connections": {"limit": 100, "timePeriodSeconds": 1}}
    https["httpConfig"] = {"enableHTTP2": False}
    peer_cfg = _find(docs, "IsovalentBGPPeerConfig", "router-peer-config")["spec"]
    peer_cfg["authSecretRef"] = "bgp-auth"
    advert = _find(docs, "IsovalentBGPAdvertisement", "ilb-service-advertisement")["spec"]
    advert["advertisements"][0]["attributes"] = {
        "communities": {"standard": ["64512:100"], "large": ["64512:1:2"], "wellKnown": ["no-export"]},
        "localPreference": 200}
    docs += [
        {"apiVersion": "v1", "kind": "Secret", "metadata": _meta("bgp-auth", "kube-system"),
         "type": "Opaque", "stringData": {"password": BGP_PASSWORD}},
        _pool("api", {
            "backendType": "IP",
            "backends": [{"ip": "172.18.0.9", "port": 8080}],
            "healthCheck": {"intervalSeconds": 3, "timeoutSeconds": 2,
                            "http": {"host": "api.internal", "path": "/ready?full=1", "method": "GET"}},
            "loadbalancing": {"algorithm": {"consistentHashing": {}}},
            "tlsConfig": {"validation": {"secretRef": {"name": "https-proxy"}}, "serverName": "api.internal",
                          "minTLSVersion": "TLSv1_2", "allowedCipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256"]},
            "proxyProtocolConfig": {"version": 2},
            "httpConfig": {"enableHTTP11": False},
        }),
        _vip("web", "100.64.0.102"),
        _service("web", 80, {"httpProxy": {
            "auth": {"basic": {"users": {"secretRef": {"name": "base-users"}}}},
            "routes": [
                {"match": {"hostNames": ["www.example.org", "*.example.org"], "path": {"prefix": "/app"}},
                 "backendRef": {"name": "ext"}},
                {"match": {"hostNames": ["www.example.org"], "path": {"exact": "/login"}},
                 "backendRef": {"name": "api"},
                 "persistentBackend": {"cookies": [{"name": "web-session"}], "headers": [{"name": "X-User"}]}},
            ]}}),
        _pool("ext", {
            "backendType": "Hostname",
            "backends": [{"host": "app.internal.example", "port": 8080, "weight": 3}],
            "dnsResolverConfig": {"resolvers": [{"ip": "10.96.0.10", "port": 53}]},
            "healthCheck": {"tcp": {}},
        }),
        _vip("deathstar", "100.64.0.103"),
        _service("deathstar", 443, {"tlsPassthrough": {"routes": [
            {"match": {"hostNames": ["deathstar.empire.galaxy"]}, "backendRef": {"name": "deathstar"},
             "persistentBackend": {"sourceIP": True},
             "rateLimits": {"connections": {"limit": 5, "timePeriodSeconds": 10}},
             "connectionFiltering": {"ruleType": "Allow", "rules": [
                 {"sourceCIDR": {"cidr": "10.0.0.0/8"}, "serverName": {"exact": "deathstar.empire.galaxy"}}]}}]}}),
        _pool("deathstar", {"backendType": "IP", "backends": [{"ip": "172.18.0.20", "port": 443}],
                            "healthCheck": {"tcp": {}, "tlsConfig": {"serverName": "deathstar.empire.galaxy"}},
                            "loadbalancing": {"algorithm": {"consistentHashing": {}}}}),
        _vip("db", "100.64.0.104"),
        _service("db", 5433, {"tlsProxy": {
            "tlsConfig": {"certificates": [{"secretRef": {"name": "https-proxy"}}],
                          "minTLSVersion": "TLSv1_2", "maxTLSVersion": "TLSv1_3",
                          "allowedCipherSuites": ["ECDHE-ECDSA-AES256-GCM-SHA384"],
                          "validation": {"secretRef": {"name": "https-proxy"},
                                         "subjectAlternativeNames": [{"exact": "*.clients.acme.io"}]}},
            "routes": [{"match": {"hostNames": ["https-proxy.acme.io"]}, "backendRef": {"name": "db"}}]}}),
        _pool("db", {"backendType": "IP", "backends": [{"ip": "172.18.0.30", "port": 5432}],
                     "healthCheck": {"tcp": {}}, "tcpConfig": {"connectTimeoutSeconds": 3}}),
        _vip("redis", "100.64.0.105"),
        _service("redis", 6379, {"tcpProxy": {"routes": [{"backendRef": {"name": "redis"}}]}}),
        _pool("redis", {"backendType": "IP", "backends": [{"ip": "172.18.0.40", "port": 6379}],
                        "healthCheck": {"tcp": {}},
                        "loadbalancing": {"algorithm": {"leastRequest": {}}}}),
        # Cilium OSS BGP kinds: a second speaker instance on the tier-1 nodes, compiled like
        # the Isovalent one, plus node overrides of both families
        {"apiVersion": "cilium.io/v2", "kind": "CiliumBGPClusterConfig", "metadata": _meta("oss", None),
         "spec": {"nodeSelector": {"matchLabels": {"service.cilium.io/node": "t1"}},
                  "bgpInstances": [{"name": "oss0", "localASN": 64513, "peers": [
                      {"name": "peer1", "peerAddress": "192.168.121.202", "peerASN": 64600,
                       "peerConfigRef": {"name": "oss-peer"}}]}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumBGPPeerConfig", "metadata": _meta("oss-peer", None),
         "spec": {"authSecretRef": "bgp-auth", "families": [
             {"afi": "ipv4", "safi": "unicast", "advertisements": {"matchLabels": {"advertise": "oss"}}}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumBGPAdvertisement",
         "metadata": _meta("oss-adverts", None, labels={"advertise": "oss"}),
         "spec": {"advertisements": [{"advertisementType": "Service",
                                      "service": {"addresses": ["LoadBalancerIP"]},
                                      "selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                                      "attributes": {"communities": {"standard": ["64513:7"],
                                                                     "large": ["64513:0:7"]}}}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfigOverride", "metadata": _meta("lb-t1-1", None),
         "spec": {"bgpInstances": [{"name": "oss0", "routerID": "10.10.10.1", "localPort": 1179}]}},
        {"apiVersion": "isovalent.com/v1", "kind": "IsovalentBGPNodeConfigOverride",
         "metadata": _meta("lb-t1-2", None),
         "spec": {"bgpInstances": [{"name": "instance0", "routerID": "10.10.10.2"}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": _meta("legacy-deprecated", annotations={"io.cilium/lb-ipam-ips": "100.64.0.151",
                                                             "io.cilium/lb-ipam-sharing-key": "old"}),
         "spec": {"type": "LoadBalancer", "ports": [{"port": 8080}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": _meta("legacy", annotations={"lbipam.cilium.io/ips": "100.64.0.150",
                                                  "lbipam.cilium.io/sharing-key": "shared"}),
         "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                                     "protocol": "TCP"}],
                  "selector": {"app": "legacy"}}},
        # their endpoints: the slice's port name and addresses, the Endpoints' address and port
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": _meta("legacy-abcde", labels={"kubernetes.io/service-name": "legacy"}),
         "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
         "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": True}, "nodeName": "lb-t2-1"}]},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta("legacy-deprecated"),
         "subsets": [{"addresses": [{"ip": "10.1.0.6"}], "ports": [{"port": 8080}]}]},
    ]
    return docs


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_doc(doc: dict) -> str:
    return "---\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=False, width=1 << 20)


def dump(docs: list[dict], cache: list[str] | None = None, changed: int | None = None) -> str:
    """The set as one YAML stream; with `cache` (the base's dump_doc texts) only document
    `changed` is dumped again."""
    if cache is not None and changed is not None:
        return "".join(dump_doc(d) if i == changed else cache[i] for i, d in enumerate(docs))
    return "".join(dump_doc(d) for d in docs)


def clone(docs: list[dict]) -> list[dict]:
    return copy.deepcopy(docs)
