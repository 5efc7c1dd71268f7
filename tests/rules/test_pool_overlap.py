import pytest

from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text, lint_texts

RULE = "pool-overlap"


def _pool(name: str, blocks: str, extra: str = "") -> str:
    return f"""---
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {{name: {name}}}
spec:
{extra}  blocks:
{blocks}"""


def _run(text: str):
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


def test_examples_do_not_overlap():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_adjacent_blocks_and_families_do_not_overlap():
    text = (_pool("a", "    - cidr: 10.0.0.0/25\n    - start: 10.0.0.128\n      stop: 10.0.0.200\n")
            + _pool("b", "    - cidr: 10.0.0.201/32\n    - cidr: \"2001:db8::/64\"\n")
            + _pool("c", "    - start: 10.0.0.202\n"))
    assert _run(text) == []


@pytest.mark.parametrize("second,needle", [
    ("    - cidr: 10.0.0.128/25\n", "10.0.0.128/25"),
    ("    - start: 10.0.0.255\n      stop: 10.0.1.5\n", "start: 10.0.0.255"),
    ("    - start: 10.0.0.77\n", "start: 10.0.0.77"),
    ("    - cidr: 10.0.0.0/16\n", "10.0.0.0/16"),
])
def test_across_pools(second, needle):
    text = _pool("a", "    - cidr: 10.0.0.0/24\n") + _pool("b", second)
    [p] = _run(text)
    assert p.line == line_of(text, needle)
    assert "overlaps block 10.0.0.0/24 of pool a (test.yaml:" in p.message
    assert "Conflicting" in p.message


def test_within_one_pool():
    text = _pool("a", "    - cidr: 10.0.0.0/24\n    - cidr: 10.0.1.0/24\n    - cidr: 10.0.1.64/26\n")
    [p] = _run(text)
    assert p.line == line_of(text, "10.0.1.64/26")
    assert p.message == "block 10.0.1.64/26 overlaps block 10.0.1.0/24 of the same pool"


def test_disabled_pools_count():
    a = _pool("a", "    - cidr: 10.0.0.0/24\n", extra="  disabled: true\n")
    b = _pool("b", "    - cidr: 10.0.0.0/24\n")
    report = lint_texts({"a.yaml": a, "b.yaml": b})
    [p] = by_rule(report, RULE)
    assert p.file == "b.yaml" and p.line == line_of(b, "cidr:")
    assert f"of pool a (a.yaml:{line_of(a, 'cidr:')})" in p.message


def test_rebel_base_with_an_overlapping_pool():
    extra = _pool("more", "    - cidr: 100.64.0.100/30\n")
    [p] = by_rule(lint_example("rebel-base", extra={"more.yaml": extra}), RULE)
    assert p.file == "more.yaml" and "of pool lb-pool (" + str(EXAMPLES / "rebel-base" / "ippool.yaml") in p.message
