"""bgp-password: the TCP-MD5 password BIRD will quote is 1-80 printable ASCII characters
without quotes or backslashes; findings never hold the password."""

from __future__ import annotations

import base64

import pytest

from tests.lintkit import by_rule, line_of, lint_text

RULE = "bgp-password"

PEER = """\
apiVersion: isovalent.com/v1
kind: IsovalentBGPPeerConfig
metadata:
  name: router-peer
spec:
  authSecretRef: bgp-auth
---
apiVersion: v1
kind: Secret
metadata:
  name: bgp-auth
  namespace: kube-system
"""


def with_password(pw: str, encoded: bool = False) -> str:
    if encoded:
        return PEER + f"data:\n  password: {base64.b64encode(pw.encode('latin-1')).decode()}\n"
    import json

    return PEER + f"stringData:\n  password: {json.dumps(pw)}\n"


@pytest.mark.parametrize("pw", ["md5-secret", "a b!#$%&()*+,-./:;<=>?@[]^_`{|}~", "x" * 80, "0"])
def test_passwords_bird_can_quote_pass(pw):
    assert by_rule(lint_text(with_password(pw)), RULE) == []
    assert by_rule(lint_text(with_password(pw, encoded=True)), RULE) == []


@pytest.mark.parametrize("pw, what", [
    ('Zq"Zq', "a double quote"),
    ("Zq'Zq", "a single quote"),
    ("Zq\\Zq", "a backslash"),
    ("Zq\nZq", "a line break"),
    ("Zq\rZq", "a carriage return"),
    ("Zq\tZq", "a tab"),
    ("Zq\x1b[31mZq", "an escape character"),
    ("Zq\x00Zq", "a NUL byte"),
    ("Zq" * 41, "82 characters long"),
])
def test_bad_passwords_are_errors_without_the_value(pw, what):
    for encoded in (False, True):
        text = with_password(pw, encoded)
        (p,) = by_rule(lint_text(text), RULE)
        assert what in p.message and "IsovalentBGPPeerConfig router-peer" in p.message
        assert p.line == line_of(text, "password:")
        assert "Zq" not in p.message  # neither the value nor a part of it


def test_non_ascii_is_refused_by_length_not_value():
    (p,) = by_rule(lint_text(with_password("pässwörd")), RULE)
    assert "non-ASCII" in p.message and "ä" not in p.message


def test_empty_password_is_an_error():
    (p,) = by_rule(lint_text(with_password("")), RULE)
    assert "empty" in p.message


def test_secret_in_configured_namespace_is_checked():
    text = PEER.replace("kube-system", "bgp-secrets") + 'stringData:\n  password: "a\\"b"\n' + """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cilium-config
  namespace: kube-system
data:
  bgp-secrets-namespace: bgp-secrets
"""
    assert len(by_rule(lint_text(text), RULE)) == 1


def test_unused_secret_and_missing_secret_are_not_this_rules_business():
    assert by_rule(lint_text(PEER.split("---")[1] + 'stringData:\n  password: "a\\"b"\n'), RULE) == []
    assert by_rule(lint_text(PEER.split("---")[0]), RULE) == []
