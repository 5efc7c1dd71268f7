"""filter-regex: header regexes of request filters must compile."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from lbcli.agent.l7.render import _word
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


# PCRE2 (what HAProxy matches with) and Python's re disagree both ways
PCRE2_ONLY = [r"^\p{Lu}+$", r"^(?<env>dev|test)-\k<env>$"]
RE_ONLY = [r"^\N{DIGIT ONE}$"]


@pytest.mark.parametrize("pattern", PCRE2_ONLY)
def test_pcre2_syntax_python_refuses_passes(pattern):
    assert by_rule(lint_text(SVC.replace("PATTERN", pattern)), RULE) == []


@pytest.mark.parametrize("pattern", RE_ONLY)
def test_syntax_only_python_takes_is_refused(pattern):
    [p] = by_rule(lint_text(SVC.replace("PATTERN", pattern)), RULE)
    assert "does not compile" in p.message and "PCRE2" in p.message


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed")
@pytest.mark.parametrize("pattern", PCRE2_ONLY + RE_ONLY + ["^(dev"])
def test_haproxy_agrees_with_the_rule(pattern, tmp_path):
    """The rule's verdict is HAProxy's: the pattern as the renderer writes it (`_word`)."""
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n"
                   "frontend f\n  bind 127.0.0.1:18080\n"
                   f"  http-request deny if {{ req.hdr(x-env) -m reg {_word(pattern)} }}\n")
    accepted = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True).returncode == 0
    assert accepted == (by_rule(lint_text(SVC.replace("PATTERN", pattern)), RULE) == [])
