"""Rendering of the tier-2 HAProxy configuration: golden files for every application type
(UPDATE_GOLDEN=1 rewrites them), determinism, and `haproxy -c` on the result with real
certificates when haproxy is installed."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lbcli.agent.l7.model import model_from_plan
from lbcli.agent.l7.render import render, skeleton
from lbcli.agent.l7.runtime import parse_servers_state, parse_show_proc, parse_show_stat, split_backend
from lbcli.agent.l7.secrets import parse_htpasswd
from tests.plankit import plan_with

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


def _pool(name, backends, **kw):
    d = {
        "name": name,
        "backendType": "IP",
        "algorithm": "roundRobin",
        "backends": [dict({"weight": 1, "status": "Active"}, **b) for b in backends],
        "tableSize": None,
        "healthCheck": None,
        "resolvers": [],
        "connectTimeoutSeconds": 5,
    }
    d.update(kw)
    return d


def _listener(service, port, type_, routes, tls=None, auth=None, proxy=None, protocol="TCP"):
    return {
        "service": service, "vip": VIP, "port": port, "protocol": protocol, "type": type_,
        "proxyProtocol": proxy, "tls": tls, "auth": auth, "routes": routes,
    }  # fmt: skip


def _route(hosts, pool, path=None, persistence=None):
    return {"hostNames": hosts, "path": path, "backendPool": pool, "persistence": persistence}


def _tls(*refs, **kw):
    d = {"certificates": [{"secretRef": r, "sha256": "0" * 64} for r in refs],
         "minVersion": "TLSv1.2", "maxVersion": "TLSv1.3", "cipherSuites": [], "clientValidation": None}  # fmt: skip
    d.update(kw)
    return d


HC_HTTP = {"intervalSeconds": 2, "timeoutSeconds": 2, "healthyThreshold": 1, "unhealthyThreshold": 3,
           "http": {"path": "/health", "method": "GET", "host": None, "expectedStatusCodes": [200]}, "tcp": False}  # fmt: skip
HC_TCP = {"intervalSeconds": 1, "timeoutSeconds": 0.5, "healthyThreshold": 2, "unhealthyThreshold": 2,
          "http": None, "tcp": True}  # fmt: skip

CASES: dict[str, dict] = {
    "https": {
        "listeners": [
            _listener(
                "default/https-proxy", 443, "httpsProxy",
                [
                    _route(["https-proxy.acme.io"], "default/https-proxy", persistence={"sourceIP": False, "cookies": [], "headers": ["sticky"]}),
                    _route(["*.acme.io"], "default/wild", path={"type": "prefix", "value": "/api/"}),
                    _route(["*"], "default/wild", path={"type": "exact", "value": "/exact"}),
                ],
                tls=_tls("default/https-proxy", "default/other-cert", cipherSuites=["TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"]),
                auth={"basic": {"secretRef": "default/base-users", "sha256": "0" * 64}},
            )
        ],
        "backendPools": [
            _pool("default/https-proxy", [{"address": "172.18.0.7", "port": 8080}, {"address": "172.18.0.8", "port": 8080, "weight": 2},
                                          {"address": "172.18.0.9", "port": 8080, "status": "Draining"}],
                  algorithm="consistentHashing", tableSize=65537, healthCheck=HC_HTTP),
            _pool("default/wild", [{"address": "172.18.1.1", "port": 80}], algorithm="leastRequest", connectTimeoutSeconds=2),
        ],
    },
    "https-mtls": {
        "listeners": [
            _listener("default/mtls", 8443, "httpsProxy", [_route(["mtls.acme.io"], "default/app", persistence={"sourceIP": False, "cookies": ["session"], "headers": []})],
                      tls=_tls("default/https-proxy", minVersion="TLSv1.3", maxVersion="TLSv1.3",
                               clientValidation={"caSecretRef": "default/client-ca", "sha256": "0" * 64, "subjectAlternativeNames": ["client.acme.io"]}))
        ],
        "backendPools": [_pool("default/app", [{"address": "172.18.0.7", "port": 8080}], algorithm="consistentHashing")],
    },
    "http": {
        "listeners": [
            _listener("web/site", 80, "httpProxy", [
                _route(["www.example.org", "example.org"], "web/site", path={"type": "prefix", "value": "/"}),
                _route(["www.example.org"], "web/api", path={"type": "prefix", "value": "/api"}),
            ], proxy={"version": 2})
        ],
        "backendPools": [
            _pool("web/site", [{"address": "10.0.0.2", "port": 80}, {"address": "10.0.0.1", "port": 80}],
                  healthCheck=dict(HC_HTTP, http={"path": "/ready", "method": "HEAD", "host": "site.local", "expectedStatusCodes": [200, 204]})),
            _pool("web/api", [{"address": "10.0.1.1", "port": 8080}], algorithm="consistentHashing",
                  healthCheck=HC_TCP),
        ],
    },
    "tls-passthrough": {
        "listeners": [
            _listener("default/deathstar", 443, "tlsPassthrough", [
                _route(["deathstar.empire.galaxy"], "default/deathstar"),
                _route(["*.rebels.galaxy"], "default/rebels", persistence={"sourceIP": True, "cookies": [], "headers": []}),
            ])
        ],
        "backendPools": [
            _pool("default/deathstar", [{"address": "172.18.0.20", "port": 443}], healthCheck=HC_TCP),
            _pool("default/rebels", [{"address": "172.18.0.21", "port": 443}], algorithm="consistentHashing"),
        ],
    },
    "tls-proxy": {
        "listeners": [
            _listener("default/db", 5433, "tlsProxy", [_route(["db.acme.io"], "default/db"), _route([], "default/db-default")],
                      tls=_tls("default/https-proxy"))
        ],
        "backendPools": [
            _pool("default/db", [{"address": "172.18.0.30", "port": 5432}], healthCheck=HC_TCP),
            _pool("default/db-default", [{"address": "172.18.0.31", "port": 5432}]),
        ],
    },
    "tcp": {
        "listeners": [_listener("default/redis", 6379, "tcpProxy", [_route([], "default/redis")])],
        "backendPools": [_pool("default/redis", [{"address": "172.18.0.40", "port": 6379, "weight": 300}], algorithm="leastRequest", healthCheck=HC_TCP)],
    },
    "udp": {
        "listeners": [_listener("default/dns", 53, "udpProxy", [_route([], "default/dns")], protocol="UDP")],
        "backendPools": [_pool("default/dns", [{"address": "172.18.0.50", "port": 53}])],
    },
    "hostname": {
        "listeners": [_listener("default/ext", 80, "httpProxy", [_route(["ext.acme.io"], "default/ext")])],
        "backendPools": [
            _pool("default/ext", [{"address": "app.internal.example", "port": 8080}], backendType="Hostname",
                  resolvers=[{"ip": "10.96.0.10", "port": 53}, {"ip": "10.96.0.11", "port": 5353}], healthCheck=HC_HTTP)
        ],
    },
    # rate limits, filtering, several persistence keys, HTTP versions; backend TLS with a CA
    # and SNI, PROXY protocol to the backends, TLS-only health checks
    "policies": {
        "listeners": [
            dict(_listener("default/api", 443, "httpsProxy", [
                dict(_route(["api.acme.io"], "default/tls-be", path={"type": "prefix", "value": "/v1"},
                            persistence={"sourceIP": True, "cookies": ["session"], "headers": ["X-User"]}),
                     rateLimit={"limit": 5, "periodSeconds": 10},
                     filtering={"ruleType": "Deny", "rules": [
                         {"sourceCIDR": "192.0.2.0/24", "hostName": None, "path": None, "headers": []},
                         {"sourceCIDR": None, "hostName": {"type": "suffix", "value": "acme.io"},
                          "path": {"type": "exact", "value": "/v1/admin"},
                          "headers": [{"name": "X-Env", "type": "regex", "value": "^(dev|test) it's$"}]}]}),
                dict(_route(["*"], "default/h2"),
                     filtering={"ruleType": "Allow", "rules": [
                         {"sourceCIDR": "10.0.0.0/8", "hostName": None, "path": {"type": "prefix", "value": "/pub"},
                          "headers": [{"name": "X-Key", "type": "exact", "value": "a b#c"}]}]}),
            ], tls=_tls("default/https-proxy")),
                 rateLimit={"limit": 100, "periodSeconds": 1},
                 connectionFiltering={"ruleType": "Allow", "rules": [
                     {"sourceCIDR": "10.0.0.0/8", "hostName": None, "path": None, "headers": []},
                     {"sourceCIDR": "2001:db8::/32", "hostName": None, "path": None, "headers": []}]},
                 httpVersions={"http11": True, "http2": False}),
            dict(_listener("default/sni", 8443, "tlsPassthrough", [
                dict(_route(["a.acme.io"], "default/pp"), rateLimit={"limit": 3, "periodSeconds": 60},
                     filtering={"ruleType": "Allow", "rules": [
                         {"sourceCIDR": "10.1.0.0/16", "hostName": {"type": "exact", "value": "a.acme.io"},
                          "path": None, "headers": []}]}),
                _route(["*"], "default/pp"),
            ]), connectionFiltering={"ruleType": "Deny", "rules": [
                {"sourceCIDR": "198.51.100.7/32", "hostName": None, "path": None, "headers": []}]}),
            dict(_listener("default/raw", 9000, "tcpProxy", [
                dict(_route([], "default/pp"), rateLimit={"limit": 2, "periodSeconds": 5})]),
                 rateLimit={"limit": 50, "periodSeconds": 1}),
        ],
        "backendPools": [
            _pool("default/tls-be", [{"address": "172.18.2.1", "port": 8443}], algorithm="consistentHashing",
                  healthCheck=HC_HTTP, tls={"minVersion": "TLSv1.2", "maxVersion": None,
                                            "cipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"],
                                            "ca": {"secretRef": "default/client-ca", "sha256": "0" * 64},
                                            "serverName": "backend.acme.io"},
                  httpVersions={"http11": True, "http2": True}),
            _pool("default/h2", [{"address": "ext.acme.io", "port": 443}], backendType="Hostname",
                  healthCheck=HC_TCP, tls={"minVersion": None, "maxVersion": None, "cipherSuites": [], "ca": None,
                                           "serverName": None},
                  httpVersions={"http11": False, "http2": True}),
            _pool("default/pp", [{"address": "172.18.2.2", "port": 443}], proxyProtocolVersion=2,
                  healthCheck=dict(HC_TCP, tls={"minVersion": "TLSv1.3", "maxVersion": None, "cipherSuites": [],
                                                "ca": {"secretRef": "default/client-ca", "sha256": "0" * 64},
                                                "serverName": "pp.acme.io"})),
        ],
    },
    # v1 Services of type LoadBalancer sharing a VIP (one listener per port, key ns/name:port)
    # and a K8sService pool: endpoint addresses from EndpointSlices, IPv6 ones included
    "k8s-services": {
        "listeners": [
            _listener("default/web:80", 80, "tcpProxy", [_route([], "default/web:80")]),
            _listener("default/api:8443", 8443, "tcpProxy", [_route([], "default/api:8443")]),
            _listener("default/echo", 8080, "httpProxy", [_route([], "default/echo")]),
        ],
        "backendPools": [
            _pool("default/web:80", [{"address": "10.244.3.20", "port": 8080},
                                     {"address": "fd00:10:244::20", "port": 8080}], backendType="K8sService"),
            _pool("default/api:8443", [{"address": "10.244.4.30", "port": 9443}], backendType="K8sService"),
            _pool("default/echo", [{"address": "10.244.3.10", "port": 8080}, {"address": "10.244.4.11", "port": 8080}],
                  backendType="K8sService", healthCheck=HC_HTTP),
        ],
    },
    "missing-secrets": {
        "listeners": [
            _listener("default/nocert", 443, "httpsProxy", [_route(["a.io"], "default/p")], tls=_tls("default/absent")),
            _listener("default/noauth", 80, "httpProxy", [_route(["b.io"], "default/p")],
                      auth={"basic": {"secretRef": "default/absent-users", "sha256": "0" * 64}}),
        ],
        "backendPools": [_pool("default/p", [{"address": "172.18.0.60", "port": 80}])],
    },
}  # fmt: skip


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
    """Compile's plan for t2-a with the case's listeners and pools (tests/plankit.py)."""
    return plan_with("t2-a", tier2=copy.deepcopy(CASES[case]))


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


def test_weight_only_change_keeps_skeleton() -> None:
    plan = plan_for("https")
    a = render(model_from_plan(plan), fake_secrets(), BASE, "t2-a")
    plan["tier2"]["backendPools"][0]["backends"][0]["weight"] = 7
    plan["tier2"]["backendPools"][0]["backends"][1]["status"] = "Draining"
    b = render(model_from_plan(plan), fake_secrets(), BASE, "t2-a")
    assert a.config != b.config and skeleton(a.config) == skeleton(b.config)
    plan["tier2"]["backendPools"][0]["backends"].append({"address": "172.18.0.99", "port": 8080, "weight": 1, "status": "Active"})
    c = render(model_from_plan(plan), fake_secrets(), BASE, "t2-a")
    assert skeleton(c.config) != skeleton(b.config)


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


# ---- hostile input straight into the plan: refused with the field named, or escaped


def test_hostile_header_name_is_refused_naming_the_field() -> None:
    plan = plan_for("https")
    route = plan["tier2"]["listeners"][0]["routes"][0]
    route["persistence"]["headers"] = ["sticky\n    server evil 6.6.6.6:80 weight 256"]
    from lbcli.agent.l7.render import L7RenderError

    with pytest.raises(L7RenderError) as e:
        render(model_from_plan(plan), fake_secrets(), BASE, "t2-a")
    msg = str(e.value)
    assert "routes[0] persistentBackend headers[0] name" in msg and "line break" in msg
    assert "evil" not in msg and "\n" not in msg


def test_path_with_quote_is_escaped_not_refused() -> None:
    plan = plan_for("https")
    plan["tier2"]["listeners"][0]["routes"][2]["path"]["value"] = "/it's"
    r = render(model_from_plan(plan), fake_secrets(), BASE, "t2-a")
    assert "path -m str /it\\'s" in r.config


def test_long_names_give_bounded_file_names() -> None:
    plan = plan_for("https")
    long_ref = "default/" + ".".join(["a" * 60] * 4)  # a 243-character name: valid in Kubernetes
    plan["tier2"]["listeners"][0]["tls"]["certificates"][0]["secretRef"] = long_ref
    secrets = fake_secrets()
    secrets[long_ref] = secrets["default/https-proxy"]
    r = render(model_from_plan(plan), secrets, BASE, "t2-a")
    names = [Path(k).name for k in r.files]
    assert max(len(n) for n in names) <= 255 and all("/" not in n and not n.startswith(".") for n in names)
    assert any(n.startswith("cert-default_aaa") for n in names)
