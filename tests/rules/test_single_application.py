import textwrap

from lbcli.lint.engine import lint
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import NOW, by_rule, line_of, lint_example, lint_text

RULE = "single-application"

SVC = """
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: shop, name: web}
spec:
  vipRef: {name: web}
  port: 80
  applications:
APPS"""

TCP = "    tcpProxy:\n      routes: [{backendRef: {name: a}}]\n"
UDP = "    udpProxy:\n      routes: [{backendRef: {name: a}}]\n"


def rule_only(text: str):
    """This rule alone, without the schema phase (which rejects these shapes as well)."""
    text = textwrap.dedent(text).lstrip("\n")
    result = LoadResult()
    result.files.append("test.yaml")
    result.texts["test.yaml"] = text
    load_text("test.yaml", text, result)
    return by_rule(lint(result, now=NOW, only={RULE}), RULE)


def test_examples_have_one_application():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_one_application():
    report = lint_text(SVC.replace("APPS", TCP))
    assert by_rule(report, "schema") == [] and by_rule(report, RULE) == []


def test_two_applications():
    text = SVC.replace("APPS", TCP + UDP)
    [p] = rule_only(text)
    assert p.line == line_of(text, "applications:")
    assert "LBService has 2 applications (tcpProxy, udpProxy)" in p.message


def test_no_application():
    text = SVC.replace("  applications:\nAPPS", "  applications: {}\n")
    [p] = rule_only(text)
    assert p.line == line_of(text, "applications:")
    assert "LBService has no application; add exactly one of httpProxy" in p.message


def test_full_run_reports_two_applications_by_name():
    report = lint_text(SVC.replace("APPS", TCP + UDP))
    assert by_rule(report, "schema") == [] and len(by_rule(report, RULE)) == 1
