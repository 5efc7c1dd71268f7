from tests.lintkit import by_rule, line_of, lint_text
from tests.rules._podset import node, pod

RULE = "pod-ip-cidr"
NODES = node("w1", "192.168.1.1", ["10.0.1.0/24", "fd00:1::/64"]) + node("w2", "192.168.1.2", single="10.0.2.0/24")


def _run(text):
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


def test_addresses_inside_the_nodes_cidrs_pass():
    assert _run(NODES + pod("a", "w1", "10.0.1.5", ["10.0.1.5", "fd00:1::5"]) + pod("b", "w2", "10.0.2.9")) == []


def test_address_of_another_nodes_cidr_is_reported():
    text = NODES + pod("a", "w2", "10.0.1.5")
    [p] = _run(text)
    assert p.line == line_of(text, "podIP: 10.0.1.5")
    assert "10.0.1.5, outside the PodCIDRs of its node w2 (10.0.2.0/24)" in p.message


def test_family_without_cidr_and_podips_mismatch():
    text = NODES + pod("a", "w2", "10.0.2.5", ["10.0.2.6", "fd00:2::1"])
    msgs = sorted(p.message for p in _run(text))
    assert len(msgs) == 2
    assert "podIPs[0] 10.0.2.6 differs from podIP 10.0.2.5" in msgs[1]
    assert "IPv6 address fd00:2::1, but its node w2 has no IPv6 PodCIDR" in msgs[0]


def test_unknown_node_left_to_pod_node():
    assert _run(NODES + pod("a", "w9", "10.9.9.9")) == []
