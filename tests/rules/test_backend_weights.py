"""backend-weights: at least one active backend; no duplicate backends."""

from __future__ import annotations

from lbcli.lint.engine import lint
from lbcli.lint.problem import Severity
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import NOW, by_rule, line_of, lint_example, lint_text

RULE = "backend-weights"


def pool(backends: str, backend_type: str = "IP") -> str:
    return ("apiVersion: isovalent.com/v1alpha1\nkind: LBBackendPool\nmetadata:\n  name: app\nspec:\n"
            f"  backendType: {backend_type}\n  healthCheck:\n    tcp: {{}}\n  backends:\n"
            + "".join(f"    {ln}\n" for ln in backends.splitlines()))


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_one_active_backend_is_enough():
    text = pool("- ip: 10.0.0.1\n  port: 80\n  status: Draining\n- ip: 10.0.0.2\n  port: 80\n"
                "- ip: 10.0.0.1\n  port: 81")
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    assert by_rule(report, RULE) == []


def test_all_draining():
    text = pool("- ip: 10.0.0.1\n  port: 80\n  status: Draining\n- ip: 10.0.0.2\n  port: 80\n  status: Draining")
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.WARNING
    assert p.line == line_of(text, "backends:")
    assert "all 2 backends of LBBackendPool default/app are Draining" in p.message


def test_duplicate_ipv6_written_differently():
    text = pool('- ip: "2001:db8::1"\n  port: 443\n- ip: 10.0.0.9\n  port: 443\n'
                '- ip: "2001:DB8:0::1"\n  port: 443\n  weight: 3')
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "2001:DB8:0::1")
    assert "backend 2 duplicates backend 0 ([2001:db8::1]:443)" in p.message


def test_duplicate_host():
    text = pool("- host: app.acme.io\n  port: 443\n- host: app.acme.io\n  port: 443", backend_type="Hostname")
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "app.acme.io", nth=2)
    assert "backend 1 duplicates backend 0 (app.acme.io:443)" in p.message


def test_duplicate_host_case_insensitive_rule_alone():
    # the schema wants lower-case hosts; the rule alone still compares case-insensitively
    text = pool("- host: app.acme.io\n  port: 443\n- host: App.Acme.IO\n  port: 443", backend_type="Hostname")
    result = LoadResult()
    result.files.append("t.yaml")
    result.texts["t.yaml"] = text
    load_text("t.yaml", text, result)
    [p] = by_rule(lint(result, now=NOW, only={RULE}), RULE)
    assert p.line == line_of(text, "App.Acme.IO")
    assert "backend 1 duplicates backend 0 (app.acme.io:443)" in p.message
