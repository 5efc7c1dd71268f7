"""cert-san: listener certificates cover every route hostName (RFC 6125 wildcards)."""

from __future__ import annotations

import pytest

from lbcli.lint.rules.cert_san import covered
from tests.certs import make_ca, make_leaf, tls_secret_yaml
from tests.lintkit import by_rule, line_of, lint_example, lint_text

RULE = "cert-san"


def service(app: str, hosts: list[str], secrets: list[str]) -> str:
    certs = "".join(f"          - secretRef:\n              name: {s}\n" for s in secrets)
    match = ("          match:\n            hostNames:\n" + "".join(f"              - \"{h}\"\n" for h in hosts)
             if hosts else "")
    return (
        "apiVersion: isovalent.com/v1alpha1\nkind: LBService\nmetadata:\n  name: web\nspec:\n"
        "  vipRef:\n    name: web\n  port: 443\n  applications:\n"
        f"    {app}:\n      tlsConfig:\n        certificates:\n{certs}"
        "      routes:\n        - backendRef:\n            name: web\n" + match
        + "---\n"
    )


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def with_certs(ca, app: str, hosts: list[str], *san_lists: list[str]) -> str:
    names = [f"cert-{i}" for i in range(len(san_lists))]
    text = service(app, hosts, names)
    for name, sans in zip(names, san_lists):
        text += tls_secret_yaml(name, make_leaf(ca, sans)) + "---\n"
    return text


def test_rebel_base_is_clean():
    assert by_rule(lint_example("rebel-base"), RULE) == []


def test_covered():
    assert covered("a.acme.io", ["*.acme.io"])
    assert not covered("a.b.acme.io", ["*.acme.io"])
    assert not covered("acme.io", ["*.acme.io"])
    assert covered("A.Acme.IO", ["a.acme.io"])
    assert covered("*.acme.io", ["*.acme.io"])
    assert not covered("*.acme.io", ["a.acme.io", "b.acme.io"])
    assert covered("*", [])


def test_exact_and_wildcard_hosts_covered(ca):
    text = with_certs(ca, "httpsProxy", ["web.acme.io", "a.shop.acme.io", "*.shop.acme.io", "*"],
                      ["web.acme.io"], ["*.shop.acme.io"])
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    assert by_rule(report, RULE) == []


def test_routes_without_host_names_need_nothing(ca):
    assert by_rule(lint_text(with_certs(ca, "tlsProxy", [], ["web.acme.io"])), RULE) == []


def test_two_level_name_under_wildcard(ca):
    text = with_certs(ca, "httpsProxy", ["a.acme.io", "a.b.acme.io"], ["*.acme.io"])
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, '"a.b.acme.io"')
    assert "hostName a.b.acme.io is not covered by the listener's certificates" in p.message
    assert "a wildcard covers exactly one label" in p.message
    assert "Secret default/cert-0: *.acme.io" in p.message


def test_apex_not_covered_by_its_wildcard(ca):
    text = with_certs(ca, "tlsProxy", ["acme.io"], ["*.acme.io"])
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, '"acme.io"')
    assert "*.acme.io does not cover acme.io itself" in p.message


def test_wildcard_route_needs_wildcard_certificate(ca):
    text = with_certs(ca, "httpsProxy", ["*.acme.io"], ["a.acme.io", "b.acme.io"])
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, '"*.acme.io"')
    assert "hostName *.acme.io needs a wildcard certificate for *.acme.io" in p.message


def test_missing_secret_skips_the_listener(ca):
    text = service("httpsProxy", ["other.acme.io"], ["present", "absent"])
    text += tls_secret_yaml("present", make_leaf(ca, ["web.acme.io"]))
    assert by_rule(lint_text(text), RULE) == []
