from tests.lintkit import by_rule, line_of, lint_example, lint_texts

RULE = "vip-port-unique"


def _vip(name: str, address: str | None = None, ns: str = "default") -> str:
    spec = f"{{ipv4Request: \"{address}\"}}" if address else "{}"
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{namespace: {ns}, name: {name}}}
spec: {spec}
"""


def _svc(name: str, vip: str, port: int, app: str = "tcpProxy", ns: str = "default") -> str:
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {{namespace: {ns}, name: {name}}}
spec:
  vipRef: {{name: {vip}}}
  port: {port}
  applications:
    {app}:
      routes: [{{backendRef: {{name: pool}}}}]
"""


def _run(**files: str):
    report = lint_texts({f"{k}.yaml": v for k, v in files.items()})
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


def test_examples_are_unique():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_different_ports_and_protocols_share_a_vip():
    assert _run(a=_vip("v", "192.0.2.1") + _svc("web", "v", 80) + _svc("tls", "v", 443)
                + _svc("dns-tcp", "v", 53) + _svc("dns-udp", "v", 53, app="udpProxy")) == []


def test_same_port_same_lbvip_across_files():
    b = _svc("other", "v", 80)
    [p] = _run(a=_vip("v", "192.0.2.1") + _svc("web", "v", 80), b=b)
    assert p.file == "b.yaml" and p.line == line_of(b, "port: 80")
    assert "80/TCP on VIP 192.0.2.1 is already served by LBService default/web (a.yaml:" in p.message


def test_two_lbvips_with_the_same_address_are_one_vip():
    text = _vip("v1", "192.0.2.1") + _vip("v2", "192.0.2.1") + _svc("a", "v1", 8080) + _svc("b", "v2", 8080)
    [p] = _run(a=text)
    assert p.line == line_of(text, "port: 8080", 2)
    assert "8080/TCP on VIP 192.0.2.1" in p.message and "LBService default/a" in p.message


def test_unpinned_lbvip_identified_by_name_and_namespace():
    text = (_vip("v") + _vip("v", ns="other") + _svc("a", "v", 80) + _svc("b", "v", 80, ns="other")
            + _svc("c", "v", 80))
    [p] = _run(a=text)
    assert p.line == line_of(text, "port: 80", 3)
    assert "80/TCP on VIP LBVIP default/v is already served by LBService default/a" in p.message


def test_udp_duplicates_are_found_too():
    text = _vip("v", "192.0.2.1") + _svc("a", "v", 53, app="udpProxy") + _svc("b", "v", 53, app="udpProxy")
    [p] = _run(a=text)
    assert "53/UDP" in p.message
