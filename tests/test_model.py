"""lbcli.model: each meaning is defined once, and lint, compile and tier 2 read it alike."""

from __future__ import annotations

import pytest

from lbcli.compile.ipam import allocate
from lbcli.compile.plan import compile_plans
from lbcli.model import htpasswd, ipam, maglev, secrets, tls, tunnel

from .lintkit import by_rule, compiled_json, lint_example, lint_texts

POOL = """
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: p}
spec:
  blocks: [{cidr: 100.64.1.0/28}]
  serviceSelector: SELECTOR
"""


def _vip(name: str, ns: str = "default") -> str:
    return f"""
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{namespace: {ns}, name: {name}}}
spec: {{}}
"""


def _errors(report, refused: str | None = None):
    """Error findings; `refused`: a resource whose not-implemented refusal is expected."""
    return [p for p in report.problems if p.severity.name == "ERROR"
            and not (p.rule == "not-implemented" and p.resource == refused)]


@pytest.mark.parametrize("selector", [
    "{matchLabels: {io.kubernetes.service.namespace: shop}}",
    "{matchLabels: {io.kubernetes.service.name: web}}",
    "{matchLabels: {loadbalancer.isovalent.com/vip-name: web}}",
    "{matchExpressions: [{key: io.kubernetes.service.namespace, operator: In, values: [shop]}]}",
])
def test_pool_selecting_cilium_labels_validates_and_allocates(selector):
    """The bug this package fixes: lint saw Cilium's service labels, the compiler did not."""
    report = lint_texts({"pool.yaml": POOL.replace("SELECTOR", selector), "vip.yaml": _vip("web", "shop")})
    assert _errors(report) == []
    res = allocate(report.index)
    assert res.conditions == [] and res.address("LBVIP/shop/web").startswith("100.64.1.")


def test_pool_selecting_another_namespace_is_refused_by_both():
    sel = "{matchLabels: {io.kubernetes.service.namespace: other}}"
    report = lint_texts({"pool.yaml": POOL.replace("SELECTOR", sel), "vip.yaml": _vip("web", "shop")})
    assert [p.rule for p in _errors(report)] == ["vip-in-pool"]
    assert [c["reason"] for c in allocate(report.index).conditions] == ["NoPool"]


def test_service_with_foreign_load_balancer_class_is_no_claimant():
    svc = """
apiVersion: v1
kind: Service
metadata: {namespace: default, name: s}
spec: {type: LoadBalancer, loadBalancerClass: example.com/other, ports: [{port: 80}]}
"""
    report = lint_texts({"svc.yaml": svc})
    assert ipam.clients(report.index) == [] and allocate(report.index).assignments == {}


def test_cross_namespace_sharing_needs_permission_in_compile_too():
    def svc(ns: str, port: int, allow: str = "") -> str:
        extra = f", lbipam.cilium.io/sharing-cross-namespace: '{allow}'" if allow else ""
        return f"""
apiVersion: v1
kind: Service
metadata: {{namespace: {ns}, name: s, annotations: {{lbipam.cilium.io/ips: 100.64.1.3, lbipam.cilium.io/sharing-key: k{extra}}}}}
spec: {{type: LoadBalancer, ports: [{{port: {port}}}]}}
"""
    pool = POOL.replace("  serviceSelector: SELECTOR\n", "")
    denied = lint_texts({"p.yaml": pool, "a.yaml": svc("a", 80), "b.yaml": svc("b", 81)})
    errors = [p.rule for p in _errors(denied)]
    assert sorted(errors) == ["vip-double-booked"]
    assert [c["reason"] for c in allocate(denied.index).conditions] == ["AddressAlreadyInUse"]
    allowed = lint_texts({"p.yaml": pool, "a.yaml": svc("a", 80, "b"), "b.yaml": svc("b", 81, "a")})
    assert [p.rule for p in _errors(allowed)] == [] and allocate(allowed.index).conditions == []


@pytest.mark.parametrize("text,expected", [
    ("aGVsbG8=", b"hello"),
    ("aGVs\nbG8=\r\n", b"hello"),  # Go's decoder skips CR and LF
    ("aGVsbG8", None),  # missing padding
    ("aGVs bG8=", None),  # a space is not skipped
    ("aGVsbG8=!", None),
    ("", b""),
])
def test_secret_values_decode_as_the_api_server_does(text, expected):
    assert secrets.decode_base64(text) == expected
    body = {"data": {"k": text}}
    v = secrets.value(body, "k")
    assert v.data == expected and (v.error is None) == (expected is not None)
    assert secrets.decoded(body) == ({} if expected is None else {"k": expected})
    assert secrets.value({"data": {"k": text}, "stringData": {"k": "plain"}}, "k").data == b"plain"


USERS = b"""# users
alice:$6$saltsalt$8Pn7mQqZ4v8x0F2Jc2m9z7lS5N5o0cQbVJtq8x7mS2yR3bq0a5pQ1w6eQy9cJkqWg7a8V5u2dQeH6T3yZ8x1.
bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=
carol:$apr1$abc$defghijklmnopqrstuvwx.
dave:use-the-force
erin:{PLAIN}secret
frank:{SHA}short
bad name:$6$x$y
nocolon
alice:$2y$05$abcdefghijklmnopqrstuu5Ae7ZZk9jY1bq0sJtq4mD7Xq1FjZ2D6
"""


