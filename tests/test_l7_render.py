"""Rendering of the tier-2 HAProxy configuration: golden files for every application type
(UPDATE_GOLDEN=1 rewrites them), determinism, and `haproxy -c` on the result with real
certificates when haproxy is installed."""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lbcli.agent.l7.model import model_from_plan
from lbcli.agent.l7.render import render, skeleton
from lbcli.agent.l7.runtime import parse_servers_state, parse_show_proc, parse_show_stat, split_backend
from lbcli.agent.l7.secrets import parse_htpasswd
from tests.lintkit import compile_docs

GOLDEN = Path(__file__).parent / "golden" / "l7"
BASE = "/var/lib/cilium-lb/t2-a/haproxy"
VIP = "100.64.0.101"
# htpasswd lines: a SHA-512 crypt and a {SHA} entry (both for password "secret"), an Apache
# $apr1$ one HAProxy cannot check
USERS = (
    b"alice:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1\n"
    b"bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
    b"carol:$apr1$abcdefgh$0123456789abcdefghijkl\n"
)


# ---- the cases: manifest sets, compiled for lab node t2-a (as `cilium-lb compile` does)
# Each case is the LBServices, LBBackendPools, Services and Secrets a user would write;
# `compiled` adds the lab's Nodes, IP pool and an LBVIP for VIP in each namespace used
# (lbcli/lab/plans.py), lints the set (an error fails the test) and compiles it.

API = "isovalent.com/v1alpha1"


def _svc(name, port, app_type, app, **spec):
    ns, _, n = name.rpartition("/")
    return {"apiVersion": API, "kind": "LBService", "metadata": {"namespace": ns, "name": n},
            "spec": {"vipRef": {"name": "vip0"}, "port": port, "applications": {app_type: app}, **spec}}


def _pool(name, backends, **spec):
    ns, _, n = name.rpartition("/")
    return {"apiVersion": API, "kind": "LBBackendPool", "metadata": {"namespace": ns, "name": n},
            "spec": {"backendType": "IP", "backends": backends, **spec}}


def _be(ip, port, **kw):
    return {"ip": ip, "port": port, **kw}


def _route(pool, hosts=(), path=None, **kw):
    match = {}
    if hosts:
        match["hostNames"] = list(hosts)
    if path:
        match["path"] = path
    return {**({"match": match} if match else {}), "backendRef": {"name": pool}, **kw}


def _secret(ref, data, type_="Opaque"):
    ns, _, name = ref.partition("/")
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": ns, "name": name}, "type": type_,
            "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())}}


def _algo(name, **kw):
    return {"loadbalancing": {"algorithm": {name: kw}}}


CH = _algo("consistentHashing")
HC_HTTP = {"healthCheck": {"intervalSeconds": 2, "timeoutSeconds": 2, "healthyThreshold": 1,
                           "unhealthyThreshold": 3, "http": {"path": "/health"}}}
HC_TCP = {"healthCheck": {"intervalSeconds": 1, "timeoutSeconds": 1, "healthyThreshold": 2,
                          "unhealthyThreshold": 2, "tcp": {}}}
HC_DEFAULT = {"healthCheck": {"tcp": {}}}  # the schema requires a health check: its defaults
SECRETS = ("default/https-proxy", "default/other-cert", "default/client-ca", "default/base-users")


def _service(name, type_, ports, annotations=None):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": "default", "name": name, **({"annotations": annotations} if annotations else {})},
            "spec": {"type": type_, "selector": {"app": name}, "ports": ports}}


def _slice(name, service, family, addresses, port, port_name=None):
    p = {"port": port, "protocol": "TCP", **({"name": port_name} if port_name else {})}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "default", "name": name, "labels": {"kubernetes.io/service-name": service}},
            "addressType": family, "ports": [p],
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses]}


