from tests.lintkit import by_rule, line_of, lint_example, lint_text

SET = """
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: VIPNS, name: web}
spec: {}
---
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {namespace: shop, name: web}
spec:
  backendType: IP
  healthCheck: {tcp: {}}
  backends: [{ip: 10.0.0.1, port: 80}]
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: shop, name: web}
spec:
  vipRef:
    name: VIPNAME
  port: 80
  applications:
    httpProxy:
      routes:
        - backendRef: {name: web}
"""


def _set(vip_ns: str = "shop", vip_name: str = "web") -> str:
    return SET.replace("VIPNS", vip_ns).replace("VIPNAME", vip_name)


def test_examples_resolve():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), "ref-vip") == []


def test_same_namespace_resolves():
    report = lint_text(_set())
    assert by_rule(report, "schema") == [] and by_rule(report, "ref-vip") == []


def test_missing_vip_with_suggestion():
    text = _set(vip_name="wbe")
    [p] = by_rule(lint_text(text), "ref-vip")
    assert p.line == line_of(text, "name: wbe")
    assert "LBVIP shop/wbe does not exist" in p.message and "did you mean 'web'" in p.message


def test_vip_in_other_namespace_does_not_resolve():
    text = _set(vip_ns="other")
    [p] = by_rule(lint_text(text), "ref-vip")
    assert p.line == line_of(text, "    name: web")
    assert "LBVIP shop/web does not exist" in p.message
    assert "did you mean" not in p.message
