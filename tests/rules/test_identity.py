import textwrap

import pytest

from lbcli.lint.config import LintConfig
from lbcli.lint.engine import lint
from lbcli.lint.problem import Severity
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import by_rule, line_of, lint_example, lint_text

RULE = "identity"

NODE = """\
# {comment}
apiVersion: v1
kind: Node
metadata:
  name: {name}
---
apiVersion: v1
kind: Secret
metadata:
  name: ok
  namespace: {ns}
type: Opaque
"""


def _lint(text: str, config: LintConfig | None = None):
    result = LoadResult()
    text = textwrap.dedent(text)
    result.files.append("t.yaml")
    result.texts["t.yaml"] = text
    load_text("t.yaml", text, result)
    return lint(result, config)


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


@pytest.mark.parametrize("name,words", [
    ('"../../x"', "node name '../../x' is not a DNS subdomain"),
    ("Node1", "'Node1' is not a DNS subdomain"),
    ('"a..b"', "is not a DNS subdomain"),
    ('"x\\n"', "'x\\n' is not a DNS subdomain"),
    ('"\\e[31mred"', "'\\x1b[31mred'"),
    ("5", "is an integer, not a string"),
    ('""', "is empty"),
    ("x" * 251, "is 251 characters long (at most 250"),
])
def test_bad_node_names(name, words):
    text = NODE.format(comment="a node", name=name, ns="default")
    found = by_rule(lint_text(text), RULE)
    assert len(found) == 1 and words in found[0].message
    assert found[0].line == line_of(text, "  name: ")
    assert "\x1b" not in found[0].message and "\n" not in found[0].message


def test_bad_namespace_and_missing_name():
    text = NODE.format(comment="x", name="n1", ns="Bad_NS")
    found = by_rule(lint_text(text), RULE)
    assert [p.line for p in found] == [line_of(text, "namespace: Bad_NS")]
    assert "namespace 'Bad_NS' is not a DNS label" in found[0].message
    found = by_rule(lint_text("apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}}\n"), RULE)
    assert len(found) == 1 and "has no metadata.name" in found[0].message
    found = by_rule(lint_text("apiVersion: v1\nkind: Node\n"), RULE)
    assert len(found) == 1 and "has no metadata.name" in found[0].message


def test_good_names_pass():
    assert by_rule(lint_text(NODE.format(comment="x", name="lb-t1-1.example.com", ns="kube-system")), RULE) == []
    assert by_rule(lint_text(NODE.format(comment="x", name="n" * 250, ns="n" * 63)), RULE) == []


@pytest.mark.parametrize("comment", [
    "cilium-lb: ignore-file=all", "cilium-lb: ignore-file=identity,schema", "cilium-lb: ignore-document=all",
])
def test_no_suppression_hides_it(comment):
    report = _lint(NODE.format(comment=comment, name='"../../x"', ns="default"))
    found = by_rule(report, RULE)
    assert len(found) == 1 and found[0].severity == Severity.ERROR
    assert report.summary["invalid"] == 1


def test_inline_suppression_does_not_hide_it():
    text = "apiVersion: v1\nkind: Node\nmetadata:\n  # cilium-lb: ignore=identity,schema\n  name: ../x  # cilium-lb: ignore=all\n"
    assert len(by_rule(_lint(text), RULE)) == 1


def test_config_cannot_switch_it_off_or_down():
    text = NODE.format(comment="x", name='"../../x"', ns="default")
    for sev in (None, Severity.INFO):
        cfg = LintConfig(severities={RULE: sev, "schema": None})
        found = by_rule(_lint(text, cfg), RULE)
        assert len(found) == 1 and found[0].severity == Severity.ERROR


def test_schema_finding_at_the_same_spot_is_not_repeated():
    text = NODE.format(comment="x", name='"../../x"', ns="default")
    report = lint_text(text)
    spot = {(p.line, p.column) for p in by_rule(report, RULE)}
    assert spot and not [p for p in by_rule(report, "schema") if (p.line, p.column) in spot]


def test_unknown_kinds_are_left_to_their_own_rule():
    report = lint_text("apiVersion: isovalent.com/v1alpha1\nkind: LBNothing\nmetadata: {name: ../x}\n")
    assert by_rule(report, RULE) == []