CASES: dict[str, list[dict]] = {
    "https": [
        _svc("default/https-proxy", 443, "httpsProxy", {
            "tlsConfig": {"certificates": [{"secretRef": {"name": "https-proxy"}}, {"secretRef": {"name": "other-cert"}}],
                          "allowedCipherSuites": ["TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"]},
            "routes": [_route("https-proxy", ["https-proxy.acme.io"], persistentBackend={"headers": [{"name": "sticky"}]}),
                       _route("wild", ["*.acme.io"], {"prefix": "/api/"}),
                       _route("wild", path={"exact": "/exact"})],
            "auth": {"basic": {"users": {"secretRef": {"name": "base-users"}}}}}),
        _pool("default/https-proxy", [_be("172.18.0.7", 8080), _be("172.18.0.8", 8080, weight=2),
                                      _be("172.18.0.9", 8080, status="Draining")],
              **_algo("consistentHashing", algorithm={"maglev": {"tableSize": 65537}}), **HC_HTTP),
        _pool("default/wild", [_be("172.18.1.1", 80)], **_algo("leastRequest"), tcpConfig={"connectTimeoutSeconds": 2},
              **HC_DEFAULT),
    ],
    "https-mtls": [
        _svc("default/mtls", 8443, "httpsProxy", {
            "tlsConfig": {"certificates": [{"secretRef": {"name": "https-proxy"}}], "minTLSVersion": "TLSv1_3",
                          "maxTLSVersion": "TLSv1_3",
                          "validation": {"secretRef": {"name": "client-ca"},
                                         "subjectAlternativeNames": [{"exact": "client.acme.io"}]}},
            "routes": [_route("app", ["mtls.acme.io"], persistentBackend={"cookies": [{"name": "session"}]})]}),
        _pool("default/app", [_be("172.18.0.7", 8080)], **CH, **HC_DEFAULT),
    ],
    "http": [
        _svc("web/site", 80, "httpProxy", {"routes": [
            _route("site", ["www.example.org", "example.org"], {"prefix": "/"}),
            _route("api", ["www.example.org"], {"prefix": "/api"})]}, proxyProtocolConfig={"disallowedVersions": [1]}),
        _pool("web/site", [_be("10.0.0.2", 80), _be("10.0.0.1", 80)],
              healthCheck={**HC_HTTP["healthCheck"], "http": {"path": "/ready", "method": "HEAD", "host": "site.local",
                                                              "healthyStatusCodes": [{"start": 200, "end": 201},
                                                                                     {"start": 204, "end": 205}]}}),
        _pool("web/api", [_be("10.0.1.1", 8080)], **CH, **HC_TCP),
    ],
    "tls-passthrough": [
        _svc("default/deathstar", 443, "tlsPassthrough", {"routes": [
            _route("deathstar", ["deathstar.empire.galaxy"]),
            _route("rebels", ["*.rebels.galaxy"], persistentBackend={"sourceIP": True})]}),
        _pool("default/deathstar", [_be("172.18.0.20", 443)], **HC_TCP),
        _pool("default/rebels", [_be("172.18.0.21", 443)], **CH, **HC_DEFAULT),
    ],
    "tls-proxy": [
        _svc("default/db", 5433, "tlsProxy", {"tlsConfig": {"certificates": [{"secretRef": {"name": "https-proxy"}}]},
                                              "routes": [_route("db", ["db.acme.io"]), _route("db-default")]}),
        _pool("default/db", [_be("172.18.0.30", 5432)], **HC_TCP),
        _pool("default/db-default", [_be("172.18.0.31", 5432)], **HC_DEFAULT),
    ],
    "tcp": [
        _svc("default/redis", 6379, "tcpProxy", {"routes": [_route("redis")]}),
        _pool("default/redis", [_be("172.18.0.40", 6379, weight=300)], **_algo("leastRequest"), **HC_TCP),
    ],
    "udp": [
        _svc("default/dns", 53, "udpProxy", {"routes": [_route("dns")], "forceDeploymentMode": "t1-t2"}),
        _pool("default/dns", [_be("172.18.0.50", 53)], **HC_DEFAULT),
    ],
    "hostname": [
        _svc("default/ext", 80, "httpProxy", {"routes": [_route("ext", ["ext.acme.io"])]}),
        _pool("default/ext", [{"host": "app.internal.example", "port": 8080}], backendType="Hostname",
              dnsResolverConfig={"resolvers": [{"ip": "10.96.0.10", "port": 53}, {"ip": "10.96.0.11", "port": 5353}]},
              **HC_HTTP),
    ],
    # rate limits, filtering, several persistence keys, HTTP versions; backend TLS with a CA
    # and SNI, PROXY protocol to the backends, TLS-only health checks
    "policies": [
        _svc("default/api", 443, "httpsProxy", {
            "tlsConfig": {"certificates": [{"secretRef": {"name": "https-proxy"}}]},
            "rateLimits": {"connections": {"limit": 100, "timePeriodSeconds": 1}},
            "connectionFiltering": {"ruleType": "Allow", "rules": [{"sourceCIDR": {"cidr": "10.0.0.0/8"}},
                                                                     {"sourceCIDR": {"cidr": "2001:db8::/32"}}]},
            "httpConfig": {"enableHTTP11": True, "enableHTTP2": False},
            "routes": [
                _route("tls-be", ["api.acme.io"], {"prefix": "/v1"},
                       persistentBackend={"sourceIP": True, "cookies": [{"name": "session"}], "headers": [{"name": "X-User"}]},
                       rateLimits={"requests": {"limit": 5, "timePeriodSeconds": 10}},
                       requestFiltering={"ruleType": "Deny", "rules": [
                           {"sourceCIDR": {"cidr": "192.0.2.0/24"}},
                           {"hostName": {"suffix": "acme.io"}, "path": {"exact": "/v1/admin"},
                            "headers": [{"name": "X-Env", "value": {"regex": "^(dev|test) it's$"}}]}]}),
                _route("h2", requestFiltering={"ruleType": "Allow", "rules": [
                    {"sourceCIDR": {"cidr": "10.0.0.0/8"}, "path": {"prefix": "/pub"},
                     "headers": [{"name": "X-Key", "value": {"exact": "a b#c"}}]}]})]}),
        _svc("default/sni", 8443, "tlsPassthrough", {
            "routes": [
                _route("pp", ["a.acme.io"], rateLimits={"connections": {"limit": 3, "timePeriodSeconds": 60}},
                       connectionFiltering={"ruleType": "Allow", "rules": [
                           {"sourceCIDR": {"cidr": "10.1.0.0/16"}, "serverName": {"exact": "a.acme.io"}}]}),
                _route("pp", ["*"], connectionFiltering={"ruleType": "Deny", "rules": [
                    {"sourceCIDR": {"cidr": "198.51.100.7/32"}}]})]}),
        _svc("default/raw", 9000, "tcpProxy", {
            "routes": [_route("pp", rateLimits={"connections": {"limit": 2, "timePeriodSeconds": 5}})]}),
        _pool("default/tls-be", [_be("172.18.2.1", 8443)], **CH, **HC_HTTP,
              tlsConfig={"minTLSVersion": "TLSv1_2", "validation": {"secretRef": {"name": "client-ca"}},
                         "allowedCipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"],
                         "serverName": "backend.acme.io"},
              httpConfig={"enableHTTP11": True, "enableHTTP2": True}),
        _pool("default/h2", [{"host": "ext.acme.io", "port": 443}], backendType="Hostname", **HC_TCP,  # resolv.conf
              tlsConfig={}, httpConfig={"enableHTTP11": False, "enableHTTP2": True}),
        _pool("default/pp", [_be("172.18.2.2", 443)], proxyProtocolConfig={"version": 2},
              healthCheck={**HC_TCP["healthCheck"], "tlsConfig": {
                  "minTLSVersion": "TLSv1_3", "validation": {"secretRef": {"name": "client-ca"}},
                  "serverName": "pp.acme.io"}}),
    ],
    # v1 Services of type LoadBalancer sharing an address (one listener per port, key
    # ns/name:port) and a K8sService pool: endpoint addresses from EndpointSlices, IPv6 too
    "k8s-services": [
        {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool", "metadata": {"name": "shop"},
         "spec": {"blocks": [{"cidr": "100.64.0.120/32"}]}},
        _service("web", "LoadBalancer", [{"name": "http", "port": 80, "targetPort": 8080}],
                 {"lbipam.cilium.io/ips": "100.64.0.120", "lbipam.cilium.io/sharing-key": "shop"}),
        _slice("web-v4", "web", "IPv4", ["10.244.3.20"], 8080, "http"),
        _slice("web-v6", "web", "IPv6", ["fd00:10:244::20"], 8080, "http"),
        _service("api", "LoadBalancer", [{"port": 8443, "targetPort": 9443}],
                 {"lbipam.cilium.io/ips": "100.64.0.120", "lbipam.cilium.io/sharing-key": "shop"}),
        _slice("api-v4", "api", "IPv4", ["10.244.4.30"], 9443),
        _service("echo", "ClusterIP", [{"name": "http", "port": 80, "targetPort": 8080}]),
        _slice("echo-v4", "echo", "IPv4", ["10.244.3.10", "10.244.4.11"], 8080, "http"),
        _svc("default/echo", 8080, "httpProxy", {"routes": [_route("echo")]}),
        _pool("default/echo", [{"k8sServiceRef": {"name": "echo"}, "port": 80}], backendType="K8sService", **HC_HTTP),
    ],
    # the plan names Secrets the node was not given (the `--secrets` it got lack them):
    # compiled with the Secrets present, rendered without their material
    "missing-secrets": [
        _svc("default/nocert", 443, "httpsProxy", {"tlsConfig": {"certificates": [{"secretRef": {"name": "absent"}}]},
                                                   "routes": [_route("p", ["a.io"])]}),
        _svc("default/noauth", 80, "httpProxy", {"routes": [_route("p", ["b.io"])],
                                                 "auth": {"basic": {"users": {"secretRef": {"name": "absent-users"}}}}}),
        _pool("default/p", [_be("172.18.0.60", 80)], **HC_DEFAULT),
    ],
}  # fmt: skip


