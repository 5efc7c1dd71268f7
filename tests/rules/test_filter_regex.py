"""filter-regex: header regexes of request filters must compile."""

from __future__ import annotations

from tests.lintkit import by_rule, lint_example, lint_text

RULE = "filter-regex"
SVC = """
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: default, name: s}
spec:
  vipRef: {name: v}
  port: 80
  applications:
    httpProxy:
      routes:
        - backendRef: {name: be}
          requestFiltering:
            ruleType: Deny
            rules:
              - headers: [{name: X-Env, value: {regex: 'PATTERN'}}]
"""


def test_examples_are_clean():
    assert by_rule(lint_example("rebel-base"), RULE) == []


def test_good_regex_passes():
    assert by_rule(lint_text(SVC.replace("PATTERN", "^(dev|test)[0-9]+$")), RULE) == []


def test_bad_regex_is_located():
    text = SVC.replace("PATTERN", "^(dev")
    [p] = by_rule(lint_text(text), RULE)
    assert "does not compile" in p.message
    assert "regex:" in text.lstrip("\n").splitlines()[p.line - 1]
