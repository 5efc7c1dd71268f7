"""cert-expiry: certificates valid now and for `days` more days (relative to lintkit.NOW)."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from lbcli.lint.config import LintConfig
from lbcli.lint.engine import lint
from lbcli.lint.problem import Severity
from lbcli.manifest.loader import LoadResult, load_text
from tests.certs import make_ca, make_leaf, tls_secret_yaml
from tests.lintkit import NOW, by_rule, line_of, lint_example, lint_text

RULE = "cert-expiry"
DAY = timedelta(days=1)

SERVICE = textwrap.dedent("""\
    apiVersion: isovalent.com/v1alpha1
    kind: LBService
    metadata:
      name: web
    spec:
      vipRef:
        name: web
      port: 443
      applications:
        tlsProxy:
          tlsConfig:
            certificates:
              - secretRef:
                  name: web-cert
          routes:
            - backendRef:
                name: web
    ---
    """)


@pytest.fixture(scope="module")
def ca():
    return make_ca(not_before=NOW - 400 * DAY, not_after=NOW + 3650 * DAY)


def secret_with(ca, **validity) -> str:
    leaf = make_leaf(ca, ["web.acme.io"], **validity)
    return SERVICE + tls_secret_yaml("web-cert", leaf)


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough"):
        assert by_rule(lint_example(name), RULE) == []


def test_long_lived_certificate_is_clean(ca):
    text = secret_with(ca, not_before=NOW - 10 * DAY, not_after=NOW + 90 * DAY)
    assert by_rule(lint_text(text), RULE) == []


def test_expiring_within_30_days_warns(ca):
    text = secret_with(ca, not_before=NOW - 80 * DAY, not_after=NOW + 10 * DAY + timedelta(hours=1))
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.WARNING
    assert p.line == line_of(text, "tls.crt:")
    expected = (NOW + 10 * DAY).strftime("%Y-%m-%d")
    assert f"certificate web.acme.io expires on {expected}" in p.message
    assert "(10 days left)" in p.message
    assert "used by LBService default/web" in p.message


def test_expired_is_an_error(ca):
    text = secret_with(ca, not_before=NOW - 100 * DAY, not_after=NOW - 3 * DAY)
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.ERROR
    assert p.line == line_of(text, "tls.crt:")
    assert "expired on " + (NOW - 3 * DAY).strftime("%Y-%m-%d") in p.message
    assert "(3 days ago)" in p.message


def test_not_yet_valid_is_an_error(ca):
    text = secret_with(ca, not_before=NOW + 2 * DAY, not_after=NOW + 400 * DAY)
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.ERROR
    assert "is not valid before " + (NOW + 2 * DAY).strftime("%Y-%m-%d") in p.message
    assert "(in 2 days)" in p.message


def test_expiring_intermediate_in_chain(ca):
    short_ca = make_ca("short CA", not_before=NOW - 300 * DAY, not_after=NOW + 5 * DAY)
    leaf = make_leaf(short_ca, ["web.acme.io"], not_before=NOW - DAY, not_after=NOW + 300 * DAY)
    text = SERVICE + tls_secret_yaml("web-cert", leaf, chain=[short_ca])
    [p] = by_rule(lint_text(text), RULE)
    assert "certificate short CA (certificate 2 of 2) expires on" in p.message


def test_days_option(ca):
    text = secret_with(ca, not_before=NOW - 80 * DAY, not_after=NOW + 45 * DAY)
    assert by_rule(lint_text(text), RULE) == []
    result = LoadResult()
    result.files.append("t.yaml")
    result.texts["t.yaml"] = text
    load_text("t.yaml", text, result)
    report = lint(result, config=LintConfig(options={RULE: {"days": 60}}), now=NOW)
    [p] = by_rule(report, RULE)
    assert p.line == line_of(text, "tls.crt:")
    assert "(45 days left)" in p.message