def test_htpasswd_lint_and_tier2_accept_the_same_users():
    from lbcli.agent.l7.secrets import parse_htpasswd
    from lbcli.lint.rules.basic_auth import problems

    lines = htpasswd.parse(USERS)
    assert [ln.number for ln in lines] == list(range(2, 11))
    bad_lines = {int(msg.split(":")[0].split()[1]) for msg, sev in problems(USERS) if sev is None}
    lint_ok = {u for u, ln in htpasswd.effective(lines).items() if ln.number not in bad_lines}
    node = parse_htpasswd(USERS)
    accepted = {u for u, _ in node.entries} | {u for u, _ in node.sha1}
    # tier 2 may drop a crypt scheme its libcrypt lacks, never keep one lint refused
    assert accepted <= lint_ok and {"bob"} <= accepted
    assert {"carol", "dave", "erin", "frank", "<invalid name>", "nocolon"} <= set(node.rejected)
    assert dict(node.entries).get("alice", "").startswith("$2y$")  # the last line wins


def test_tls_versions_from_manifest_to_haproxy():
    for manifest, plan in tls.VERSIONS.items():
        assert tls.plan_version(manifest, "x") == plan and tls.haproxy_version(plan) == plan
    assert tls.plan_version(None, tls.DEFAULT_MIN) == "TLSv1.2"
    assert tls.haproxy_version("1.2") is None and tls.haproxy_version(None) is None


def test_one_tunnel_mac_in_compiled_and_lab_plans():
    from lbcli.lab.plans import LabService, node_plans
    from lbcli.lab.topology import Topology

    plans = compiled_json(lint_example("rebel-base").index).plans
    macs = {n["name"]: n["tunnelMac"] for p in plans.values() if p["tier1"] for n in p["tier1"]["t2Nodes"]}
    assert macs and all(mac == tunnel.tunnel_mac(name) for name, mac in macs.items())
    for name, p in plans.items():
        if p["tier2"]:
            assert p["tier2"]["dispatch"]["tunnelMac"] == tunnel.tunnel_mac(name)
    mac = tunnel.tunnel_mac("t2-a")
    assert int(mac.split(":")[0], 16) & 0b11 == 0b10  # locally administered, unicast
    assert mac == tunnel.tunnel_mac("t2-a") != tunnel.tunnel_mac("t2-b")
    lab = node_plans(Topology(), [LabService("default/echo", "100.64.0.101", 8080)])  # compiled: T2s in use
    assert [n["tunnelMac"] for n in lab["t1-a"]["tier1"]["t2Nodes"]] == [tunnel.tunnel_mac("t2-a"), tunnel.tunnel_mac("t2-b")]
    assert lab["t2-b"]["tier2"]["dispatch"]["tunnelMac"] == tunnel.tunnel_mac("t2-b")


def test_maglev_sizes_are_one_table():
    from lbcli.compile import maglev as builder
    from lbcli.lint.rules import maglev_prime

    assert builder.SUPPORTED_SIZES is maglev.SUPPORTED_SIZES is maglev_prime.SUPPORTED
    assert builder.DEFAULT_TABLE_SIZE == maglev.POOL_DEFAULT == 65537
    assert maglev.t1_table_size({}) == 16381 == maglev.T1_DEFAULT
    assert maglev.t1_table_size({"bpf-lb-maglev-table-size": " 4093 "}) == 4093
    assert maglev.t1_table_size({"bpf-lb-maglev-table-size": "lots"}) == maglev.T1_DEFAULT


def test_examples_validate_and_compile_without_conditions():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        report = lint_example(name)
        assert _errors(report) == [], name
        assert compile_plans(report.index).conditions == [], name
    assert by_rule(lint_example("rebel-base"), "vip-in-pool") == []


def test_model_imports_run_one_way():
    """lbcli.model depends on lbcli.manifest only; what a node imports from it (apps, htpasswd,
    tls, tunnel, maglev, the Maglev builder) depends on nothing but the plain grammar module
    and each other (and the builder's optional C accelerator)."""
    import ast
    from pathlib import Path

    root = Path(ipam.__file__).parent
    node_side = {"apps", "htpasswd", "tls", "tunnel", "maglev", "maglev_table", "bgp"}
    for f in sorted(root.glob("*.py")):
        targets = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                targets.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.ImportFrom) and node.module.startswith("lbcli"):
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("lbcli"))
        for t in targets:  # a sibling (".apps"), lbcli.manifest or the plain grammar, nothing else
            assert t.startswith(("..manifest", "..grammar")) or (t.startswith(".") and not t.startswith("..")), (f.name, t)
        if f.stem in node_side:
            assert targets <= {"..grammar", "."} | {f".{m}" for m in node_side}, (f.name, targets)