@functools.lru_cache(maxsize=None)
def _real_secrets() -> tuple[dict, ...]:
    """Secrets the cases reference, as a cluster holds them (real certificates: lint reads
    them); the renderings use fake_secrets() -- the material a node was handed."""
    from tests.certs import make_ca, make_leaf

    ca = make_ca()
    leaf = make_leaf(ca, ["https-proxy.acme.io", "*.acme.io", "db.acme.io", "a.io"])
    tls = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem}
    # lint refuses the $apr1$ user (HAProxy cannot check it): the cluster's copy leaves carol
    # out; fake_secrets() -- what a node was handed -- still has her, for the renderer's answer
    users = b"".join(x + b"\n" for x in USERS.splitlines() if not x.startswith(b"carol:"))
    out = [_secret("default/https-proxy", tls, "kubernetes.io/tls"), _secret("default/other-cert", tls, "kubernetes.io/tls"),
           _secret("default/client-ca", {"ca.crt": ca.cert_pem}), _secret("default/base-users", {"users": users}),
           _secret("default/absent", tls, "kubernetes.io/tls"), _secret("default/absent-users", {"users": users})]
    return tuple(out)


def compiled(docs: list[dict], node: str = "t2-a") -> dict:
    """The plan (JSON form) compile makes for lab node `node` from the lab's Nodes, pool and
    an LBVIP `vip0` for VIP in each namespace of `docs`, plus `docs` and the Secrets they name."""
    from lbcli.lab.plans import LabService, manifests
    from lbcli.lab.topology import DEFAULT

    namespaces = sorted({d["metadata"]["namespace"] for d in docs if d["kind"] in ("LBService", "LBBackendPool")})
    base = [d for d in manifests(DEFAULT, [LabService(f"{ns}/lab", VIP, 1) for ns in namespaces])
            if d["kind"] not in ("LBService", "LBBackendPool")]
    # tier 2 proxies TCP only: a two-tier udpProxy is refused for users (the one finding the
    # udp case accepts, as the lab does): the renderer's own answer to one is what it tests
    return compile_docs(base + copy.deepcopy(docs) + list(copy.deepcopy(_real_secrets())), node,
                        lambda p: p.rule == "not-implemented" and "udpProxy.forceDeploymentMode" in p.message,
                        now=datetime.now(timezone.utc))  # the certificates are made now


