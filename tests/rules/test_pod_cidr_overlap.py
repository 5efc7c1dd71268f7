from tests.lintkit import by_rule, line_of, lint_text
from tests.rules._podset import node

RULE = "pod-cidr-overlap"


def test_disjoint_cidrs_pass():
    text = node("w1", "192.168.1.1", ["10.0.1.0/24", "fd00:1::/64"]) + node("w2", "192.168.1.2", single="10.0.2.0/24")
    report = lint_text(text)
    assert by_rule(report, "schema") == [] and by_rule(report, RULE) == []


def test_overlap_across_nodes_names_both():
    text = node("w1", "192.168.1.1", ["10.0.1.0/24"]) + node("w2", "192.168.1.2", ["10.0.1.128/25"])
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "10.0.1.128/25")
    assert f"overlaps 10.0.1.0/24 of Node w1 (test.yaml:{line_of(text, '10.0.1.0/24')}:" in p.message


def test_overlap_within_one_node():
    text = node("w1", "192.168.1.1", ["10.0.0.0/16", "10.0.3.0/24"])
    [p] = by_rule(lint_text(text), RULE)
    assert "PodCIDR 10.0.3.0/24 of Node w1 overlaps 10.0.0.0/16 of Node w1" in p.message
