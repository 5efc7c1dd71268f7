"""healthcheck-timeout: timeout within interval; failure detection within a limit."""

from __future__ import annotations

from lbcli.lint.config import LintConfig
from lbcli.lint.engine import lint
from lbcli.lint.problem import Severity
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import NOW, by_rule, line_of, lint_example, lint_text

RULE = "healthcheck-timeout"


def pool(health: str) -> str:
    return (
        "apiVersion: isovalent.com/v1alpha1\nkind: LBBackendPool\nmetadata:\n  name: app\nspec:\n"
        "  backendType: IP\n  healthCheck:\n"
        + "".join(f"    {ln}\n" for ln in health.splitlines())
        + "    http:\n      path: /health\n"
        "  backends:\n    - ip: 10.0.0.1\n      port: 80\n"
    )


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_defaults_and_equal_values_are_fine():
    for hc in ("", "intervalSeconds: 5\ntimeoutSeconds: 5"):
        report = lint_text(pool(hc))
        assert by_rule(report, "schema") == []
        assert by_rule(report, RULE) == []


def test_timeout_above_interval():
    text = pool("intervalSeconds: 2\ntimeoutSeconds: 5")
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.ERROR
    assert p.line == line_of(text, "timeoutSeconds: 5")
    assert "timeoutSeconds 5 is above intervalSeconds 2" in p.message


def test_default_timeout_above_short_interval_points_at_interval():
    text = pool("intervalSeconds: 3")
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "intervalSeconds: 3")
    assert "timeoutSeconds 5 (default) is above intervalSeconds 3" in p.message


def test_slow_detection_warns():
    text = pool("intervalSeconds: 60\nunhealthyThreshold: 10")
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.WARNING
    assert p.line == line_of(text, "unhealthyThreshold: 10")
    assert "a dead backend is taken out only after unhealthyThreshold 10 x intervalSeconds 60 = 600 s" in p.message


def test_slow_recovery_with_default_threshold_points_at_interval():
    text = pool("intervalSeconds: 200\ntimeoutSeconds: 5")
    probs = by_rule(lint_text(text), RULE)
    assert {p.line for p in probs} == {line_of(text, "intervalSeconds: 200")}
    msgs = " ".join(p.message for p in probs)
    assert "healthyThreshold 2 x intervalSeconds 200 = 400 s" in msgs
    assert "unhealthyThreshold 2 x intervalSeconds 200 = 400 s" in msgs


def test_limit_option():
    text = pool("intervalSeconds: 30\nunhealthyThreshold: 5")
    assert by_rule(lint_text(text), RULE) == []
    result = LoadResult()
    result.files.append("t.yaml")
    result.texts["t.yaml"] = text
    load_text("t.yaml", text, result)
    report = lint(result, config=LintConfig(options={RULE: {"max-detection-seconds": 120}}), now=NOW)
    [p] = by_rule(report, RULE)
    assert p.line == line_of(text, "unhealthyThreshold: 5")
    assert "150 s (more than 120 s)" in p.message
