"""maglev-prime: prime, supported Maglev table sizes, large enough for the backends."""

from __future__ import annotations

from lbcli.lint.problem import Severity
from lbcli.lint.rules.maglev_prime import nearest, SUPPORTED
from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text

RULE = "maglev-prime"


def pool(algorithm: str, n_backends: int = 2) -> str:
    backends = "".join(f"    - ip: 10.0.{i // 250}.{i % 250 + 1}\n      port: 80\n" for i in range(n_backends))
    return (
        "apiVersion: isovalent.com/v1alpha1\n"
        "kind: LBBackendPool\n"
        "metadata:\n"
        "  name: app\n"
        "spec:\n"
        "  backendType: IP\n"
        "  healthCheck:\n"
        "    tcp: {}\n"
        "  loadbalancing:\n"
        "    algorithm:\n"
        f"{algorithm}"
        "  backends:\n"
        f"{backends}"
    )


def maglev(size: int) -> str:
    return ("      consistentHashing:\n        algorithm:\n          maglev:\n"
            f"            tableSize: {size}\n")


def test_rebel_base_is_clean():
    assert by_rule(lint_example("rebel-base"), RULE) == []


def test_prime_sizes_are_fine():
    for size in (251, 65537, 1000003):
        report = lint_text(pool(maglev(size)))
        assert by_rule(report, "schema") == []
        assert by_rule(report, RULE) == []


def test_composite_size_suggests_nearest_supported_prime():
    text = pool(maglev(65536))
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.ERROR
    assert p.line == line_of(text, "tableSize: 65536")
    assert "maglev tableSize 65536 is not prime; use 65537" in p.message


def test_nearest():
    assert nearest(1000, SUPPORTED) == 1021
    assert nearest(600, SUPPORTED) == 509
    assert nearest(10**6, SUPPORTED) == 131071


def test_small_table_for_many_backends_warns():
    text = pool(maglev(251), n_backends=3)
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.WARNING
    assert p.line == line_of(text, "tableSize: 251")
    assert "below 100 x 3 backends (300)" in p.message and "use 509" in p.message


def test_default_size_warns_at_consistent_hashing_for_huge_pools():
    text = pool("      consistentHashing: {}\n", n_backends=700)
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "consistentHashing")
    assert "maglev table size 65537 is below 100 x 700 backends" in p.message
    assert "use 131071" in p.message


def test_round_robin_pool_is_not_checked():
    assert by_rule(lint_text(pool("      roundRobin: {}\n", n_backends=5)), RULE) == []


CONFIG = EXAMPLES / "rebel-base" / "cilium-config.yaml"


def with_config(line: str):
    text = CONFIG.read_text().rstrip("\n") + f"\n  {line}\n"
    return text, lint_example("rebel-base", extra={str(CONFIG): text})


def test_cilium_config_supported_size_is_fine():
    _, report = with_config('bpf-lb-maglev-table-size: "16381"')
    assert by_rule(report, RULE) == []


def test_cilium_config_rejects_unsupported_sizes():
    text, report = with_config('bpf-lb-maglev-table-size: "65537"')
    [p] = by_rule(report, RULE)
    assert p.line == line_of(text, "bpf-lb-maglev-table-size")
    assert "65537 is not one Cilium supports; use 65521" in p.message
    text, report = with_config('bpf-lb-maglev-table-size: "1000"')
    [p] = by_rule(report, RULE)
    assert "1000 is not prime; use 1021" in p.message


def test_cilium_config_small_for_tier2_nodes():
    # rebel-base has 2 tier-2 nodes; 251 >= 200, so it needs three more to warn
    extra_nodes = "".join(
        f"---\napiVersion: v1\nkind: Node\nmetadata:\n  name: extra-{i}\n  labels:\n"
        f"    service.cilium.io/node: t2\n" for i in range(3))
    text = CONFIG.read_text().rstrip("\n") + '\n  bpf-lb-maglev-table-size: "251"\n'
    report = lint_example("rebel-base", extra={str(CONFIG): text, "more-nodes.yaml": extra_nodes})
    [p] = by_rule(report, RULE)
    assert p.severity == Severity.WARNING
    assert p.line == line_of(text, "bpf-lb-maglev-table-size")
    assert "below 100 x 5 tier-2 nodes (500)" in p.message and "use 509" in p.message