@functools.lru_cache(maxsize=None)
def _case_plan(case: str) -> str:
    return json.dumps(compiled(CASES[case]))


def fake_secrets() -> dict:
    # the renderer never parses PEM; real certificates are used where haproxy reads them
    def tls(n):
        return {"tls.crt": f"-----CERT {n}-----\n".encode(), "tls.key": f"-----KEY {n}-----\n".encode()}

    return {
        "default/https-proxy": tls("https-proxy"),
        "default/other-cert": tls("other"),
        "default/client-ca": {"ca.crt": b"-----CA-----\n"},
        "default/base-users": {"users": USERS},
    }


def plan_for(case: str) -> dict:
    """Compile's plan for t2-a from the case's manifests (a fresh copy: tests edit it)."""
    return json.loads(_case_plan(case))


def _golden_text(case: str) -> str:
    model = model_from_plan(plan_for(case))
    r = render(model, fake_secrets(), BASE, "t2-a")
    files = "\n".join(f"{k} {oct(v.mode)} {len(v.content)}B" for k, v in sorted(r.files.items()))
    return (
        f"### haproxy.cfg\n{r.config}\n### users.cfg\n{r.users}### files\n{files}\n"
        f"### warnings\n" + "".join(w + "\n" for w in r.warnings)
        + "### weights\n" + "".join(f"{b}/{s} {w}\n" for (b, s), w in sorted(r.weights.items()))
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    text = _golden_text(case)
    path = GOLDEN / f"{case}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{case}: rendering differs from {path} (UPDATE_GOLDEN=1 to accept)"


def test_deterministic_under_reordering() -> None:
    plan = plan_for("https")
    shuffled = copy.deepcopy(plan)
    shuffled["tier2"]["backendPools"].reverse()
    for p in shuffled["tier2"]["backendPools"]:
        p["backends"].reverse()
    a = render(model_from_plan(plan), fake_secrets(), BASE, "t2-a")
    b = render(model_from_plan(shuffled), fake_secrets(), BASE, "t2-a")
    assert a.config == b.config and a.users == b.users and a.files == b.files


def test_no_secret_material_in_config() -> None:
    r = render(model_from_plan(plan_for("https")), fake_secrets(), BASE, "t2-a")
    assert "CERT" not in r.config and "KEY" not in r.config
    assert "$6$" not in r.config and "5en6G6" not in r.config  # hashes live in 0600 files only
    assert all(f.mode == 0o600 for f in r.files.values())


def test_udp_is_skipped_with_a_clear_warning() -> None:
    r = render(model_from_plan(plan_for("udp")), fake_secrets(), BASE, "t2-a")
    assert "frontend ft_default_dns" not in r.config
    assert any("HAProxy has no UDP proxying" in w for w in r.warnings)
    assert r.service_backends["default/dns"] == []
    assert "acl svc0 path /health/default/dns" in r.config


def _with_pool(case: str, pool: str, change) -> list[dict]:
    """The case's manifests with `change(spec)` applied to LBBackendPool `pool` ("ns/name")."""
    docs = copy.deepcopy(CASES[case])
    ns, _, name = pool.partition("/")
    change(next(d for d in docs if d["kind"] == "LBBackendPool" and d["metadata"] == {"namespace": ns, "name": name})["spec"])
    return docs


def test_weight_only_change_keeps_skeleton() -> None:
    a = render(model_from_plan(plan_for("https")), fake_secrets(), BASE, "t2-a")

    def reweigh(spec):
        spec["backends"][0]["weight"] = 7
        spec["backends"][1]["status"] = "Draining"

    b = render(model_from_plan(compiled(_with_pool("https", "default/https-proxy", reweigh))), fake_secrets(), BASE, "t2-a")
    assert a.config != b.config and skeleton(a.config) == skeleton(b.config)
    assert b.weights != a.weights

    def grow(spec):
        reweigh(spec)
        spec["backends"].append({"ip": "172.18.0.99", "port": 8080})

    c = render(model_from_plan(compiled(_with_pool("https", "default/https-proxy", grow))), fake_secrets(), BASE, "t2-a")
    assert skeleton(c.config) != skeleton(b.config)


def test_listener_limits_and_filters_of_tcp_mode_listeners() -> None:
    """A listener-wide rate limit and connection filter on a TCP-mode listener: the plan types
    accept them on every listener, but the schema has them only on the routes of tcpProxy and
    tlsPassthrough, so compile never makes one. The renderer must carry them out rather than
    drop them: compile's policies plan with those two fields set (the only hand-written part)."""
    plan = plan_for("policies")
    by_service = {lst["service"]: lst for lst in plan["tier2"]["listeners"]}
    by_service["default/raw"]["rateLimit"] = {"limit": 50, "periodSeconds": 1}
    by_service["default/sni"]["connectionFiltering"] = {"ruleType": "Deny", "rules": [
        {"sourceCIDR": "198.51.100.7/32", "hostName": None, "path": None, "headers": []}]}
    cfg = render(model_from_plan(plan), fake_secrets(), BASE, "t2-a").config
    raw = cfg[cfg.index("frontend ft_default_raw"):]
    raw = raw[:raw.index("\n\n")]
    assert "tcp-request connection track-sc0 src table st_default_raw" in raw
    assert "tcp-request connection reject if { sc_conn_rate(0) gt 50 }" in raw
    assert "backend st_default_raw\n    stick-table type ipv6 size 100k expire 1s store conn_rate(1s)" in cfg
    sni = cfg[cfg.index("frontend ft_default_sni"):]
    assert "tcp-request connection reject if { src 198.51.100.7/32 }" in sni[:sni.index("\n\n")]


def test_htpasswd_parsing() -> None:
    users = parse_htpasswd(USERS + b"# comment\n\nbad line\n")
    assert [n for n, _ in users.entries] == ["alice"]
    assert users.sha1 == (("bob", "5en6G6MezRroT3XKqkdPOmY/BfQ="),)
    assert "carol" in users.rejected


def test_backend_names_round_trip() -> None:
    assert split_backend("bk_default_https-proxy.default_https-proxy") == ("default/https-proxy", "default/https-proxy")
    assert split_backend("bk_ns_a.b.c.ns2_d.e") == ("ns/a.b.c", "ns2/d.e")
    assert split_backend("no_route") is None


def test_runtime_parsers() -> None:
    stat = (
        "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,"
        "act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,"
        "check_status,check_code,check_duration,addr\n"
        "ft_x,FRONTEND,,,0,1,2000,3,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,\n"
        "bk_default_a.default_p,172.18.0.7:8080,0,0,2,3,,10,0,0,,0,,0,0,0,0,UP,2,1,0,0,0,5,0,,1,3,1,,10,,2,0,,1,L7OK,200,1,172.18.0.7:8080\n"
        "bk_default_a.default_p,172.18.0.8:8080,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,4,1,5,7,,1,3,2,,0,,2,0,,0,L4CON,,0,172.18.0.8:8080\n"
        "bk_default_a.default_p,BACKEND,0,0,2,3,200,10,0,0,0,0,,0,0,0,0,UP,3,2,0,,0,5,0,,1,3,0,,10,,1,0,,1,,,,\n"
    )
    s = parse_show_stat(stat)
    assert [(x.server, x.status, x.weight, x.healthy, x.check_status) for x in s] == [
        ("172.18.0.7:8080", "UP", 2, True, "L7OK"),
        ("172.18.0.8:8080", "DOWN", 1, False, "L4CON"),
    ]
    assert s[0].service == "default/a" and s[0].pool == "default/p" and s[1].check_failures == 4
    state = (
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        "srv_check_addr srv_agent_addr srv_agent_port\n"
        "3 bk_default_a.default_p 1 172.18.0.7:8080 172.18.0.7 2 8 2 1 10 6 3 4 6 0 0 0 - 8080 - 0 0 - - 0\n"
    )
    (st,) = parse_servers_state(state)
    assert (st.backend, st.server, st.port, st.admin_state, st.user_weight, st.initial_weight) == (
        "bk_default_a.default_p", "172.18.0.7:8080", 8080, 8, 2, 1)  # fmt: skip
    proc = (
        "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
        "100             master          2 [failed: 0]   0d00h01m00s     2.6.12\n"
        "# workers\n"
        "200             worker          0               0d00h00m01s     2.6.12\n"
        "# old workers\n"
        "150             worker          1               0d00h00m30s     2.6.12\n"
    )
    assert [(p.pid, p.kind, p.reloads, p.old) for p in parse_show_proc(proc)] == [
        (100, "master", 2, False), (200, "worker", 0, False), (150, "worker", 1, True)]  # fmt: skip


@pytest.mark.daemons
@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_haproxy_accepts_rendering(case: str, tmp_path: Path) -> None:
    """Every rendering passes `haproxy -c` with real certificate files in place."""
    from tests.certs import make_ca, make_leaf

    ca = make_ca()
    secrets = fake_secrets()
    for ref, names in (("default/https-proxy", ["https-proxy.acme.io"]), ("default/other-cert", ["other.acme.io"])):
        leaf = make_leaf(ca, names)
        secrets[ref] = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem}
    secrets["default/client-ca"] = {"ca.crt": ca.cert_pem}
    r = render(model_from_plan(plan_for(case)), secrets, tmp_path, "t2-a")
    for rel, spec in r.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(spec.content)
    (tmp_path / "haproxy.cfg").write_text(r.config)
    (tmp_path / "users.cfg").write_text(r.users)
    proc = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg"), "-f", str(tmp_path / "users.cfg")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    json.dumps(r.warnings)  # warnings are plain strings


