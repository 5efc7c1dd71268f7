"""persistence-hash: persistentBackend only with a consistentHashing pool."""

from __future__ import annotations

import textwrap

from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text

RULE = "persistence-hash"
BACKENDS = EXAMPLES / "rebel-base" / "backends.yaml"
SERVICE = EXAMPLES / "rebel-base" / "vip-service.yaml"


def test_rebel_base_is_clean():
    assert by_rule(lint_example("rebel-base"), RULE) == []


def test_header_persistence_with_least_request_pool():
    backends = BACKENDS.read_text().replace("consistentHashing: {}", "leastRequest: {}")
    assert backends != BACKENDS.read_text()
    report = lint_example("rebel-base", extra={str(BACKENDS): backends})
    [p] = by_rule(report, RULE)
    assert p.file == str(SERVICE)
    assert p.line == line_of(SERVICE.read_text(), "persistentBackend:")
    assert "persistentBackend (headers sticky) needs a consistentHashing pool" in p.message
    assert "LBBackendPool default/https-proxy uses leastRequest" in p.message


TCP = """\
    apiVersion: isovalent.com/v1alpha1
    kind: LBBackendPool
    metadata:
      name: db
    spec:
      backendType: IP
      healthCheck:
        tcp: {}
      backends:
        - ip: 10.0.0.5
          port: 5432
    ---
    apiVersion: isovalent.com/v1alpha1
    kind: LBService
    metadata:
      name: db
    spec:
      vipRef:
        name: db
      port: 5432
      applications:
        tcpProxy:
          routes:
            - backendRef:
                name: db
              persistentBackend:
                sourceIP: SOURCE
    """


def test_source_ip_with_default_round_robin():
    text = TCP.replace("SOURCE", "true")
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "persistentBackend:")
    assert "LBBackendPool default/db uses roundRobin (the default)" in p.message


def test_source_ip_false_hashes_nothing():
    assert by_rule(lint_text(TCP.replace("SOURCE", "false")), RULE) == []


def test_consistent_hashing_pool_is_fine():
    text = TCP.replace("SOURCE", "true").replace(
        "      backends:", "      loadbalancing:\n        algorithm:\n          consistentHashing: {}\n      backends:")
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    assert by_rule(report, RULE) == []


def test_missing_pool_is_left_to_reference_checks():
    text = TCP.replace("SOURCE", "true").replace("name: db\n              persistent", "name: nope\n              persistent")
    text = textwrap.dedent(text)
    assert "name: nope" in text
    assert by_rule(lint_text(text), RULE) == []
