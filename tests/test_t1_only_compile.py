"""t1-only and udpProxy services in plans: what compile gives tier 1 (backends, tables, direct
services), what it keeps off tier 2, what BGP announces, and that the two-tier plans of a set
without them keep their bytes. The e2e side is tests/e2e/test_t1_only.py."""

from __future__ import annotations

import base64

import pytest

from lbcli.agent.datapath.reconciler import backend_table_content, desired_from_plan
from lbcli.agent.datapath import layout as L
from lbcli.compile.maglev import build_table
from lbcli.compile.plan import compile_plans, dumps
from lbcli.compile.t1only import backend_id
from lbcli.model.apps import deployment_mode
from lbcli.plan.types import NodePlan

from .lintkit import by_rule, compiled_json, lint_example

VIP2 = "100.64.0.102"


def _extra(mode: str = "t1-only", backends: str = "[{ip: 10.1.0.1, port: 53}, {ip: 10.1.0.2, port: 5353, weight: 2}]",
           app: str = "udpProxy", algo: str = "consistentHashing: {algorithm: {maglev: {tableSize: 251}}}",
           persist: str = "") -> dict[str, str]:
    mode_line = f"        forceDeploymentMode: {mode}\n" if mode else ""
    return {"t1only.yaml": f"""
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{namespace: default, name: dns}}
spec: {{ipv4Request: "{VIP2}"}}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {{namespace: default, name: dns}}
spec:
  vipRef: {{name: dns}}
  port: 53
  applications:
    {app}:
{mode_line}        routes:
          - backendRef: {{name: dns}}
{persist}---
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {{namespace: default, name: dns}}
spec:
  backendType: IP
  backends: {backends}
  healthCheck: {{tcp: {{}}}}
  loadbalancing: {{algorithm: {{{algo}}}}}
"""}


def _compiled(**kw):
    rep = lint_example("rebel-base", _extra(**kw))
    errors = [p for p in rep.problems if p.severity >= 2]
    assert errors == [], [(p.rule, p.message) for p in errors]
    return rep, compiled_json(rep.index)


def test_t1_only_udp_service_reaches_tier1_only():
    rep, c = _compiled()
    # the one finding: tier 1 does not health-check (a warning; the schema requires healthCheck)
    assert [(p.rule, p.field) for p in by_rule(rep, "not-implemented")] != []
    assert all("healthCheck" in p.message for p in by_rule(rep, "not-implemented"))
    t1 = c.plans["lb-t1-1"]["tier1"]
    [svc] = t1["directServices"]
    assert (svc["vip"], svc["port"], svc["protocol"], svc["nat"], svc["hash"]) == (VIP2, 53, "UDP", "snat", "flow")
    assert [s["vip"] for s in t1["services"]] == ["100.64.0.101"]  # the two-tier one only
    table = t1["backendTables"][svc["backendTable"]]
    ids = {(b["ip"], b["port"]): b["id"] for b in t1["backends"]}
    assert set(ids) == {("10.1.0.1", 53), ("10.1.0.2", 5353)}
    # Maglev over the ids (as text), weights honoured: 1:2
    members = sorted([(str(ids[("10.1.0.1", 53)]), 1), (str(ids[("10.1.0.2", 5353)]), 2)])
    raw = base64.b64decode(table["table"])
    assert list(memoryview(raw).cast("H")) == list(build_table(members, 251))
    assert table["backends"] == [int(k) for k, _ in members] and sum(table["slots"]) == 251
    w = dict(zip(table["backends"], table["slots"]))
    assert 1.8 < w[ids[("10.1.0.2", 5353)]] / w[ids[("10.1.0.1", 53)]] < 2.2
    # tier 2 holds neither VIP nor listener of it; BGP announces it from tier 1
    for t2 in ("lb-t2-1", "lb-t2-2"):
        assert VIP2 not in c.plans[t2]["tier2"]["vips"]
        assert all(lst["service"] != "default/dns" for lst in c.plans[t2]["tier2"]["listeners"])
    prefixes = [p["prefix"] for p in c.plans["lb-t1-1"]["bgp"]["instances"][0]["peers"][0]["prefixes"]]
    assert f"{VIP2}/32" in prefixes


