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


def test_same_findings_as_comparing_every_pair():
    """The rule finds overlaps without comparing all pairs; on random sets of nested, equal and
    disjoint CIDRs (both families) it reports exactly what the pairwise reading does: each CIDR
    that overlaps an earlier one, naming the first such in file order."""
    import ipaddress
    import random

    rng = random.Random(16)
    for _ in range(40):
        nets = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.8:
                nets.append(str(ipaddress.ip_network(f"10.{rng.randint(0, 3)}.{rng.randint(0, 3) * 64}.0/{rng.choice((14, 16, 24, 26, 30))}", strict=False)))
            else:
                nets.append(str(ipaddress.ip_network(f"fd00:{rng.randint(0, 2)}::/{rng.choice((32, 48, 64))}", strict=False)))
        groups = [[n] for n in nets]  # one per Node: the schema allows one per family
        text = "".join(node(f"w{k}", f"192.168.1.{k + 1}", g) for k, g in enumerate(groups))
        seen, want = [], []
        for k, g in enumerate(groups):
            for c in g:
                net = ipaddress.ip_network(c)
                hit = next(((o, ok) for o, ok in seen if o.version == net.version and o.overlaps(net)), None)
                if hit:
                    want.append(f"PodCIDR {net} of Node w{k} overlaps {hit[0]} of Node w{hit[1]}")
                seen.append((net, k))
        got = [p.message.split(" (")[0] for p in by_rule(lint_text(text), RULE)]
        assert sorted(got) == sorted(want), text
