from tests.lintkit import by_rule, line_of, lint_example, lint_texts

RULE = "vip-double-booked"
POOL = """---
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: p}
spec:
  blocks: [{cidr: 100.64.0.0/24}]
"""


def _vip(name: str, address: str, ann: str = "{}", ns: str = "default") -> str:
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{namespace: {ns}, name: {name}, annotations: {ann}}}
spec: {{ipv4Request: "{address}"}}
"""


def _lbsvc(name: str, vip: str, port: int) -> str:
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {{namespace: default, name: {name}}}
spec:
  vipRef: {{name: {vip}}}
  port: {port}
  applications:
    tcpProxy:
      routes: [{{backendRef: {{name: pool}}}}]
"""


def _svc(name: str, address: str, ports: str = "[{port: 80}]", ann: str = "", labels: str = "{}",
         ns: str = "default") -> str:
    return f"""---
apiVersion: v1
kind: Service
metadata:
  namespace: {ns}
  name: {name}
  labels: {labels}
  annotations:
    lbipam.cilium.io/ips: "{address}"
{ann}spec:
  type: LoadBalancer
  ports: {ports}
"""


def _run(**files: str):
    report = lint_texts({"pool.yaml": POOL, **{f"{k}.yaml": v for k, v in files.items()}})
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


def _key(k: str) -> str:
    return f"    lbipam.cilium.io/sharing-key: {k}\n"


def test_examples_are_not_double_booked():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_many_lbservices_on_one_lbvip_are_fine():
    assert _run(a=_vip("v", "100.64.0.1") + _lbsvc("a", "v", 80) + _lbsvc("b", "v", 443)) == []


def test_two_lbvips_on_one_address():
    b = _vip("w", "100.64.0.1")
    [p] = _run(a=_vip("v", "100.64.0.1"), b=b)
    assert p.file == "b.yaml" and p.line == line_of(b, "ipv4Request")
    assert "100.64.0.1 is already requested by LBVIP default/v (a.yaml:" in p.message
    assert "AddressAlreadyInUse" in p.message and "reference LBVIP default/v from more LBServices" in p.message


def test_lbvip_and_its_own_service_are_one_vip():
    own = _svc("lbvip-v", "100.64.0.1", labels="{loadbalancer.isovalent.com/vip-name: v}")
    assert _run(a=_vip("v", "100.64.0.1") + _lbsvc("a", "v", 80) + own) == []


def test_lbvip_and_foreign_service():
    text = _vip("v", "100.64.0.1") + _lbsvc("a", "v", 80) + _svc("legacy", "100.64.0.1", ports="[{port: 8080}]")
    [p] = _run(a=text)
    assert p.line == line_of(text, "lbipam.cilium.io/ips")
    assert "already requested by LBVIP default/v" in p.message
    assert "sharing needs the same lbipam.cilium.io/sharing-key on both" in p.message


def test_sharing_key_with_disjoint_ports_is_allowed():
    text = (_vip("v", "100.64.0.1", ann="{lbipam.cilium.io/sharing-key: k}") + _lbsvc("a", "v", 443)
            + _svc("legacy", "100.64.0.1", ann=_key("k")))
    assert _run(a=text) == []
    text = (_svc("s1", "100.64.0.2", ann=_key("k")) + _svc("s2", "100.64.0.2", ann=_key("k"),
                                                          ports="[{port: 80, protocol: UDP}]"))
    assert _run(a=text) == []


def test_sharing_key_with_overlapping_ports():
    text = _svc("s1", "100.64.0.2", ann=_key("k")) + _svc("s2", "100.64.0.2", ann=_key("k"))
    [p] = _run(a=text)
    assert p.line == line_of(text, "lbipam.cilium.io/ips", 2)
    assert "already requested by Service default/s1" in p.message
    assert "they share key k but both use 80/TCP" in p.message


def test_different_sharing_keys():
    text = _svc("s1", "100.64.0.2", ann=_key("k")) + _svc("s2", "100.64.0.2", ann=_key("j"), ports="[{port: 81}]")
    [p] = _run(a=text)
    assert "sharing needs the same lbipam.cilium.io/sharing-key" in p.message


def test_cross_namespace_sharing_needs_permission():
    s1 = _svc("s1", "100.64.0.2", ann=_key("k"))
    s2 = _svc("s2", "100.64.0.2", ann=_key("k"), ports="[{port: 81}]", ns="other")
    [p] = _run(a=s1 + s2)
    assert "sharing across namespaces needs lbipam.cilium.io/sharing-cross-namespace" in p.message
    allow = "    lbipam.cilium.io/sharing-cross-namespace: \"*\"\n"
    s1 = _svc("s1", "100.64.0.2", ann=_key("k") + allow)
    s2 = _svc("s2", "100.64.0.2", ann=_key("k") + allow, ports="[{port: 81}]", ns="other")
    assert _run(a=s1 + s2) == []
