"""backend-type: backends match backendType; addresses and host names parse."""

from __future__ import annotations

import textwrap

from lbcli.lint.engine import lint
from lbcli.lint.problem import Severity
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import NOW, by_rule, line_of, lint_example, lint_text

RULE = "backend-type"


def pool(backend_type: str, backends: str, extra: str = "") -> str:
    return textwrap.dedent("""\
        apiVersion: isovalent.com/v1alpha1
        kind: LBBackendPool
        metadata:
          name: app
        spec:
          backendType: {t}
          healthCheck:
            tcp: {{}}
        {extra}  backends:
        {backends}""").format(t=backend_type, extra=textwrap.indent(extra, "  ") if extra else "",
                               backends=textwrap.indent(textwrap.dedent(backends), "    "))


def rule_only(text: str):
    """This rule alone, without the schema phase: shows what it reports about shapes the
    schema also rejects (defence in depth if the schema is relaxed)."""
    result = LoadResult()
    result.files.append("test.yaml")
    result.texts["test.yaml"] = text
    load_text("test.yaml", text, result)
    return lint(result, now=NOW, only={RULE})


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough"):
        assert by_rule(lint_example(name), RULE) == []


def test_valid_ip_and_hostname_pools():
    text = pool("IP", """\
        - ip: 172.18.0.7
          port: 80
        - ip: "2001:db8::7"
          port: 80
        """) + "---\n" + pool("Hostname", """\
        - host: app.acme.io
          port: 443
        """, extra="dnsResolverConfig:\n  resolvers:\n    - ip: 10.0.0.53\n      port: 53\n").replace("name: app", "name: ext")
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    assert by_rule(report, RULE) == []


def test_invalid_ipv6_that_the_schema_pattern_lets_through():
    text = pool("IP", """\
        - ip: "1::2::3"
          port: 80
        """)
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, '1::2::3')
    assert "not a valid IPv4 or IPv6 address" in p.message


def test_unusable_addresses():
    text = pool("IP", """\
        - ip: 0.0.0.0
          port: 80
        - ip: 224.0.0.5
          port: 80
        - ip: 255.255.255.255
          port: 80
        """)
    probs = by_rule(lint_text(text), RULE)
    got = {(p.line, p.message.split("' ", 1)[1]) for p in probs}
    assert got == {
        (line_of(text, "0.0.0.0"), "is the unspecified address"),
        (line_of(text, "224.0.0.5"), "is a multicast address"),
        (line_of(text, "255.255.255.255"), "is the limited broadcast address"),
    }


def test_hostname_label_too_long_and_ip_literal():
    long = "a" * 64
    text = pool("Hostname", f"""\
        - host: {long}.acme.io
          port: 80
        - host: 10.1.2.3
          port: 80
        """, extra="dnsResolverConfig:\n  resolvers:\n    - ip: 10.0.0.53\n      port: 53\n")
    probs = sorted(by_rule(lint_text(text), RULE), key=lambda p: p.line)
    assert [p.line for p in probs] == [line_of(text, long), line_of(text, "10.1.2.3")]
    assert "label of 64 characters" in probs[0].message
    assert "use backendType IP" in probs[1].message


def test_hostname_without_resolvers_is_a_warning_at_backend_type():
    text = pool("Hostname", """\
        - host: app.acme.io
          port: 443
        """)
    [p] = by_rule(lint_text(text), RULE)
    assert p.severity == Severity.WARNING
    assert p.line == line_of(text, "backendType: Hostname")
    assert "node's resolver" in p.message


def test_bad_resolver_address():
    text = pool("Hostname", """\
        - host: app.acme.io
          port: 443
        """, extra="dnsResolverConfig:\n  resolvers:\n    - ip: 0.0.0.0\n      port: 53\n")
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "- ip: 0.0.0.0")
    assert "resolver ip '0.0.0.0' is the unspecified address" in p.message


def test_host_in_ip_pool_and_resolvers_without_hostname():
    text = pool("IP", """\
        - host: app.acme.io
          port: 80
        """, extra="dnsResolverConfig:\n  resolvers:\n    - ip: 10.0.0.53\n      port: 53\n")
    probs = sorted(by_rule(rule_only(text), RULE), key=lambda p: p.line)
    assert [p.line for p in probs] == [line_of(text, "dnsResolverConfig"), line_of(text, "- host:"),
                                       line_of(text, "- host:")]
    msgs = " | ".join(p.message for p in probs)
    assert "dnsResolverConfig is only used with backendType Hostname (this pool is IP)" in msgs
    assert "does not use 'host'; set 'ip' or use backendType Hostname" in msgs
    assert "backend 0 has no 'ip'" in msgs


def test_ip_in_hostname_pool():
    text = pool("Hostname", """\
        - ip: 10.0.0.1
          host: app.acme.io
          port: 80
        """, extra="dnsResolverConfig:\n  resolvers:\n    - ip: 10.0.0.53\n      port: 53\n")
    [p] = by_rule(rule_only(text), RULE)
    assert p.line == line_of(text, "- ip: 10.0.0.1")
    assert "backendType Hostname does not use 'ip'" in p.message
