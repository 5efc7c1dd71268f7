import pytest

from tests.lintkit import by_rule, line_of, lint_example, lint_text

HEAD = """
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: shop, name: web}
spec: {}
---
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {namespace: shop, name: pool-a}
spec:
  backendType: IP
  healthCheck: {tcp: {}}
  backends: [{ip: 10.0.0.1, port: 80}]
---
apiVersion: v1
kind: Secret
metadata: {namespace: shop, name: cert}
type: kubernetes.io/tls
data: {tls.crt: QQ==, tls.key: QQ==}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: shop, name: web}
spec:
  vipRef: {name: web}
  port: 443
  applications:
"""

TLS = """      tlsConfig:
        certificates: [{secretRef: {name: cert}}]
"""

APPS = {
    "httpProxy": "",
    "httpsProxy": TLS,
    "tlsPassthrough": "",
    "tlsProxy": TLS,
    "tcpProxy": "",
    "udpProxy": "",
}


def _service(app: str, *backends: str) -> str:
    body = f"    {app}:\n" + APPS[app] + "      routes:\n"
    for b in backends:
        body += f"        - backendRef:\n            name: {b}\n"
    return HEAD + body


def test_examples_resolve():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), "ref-backend") == []


@pytest.mark.parametrize("app", sorted(APPS))
def test_existing_pool_resolves(app):
    report = lint_text(_service(app, "pool-a"))
    assert by_rule(report, "schema") == [] and by_rule(report, "ref-backend") == []


@pytest.mark.parametrize("app", sorted(APPS))
def test_missing_pool_in_every_application_type(app):
    text = _service(app, "pool-b")
    [p] = by_rule(lint_text(text), "ref-backend")
    assert p.line == line_of(text, "name: pool-b")
    assert f"route 0 of {app}: LBBackendPool shop/pool-b does not exist" in p.message
    assert "did you mean 'pool-a'" in p.message


def test_each_missing_route_reported_at_its_line():
    text = _service("httpProxy", "pool-a", "nope-one", "pool-a", "nope-two")
    problems = by_rule(lint_text(text), "ref-backend")
    assert [p.line for p in problems] == [line_of(text, "nope-one"), line_of(text, "nope-two")]
    assert "route 1 of httpProxy" in problems[0].message
    assert "route 3 of httpProxy" in problems[1].message


def test_pool_in_other_namespace_does_not_resolve():
    text = _service("tcpProxy", "pool-a").replace("{namespace: shop, name: pool-a}",
                                                   "{namespace: other, name: pool-a}")
    [p] = by_rule(lint_text(text), "ref-backend")
    assert p.line == line_of(text, "            name: pool-a")
    assert "LBBackendPool shop/pool-a does not exist" in p.message