def test_node_reads_backend_ids_and_flags_from_the_plan():
    _, c = _compiled(persist="            persistentBackend: {sourceIP: true}\n")
    plan = NodePlan.from_json(c.plans["lb-t1-1"])
    want = desired_from_plan(plan)
    key = (VIP2, 53, "UDP")
    assert want.flags[key] == L.SVC_F_T1_ONLY | L.SVC_F_HASH_SADDR
    assert want.nat == ("192.168.121.11", L.NAT_PORT_MIN, L.NAT_PORT_COUNT)
    assert set(want.backends.values()) == {("10.1.0.1", 53), ("10.1.0.2", 5353)}
    tbl = plan.tier1.backend_tables[0]
    content = memoryview(backend_table_content(tbl)).cast("I")
    assert set(content) == set(want.backends) and len(content) == 251
    # the two-tier service of the same node is unflagged
    assert want.flags.get(("100.64.0.101", 443, "TCP"), 0) == 0


def test_udp_proxy_on_auto_is_t1_only_and_t1_t2_is_refused():
    _, c = _compiled(mode="")
    assert [s["port"] for s in c.plans["lb-t1-1"]["tier1"]["directServices"]] == [53]
    rep = lint_example("rebel-base", _extra(mode="t1-t2"))
    msgs = [p.message for p in by_rule(rep, "not-implemented") if p.severity >= 2]
    assert len(msgs) == 1 and "forceDeploymentMode" in msgs[0] and "TCP only" in msgs[0]


def test_tcp_proxy_on_auto_stays_two_tier():
    class Svc:
        spec = {"applications": {"tcpProxy": {"routes": [{}]}}}
    assert deployment_mode(Svc) == "t1-t2"
    Svc.spec = {"applications": {"tcpProxy": {"forceDeploymentMode": "t1-only", "routes": [{}]}}}
    assert deployment_mode(Svc) == "t1-only"
    Svc.spec = {"applications": {"httpProxy": {"routes": [{}]}}}
    assert deployment_mode(Svc) == "t1-t2"


def test_no_active_backend_no_entry_no_announcement():
    """All backends Draining: tier 1 could serve nothing, so nothing is programmed or announced."""
    _, c = _compiled(backends="[{ip: 10.1.0.1, port: 53, status: Draining}]")
    t1 = c.plans["lb-t1-1"]["tier1"]
    assert "directServices" not in t1 and "backends" not in t1
    prefixes = [p["prefix"] for p in c.plans["lb-t1-1"]["bgp"]["instances"][0]["peers"][0]["prefixes"]]
    assert f"{VIP2}/32" not in prefixes


def test_refused_combinations_are_located():
    rep = lint_example("rebel-base", _extra(algo="leastRequest: {}"))
    [p] = [p for p in by_rule(rep, "not-implemented") if p.severity >= 2]
    assert "leastRequest" in p.message and p.resource == "LBBackendPool/default/dns"


def test_backend_ids_are_stable_when_the_pool_grows():
    _, small = _compiled(backends="[{ip: 10.1.0.1, port: 53}]")
    _, big = _compiled(backends="[{ip: 10.1.0.1, port: 53}, {ip: 10.1.0.3, port: 53}]")
    ids = lambda c: {(b["ip"], b["port"]): b["id"] for b in c.plans["lb-t1-1"]["tier1"]["backends"]}  # noqa: E731
    assert ids(small)[("10.1.0.1", 53)] == ids(big)[("10.1.0.1", 53)]
    assert backend_id("10.1.0.1", 53, set()) == ids(small)[("10.1.0.1", 53)]
    taken = {backend_id("10.1.0.1", 53, set())}
    assert backend_id("10.1.0.1", 53, taken) not in taken  # a collision probes on


def test_sets_without_them_keep_their_plan_bytes():
    """No t1-only key appears in plans of a set without t1-only or udpProxy services."""
    rep = lint_example("rebel-base")
    for name, plan in compile_plans(rep.index).plans.items():
        text = dumps(plan)
        for key in (b'"directServices"', b'"backendTables"', b'"backends": [\n      {\n        "id"'):
            assert key not in text, name


@pytest.mark.parametrize("proto_app", ["tcpProxy", "udpProxy"])
def test_plan_round_trips(proto_app):
    _, c = _compiled(app=proto_app)
    for name, doc in c.plans.items():
        assert NodePlan.from_json(doc).to_json() == doc, name


