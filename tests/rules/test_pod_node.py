from tests.lintkit import by_rule, line_of, lint_text
from tests.rules._podset import node, pod

RULE = "pod-node"


def test_pod_on_known_node_passes():
    text = node("w1", "192.168.1.1", ["10.0.1.0/24"]) + pod("web", "w1", "10.0.1.5")
    report = lint_text(text)
    assert by_rule(report, "schema") == [] and by_rule(report, RULE) == []


def test_pod_on_unknown_node_is_located():
    text = node("w1", "192.168.1.1", ["10.0.1.0/24"]) + pod("web", "w9", "10.0.1.5")
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "nodeName: w9")
    assert "node w9, which is not a Node of the set (nodes: w1)" in p.message


def test_unscheduled_pods_and_sets_without_nodes_are_not_checked():
    assert by_rule(lint_text(node("w1", "192.168.1.1") + pod("web", None)), RULE) == []
    assert by_rule(lint_text(pod("web", "w9", "10.0.1.5")), RULE) == []
