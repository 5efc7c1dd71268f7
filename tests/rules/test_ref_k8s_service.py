from lbcli.lint.problem import Severity
from tests.lintkit import by_rule, line_of, lint_example, lint_text

RULE = "ref-k8s-service"

POOL = """
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {namespace: shop, name: be}
spec:
  backendType: K8sService
  healthCheck: {tcp: {}}
  backends:
    - k8sServiceRef: {name: REF}
      port: PORT
---
apiVersion: v1
kind: Service
metadata: {namespace: shop, name: echo}
spec:
  ports: [{name: http, port: 80, targetPort: http}]
"""
SLICE = """
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: shop, name: echo-1, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.0.0.1], conditions: {ready: READY}}]
"""


def _text(ref="echo", port=80, ready="true", slice_=True) -> str:
    return POOL.replace("REF", ref).replace("PORT", str(port)) + (SLICE.replace("READY", ready) if slice_ else "")


def test_example_resolves():
    assert by_rule(lint_example("k8s-services"), RULE) == []


def test_resolving_reference_is_clean():
    report = lint_text(_text())
    assert by_rule(report, "schema") == [] and by_rule(report, RULE) == []


def test_missing_service_is_an_error_at_the_reference_with_a_suggestion():
    text = _text(ref="ecko")
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.ERROR and p.line == line_of(text, "name: ecko")
    assert "backend 0: Service shop/ecko does not exist (BackendsExist=False); did you mean 'echo'?" in p.message


def test_port_the_service_lacks_is_an_error_at_the_port():
    text = _text(port=8080)
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.ERROR and p.line == line_of(text, "port: 8080", 1)
    assert "Service shop/echo has no port 8080/TCP (it has 80/TCP)" in p.message


def test_no_slices_or_no_ready_endpoint_is_a_warning():
    text = _text(slice_=False)
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.WARNING and p.line == line_of(text, "name: echo}")
    assert "has no EndpointSlice or Endpoints in the set" in p.message
    [p] = by_rule(lint_text(_text(ready="false")), RULE)
    assert p.severity == Severity.WARNING and "no endpoint of Service shop/echo port 80 is ready (EndpointSlice)" in p.message


def test_pools_of_other_types_are_left_to_the_schema():
    text = _text(ref="nope").replace("backendType: K8sService", "backendType: IP")
    report = lint_text(text)
    assert by_rule(report, RULE) == []
    assert any("needed with `backendType: IP`" in p.message for p in by_rule(report, "schema"))


def test_set_without_any_service_warns_instead():
    text = _text(ref="ilb-gui", slice_=False).split("---")[0]  # the pool alone
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.WARNING and p.line == line_of(text, "name: ilb-gui")
    assert "which has no Service at all" in p.message and "compile with --kube" in p.message
