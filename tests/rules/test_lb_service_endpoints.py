from lbcli.lint.problem import Severity
from tests.lintkit import by_rule, line_of, lint_example, lint_text

RULE = "lb-service-endpoints"

SVC = """
apiVersion: v1
kind: Service
metadata: {namespace: shop, name: web, annotations: {lbipam.cilium.io/sharing-key: k}}
spec:
  type: TYPE
  CLASS
  ports:
    - {name: http, port: 80}
    - {name: dns, port: 53, protocol: UDP}
"""
SLICE = """
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: shop, name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.0.0.1], conditions: {ready: READY}}]
"""


def _text(type_="LoadBalancer", cls="", ready=None) -> str:
    text = SVC.replace("TYPE", type_).replace("  CLASS\n", f"  loadBalancerClass: {cls}\n" if cls else "")
    return text + (SLICE.replace("READY", ready) if ready else "")


def test_example_has_endpoints_for_every_port():
    assert by_rule(lint_example("k8s-services"), RULE) == []


def test_tcp_port_without_endpoints_is_a_warning_at_the_port():
    text = _text()
    [p] = by_rule(lint_text(text), RULE)  # the UDP port is not-implemented's
    assert p.severity == Severity.WARNING and p.line == line_of(text, "port: 80")
    assert "port 80/TCP of Service shop/web has no EndpointSlice or Endpoints in the set" in p.message


def test_ready_endpoint_is_clean_and_none_ready_warns():
    assert by_rule(lint_text(_text(ready="true")), RULE) == []
    [p] = by_rule(lint_text(_text(ready="false")), RULE)
    assert "no endpoint is ready (EndpointSlice)" in p.message


def test_services_cilium_does_not_serve_are_not_checked():
    assert by_rule(lint_text(_text(type_="ClusterIP")), RULE) == []
    assert by_rule(lint_text(_text(cls="example.com/other")), RULE) == []