def test_status_shows_t1_only_services():
    from lbcli.status.model import T1_ONLY_MODE, build_status
    from lbcli.status.table import service_rows

    _, c = _compiled()
    st = build_status({n: NodePlan.from_json(p) for n, p in c.plans.items()})
    [row] = [s for s in st.services if s.name == "dns"]
    assert (row.vip, row.port, row.protocol, row.type) == (VIP2, 53, "UDP", "udpProxy")
    assert row.dispatch_modes == (T1_ONLY_MODE,) and row.t1.total == 2 and row.t2.total == 0
    assert row.hc_t2_b.total == 2 and row.bgp_routes.total == 2
    [text] = [r for r in service_rows(st) if r[1] == "dns"]
    assert text[3] == "53/UDP" and text[4] == "UDP" and text[5] == T1_ONLY_MODE


def test_diff_shows_t1_only_services_and_backend_changes():
    from lbcli.diff import diff_plans

    _, before = _compiled(backends="[{ip: 10.1.0.1, port: 53}]")
    _, after = _compiled(backends="[{ip: 10.1.0.1, port: 53}, {ip: 10.1.0.3, port: 53}]")
    _, none = _compiled(backends="[{ip: 10.1.0.1, port: 53, status: Draining}]")
    node = "lb-t1-1"

    def lines(a, b):
        return [(c.object, c.field, c.action, str(c.new if c.action != "delete" else c.old))
                for c in diff_plans(a.plans[node], b.plans[node], node)]

    grown = lines(before, after)
    assert any(f"{VIP2}:53/UDP" in o and f == "backend" and act == "create" and "10.1.0.3:53" in v
               for o, f, act, v in grown), grown
    gone = lines(before, none)
    assert any(f == f"service {VIP2}:53/UDP" and act == "delete" for _, f, act, _ in gone), gone
    assert lines(before, before) == []


def test_t1_only_over_a_k8s_service_pool_dispatches_to_its_ready_endpoints():
    backends = "[{k8sServiceRef: {name: dns-svc}, port: 53}]"
    extra = _extra(backends=backends, app="tcpProxy")  # pools resolve TCP Service ports
    extra["t1only.yaml"] = extra["t1only.yaml"].replace("backendType: IP", "backendType: K8sService") + """
---
apiVersion: v1
kind: Service
metadata: {namespace: default, name: dns-svc}
spec:
  ports: [{name: dns, port: 53, targetPort: dns}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: default, name: dns-svc-1, labels: {kubernetes.io/service-name: dns-svc}}
addressType: IPv4
ports: [{name: dns, port: 5353}]
endpoints:
  - addresses: [10.1.0.7]
  - addresses: [10.1.0.8]
    conditions: {ready: false}
"""
    rep = lint_example("rebel-base", extra)
    errors = [p for p in rep.problems if p.severity >= 2]
    assert errors == [], [(p.rule, p.message) for p in errors]
    t1 = compiled_json(rep.index).plans["lb-t1-1"]["tier1"]
    [svc] = t1["directServices"]
    assert svc["vip"] == VIP2
    assert {(b["ip"], b["port"]) for b in t1["backends"]} == {("10.1.0.7", 5353)}


def test_udp_t1_only_over_a_k8s_service_pool_reads_the_udp_service_port():
    extra = _extra(backends="[{k8sServiceRef: {name: dns-svc}, port: 53}]")
    extra["t1only.yaml"] = extra["t1only.yaml"].replace("backendType: IP", "backendType: K8sService") + """
---
apiVersion: v1
kind: Service
metadata: {namespace: default, name: dns-svc}
spec:
  ports: [{name: dns, port: 53, protocol: UDP, targetPort: dns}, {name: dns-tcp, port: 53, targetPort: dns-tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: default, name: dns-svc-1, labels: {kubernetes.io/service-name: dns-svc}}
addressType: IPv4
ports: [{name: dns, port: 5353, protocol: UDP}, {name: dns-tcp, port: 5354}]
endpoints:
  - addresses: [10.1.0.7]
"""
    rep = lint_example("rebel-base", extra)
    errors = [p for p in rep.problems if p.severity >= 2]
    assert errors == [], [(p.rule, p.message) for p in errors]
    t1 = compiled_json(rep.index).plans["lb-t1-1"]["tier1"]
    [svc] = t1["directServices"]
    assert (svc["protocol"], {(b["ip"], b["port"]) for b in t1["backends"]}) == ("UDP", {("10.1.0.7", 5353)})