# ---- hostile input: compile never makes it (the schema and compile refuse it); the renderer
# must refuse or escape it anyway (defence in depth), so these put one value into compile's plan


def test_hostile_header_name_is_refused_naming_the_field() -> None:
    plan = plan_for("https")
    route = plan["tier2"]["listeners"][0]["routes"][0]
    # a header name with a line break: the schema's pattern refuses it; set in the plan here
    route["persistence"]["headers"] = ["sticky\n    server evil 6.6.6.6:80 weight 256"]
    from lbcli.agent.l7.render import L7RenderError

    with pytest.raises(L7RenderError) as e:
        render(model_from_plan(plan), fake_secrets(), BASE, "t2-a")
    msg = str(e.value)
    assert "routes[0] persistentBackend headers[0] name" in msg and "line break" in msg
    assert "evil" not in msg and "\n" not in msg


def test_path_with_quote_is_escaped_not_refused() -> None:
    docs = copy.deepcopy(CASES["https"])
    docs[0]["spec"]["applications"]["httpsProxy"]["routes"][2]["match"]["path"] = {"exact": "/it's"}  # valid
    r = render(model_from_plan(compiled(docs)), fake_secrets(), BASE, "t2-a")
    assert "path -m str /it\\'s" in r.config


def test_long_names_give_bounded_file_names() -> None:
    long_name = ".".join(["a" * 60] * 4)  # a 243-character Secret name: valid in Kubernetes
    docs = copy.deepcopy(CASES["https"])
    docs[0]["spec"]["applications"]["httpsProxy"]["tlsConfig"]["certificates"][0]["secretRef"]["name"] = long_name
    https_proxy = next(d for d in _real_secrets() if d["metadata"]["name"] == "https-proxy")
    docs.append({**copy.deepcopy(https_proxy), "metadata": {"namespace": "default", "name": long_name}})
    plan = compiled(docs)
    long_ref = "default/" + long_name
    assert plan["tier2"]["listeners"][0]["tls"]["certificates"][0]["secretRef"] == long_ref
    secrets = fake_secrets()
    secrets[long_ref] = secrets["default/https-proxy"]
    r = render(model_from_plan(plan), secrets, BASE, "t2-a")
    names = [Path(k).name for k in r.files]
    assert max(len(n) for n in names) <= 255 and all("/" not in n and not n.startswith(".") for n in names)
    assert any(n.startswith("cert-default_aaa") for n in names)
