from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text, lint_texts

RULE = "tier-nodes"
NODES = EXAMPLES / "rebel-base" / "nodes.yaml"
VS = EXAMPLES / "rebel-base" / "vip-service.yaml"


def _node(name: str, labels: str) -> str:
    return f"""---
apiVersion: v1
kind: Node
metadata: {{name: {name}, labels: {labels}}}
"""


def _svc(name: str, labels: str = "{}") -> str:
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {{namespace: default, name: {name}, labels: {labels}}}
spec:
  vipRef: {{name: v}}
  port: 80
  applications:
    tcpProxy:
      routes: [{{backendRef: {{name: pool}}}}]
"""


def test_examples_have_both_tiers():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_no_lbservice_no_check():
    report = lint_text(_node("n1", "{a: b}"))
    assert by_rule(report, RULE) == []


def test_rebel_base_without_tier2_nodes():
    nodes = NODES.read_text().replace("service.cilium.io/node: t2", "service.cilium.io/node: t3")
    [p] = by_rule(lint_example("rebel-base", extra={str(NODES): nodes}), RULE)
    assert p.file == str(VS) and p.line == line_of(VS.read_text(), "name: https-proxy", 2)
    assert ("no Node matches the tier-2 selector (service.cilium.io/node In (t2,t1-t2)) of LBService "
            "default/https-proxy; label the proxy nodes service.cilium.io/node=t2") in p.message


def test_nodes_in_no_tier_point_at_first_lbservice_once_per_tier():
    b = _svc("b") + _svc("c")
    report = lint_texts({"a.yaml": _node("n1", "{a: b}") + _svc("a"), "b.yaml": b})
    problems = by_rule(report, RULE)
    assert [(p.file, p.line) for p in problems] == [("a.yaml", line_of(_svc("a"), "name: a") + 4)] * 2
    assert "tier-1 selector" in problems[0].message and "tier-2 selector" in problems[1].message
    assert "(and 2 more LBServices)" in problems[0].message


def test_no_nodes_in_the_set_skips_node_checks_once_at_info():
    # most repositories do not keep Nodes in git: no error, one info naming what was skipped
    report = lint_texts({"a.yaml": _svc("a"), "b.yaml": _svc("b") + _svc("c")})
    [p] = by_rule(report, RULE)
    assert p.severity.name == "INFO" and p.file == "a.yaml"
    assert "no v1 Node" in p.message and "node-dependent checks skipped" in p.message


def test_t1_t2_node_serves_both_tiers():
    report = lint_text(_node("both", '{service.cilium.io/node: t1-t2}') + _svc("a"))
    # both default selectors match the t1-t2 node: no "no Node matches" error, and the node
    # carries out both tiers (tests/e2e/test_datapath_e2e.py), so nothing to warn about
    assert by_rule(report, RULE) == []
    # a t2-only node alone still leaves tier 1 without nodes
    [p] = by_rule(lint_text(_node("only", '{service.cilium.io/node: t2}') + _svc("a")), RULE)
    assert "tier-1 selector" in p.message


DEPLOY = """---
apiVersion: isovalent.com/v1alpha1
kind: LBDeployment
metadata: {namespace: default, name: lab}
spec:
  services:
    labelSelector: {matchLabels: {lab: "yes"}}
  nodes:
    labelSelectors:
      t1: {matchLabels: {role: edge}}
      t2: {matchLabels: {role: proxy}}
"""


def test_lbdeployment_selectors_replace_the_default():
    nodes = _node("e1", "{role: edge}") + _node("p1", "{role: proxy}")
    text = nodes + DEPLOY + _svc("a", labels='{lab: "yes"}')
    report = lint_text(text)
    assert by_rule(report, "schema") == [] and by_rule(report, RULE) == []
    # a service the deployment does not select needs the default tier labels
    text = nodes + DEPLOY + _svc("a", labels='{lab: "yes"}') + _svc("b")
    problems = by_rule(lint_text(text), RULE)
    assert len(problems) == 2 and all("LBService default/b" in p.message for p in problems)
    assert {p.line for p in problems} == {line_of(text, "name: b")}


def test_lbdeployment_selector_without_nodes():
    text = _node("e1", "{role: edge}") + DEPLOY + _svc("a", labels='{lab: "yes"}')
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "name: a,")
    assert "no Node matches the tier-2 selector (role=proxy) of LBService default/a" in p.message
    assert "fix the LBDeployment" in p.message
