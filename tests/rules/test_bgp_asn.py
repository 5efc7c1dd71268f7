import textwrap

import pytest

from lbcli.lint.engine import lint
from lbcli.lint.problem import Severity
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import NOW, by_rule, line_of, lint_example, lint_text

RULE = "bgp-asn"

CC = """
apiVersion: isovalent.com/v1
kind: IsovalentBGPClusterConfig
metadata: {name: cc}
spec:
  bgpInstances:
    - name: i0
      localASN: LOCAL
      peers:
        - name: p0
          peerAddress: 192.0.2.1
          peerASN: PEER
          peerConfigRef: {name: pc}
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPPeerConfig
metadata: {name: pc}
spec: PCSPEC
"""


def _cc(local="64512", peer="65001", pcspec="{}") -> str:
    return CC.replace("LOCAL", local).replace("PEER", peer).replace("PCSPEC", pcspec)


def _run(text: str):
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


def rule_only(text: str):
    """This rule without the schema phase (the schema bounds ASNs as well)."""
    text = textwrap.dedent(text).lstrip("\n")
    result = LoadResult()
    result.files.append("test.yaml")
    result.texts["test.yaml"] = text
    load_text("test.yaml", text, result)
    return by_rule(lint(result, now=NOW, only={RULE}), RULE)


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


@pytest.mark.parametrize("local,peer", [("64512", "65001"), ("4200000000", "65001"), ("1", "4294967294"),
                                        ("65534", "64512")])
def test_usable_asns(local, peer):
    assert _run(_cc(local, peer)) == []


def test_peer_asn_zero_warns_that_ibgp_needs_the_asn():
    # Cilium takes the ASN from the peer's OPEN (iBGP or eBGP); BIRD runs it as `external`
    text = _cc(local="4200000000", peer="0")
    [p] = _run(text)
    assert p.severity == Severity.WARNING and p.line == line_of(text, "peerASN")
    assert "peerASN 0" in p.message and "peerASN: 4200000000" in p.message


def test_absent_peer_asn_warns_on_the_peer():
    text = _cc().replace("          peerASN: 65001\n", "")
    [p] = _run(text)
    assert p.severity == Severity.WARNING and p.line == line_of(text, "- name: p0")
    assert "peerASN 0" in p.message


@pytest.mark.parametrize("asn,reason", [("23456", "AS_TRANS"), ("65535", "RFC 7300"),
                                        ("4294967295", "RFC 7300"), ("64496", "documentation"),
                                        ("65551", "documentation")])
def test_reserved_local_asn_warns(asn, reason):
    text = _cc(local=asn)
    [p] = _run(text)
    assert p.severity == Severity.WARNING and p.line == line_of(text, "localASN")
    assert f"localASN {asn} is" in p.message and reason in p.message


def test_reserved_peer_asn_warns():
    text = _cc(peer="23456")
    [p] = _run(text)
    assert p.severity == Severity.WARNING and p.line == line_of(text, "peerASN")
    assert "peerASN 23456 of peer p0 is AS_TRANS" in p.message


def test_out_of_range_is_an_error():
    text = _cc(local="0", peer="4294967296")
    problems = rule_only(text)
    assert [(p.line, p.severity) for p in problems] == [(line_of(text, "localASN"), Severity.ERROR),
                                                        (line_of(text, "peerASN"), Severity.ERROR)]
    assert "localASN 0 is reserved" in problems[0].message
    assert "peerASN 4294967296 of peer p0 is not an AS number (1..4294967295)" in problems[1].message
    [p] = rule_only(_cc(local='"64512"'))
    assert "localASN '64512' is not an AS number" in p.message


def test_ebgp_multihop_on_ibgp_is_ignored():
    text = _cc(local="64512", peer="64512", pcspec="{ebgpMultihop: 4}")
    [p] = _run(text)
    assert p.severity == Severity.WARNING and p.line == line_of(text, "peerConfigRef")
    assert "peer p0 is iBGP (peerASN 64512 = localASN) but IsovalentBGPPeerConfig pc sets ebgpMultihop: 4" in p.message
    # eBGP uses it; iBGP with the default 1 is fine
    assert _run(_cc(local="64512", peer="65001", pcspec="{ebgpMultihop: 4}")) == []
    assert _run(_cc(local="64512", peer="64512", pcspec="{ebgpMultihop: 1}")) == []
