"""tls-secret: PEM certificate chain in tls.crt, matching unencrypted key in tls.key."""

from __future__ import annotations

import base64

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from lbcli.lint.engine import lint
from lbcli.manifest.loader import LoadResult, load_text
from tests.certs import make_ca, make_leaf, tls_secret, tls_secret_yaml
from tests.lintkit import NOW, by_rule, line_of, lint_example, lint_text

RULE = "tls-secret"

SERVICE = """\
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata:
  name: web
spec:
  vipRef:
    name: web
  port: 443
  applications:
    httpsProxy:
      tlsConfig:
        certificates:
          - secretRef:
              name: web-cert
      routes:
        - backendRef:
            name: web
---
"""


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def leaf(ca):
    return make_leaf(ca, ["web.acme.io"])


def rule_only(text: str):
    """This rule alone, without the schema phase."""
    result = LoadResult()
    result.files.append("test.yaml")
    result.texts["test.yaml"] = text
    load_text("test.yaml", text, result)
    return lint(result, now=NOW, only={RULE})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=1 << 20)


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough"):
        assert by_rule(lint_example(name), RULE) == []


def test_matching_pair_is_clean(ca, leaf):
    report = lint_text(SERVICE + tls_secret_yaml("web-cert", leaf, ca=ca))
    assert by_rule(report, "schema") == []
    assert by_rule(report, RULE) == []


def test_rsa_pair_with_intermediate_chain_is_clean(ca):
    rsa_leaf = make_leaf(ca, ["web.acme.io"], key_type="rsa")
    assert by_rule(lint_text(SERVICE + tls_secret_yaml("web-cert", rsa_leaf, chain=[ca])), RULE) == []


def test_key_of_another_certificate(ca, leaf):
    other = make_leaf(ca, ["other.acme.io"])
    doc = tls_secret("web-cert", leaf, ca=ca)
    doc["data"]["tls.key"] = b64(other.key_pem)
    text = SERVICE + dump(doc)
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "tls.key:")
    assert "tls.key does not match the certificate in tls.crt (web.acme.io)" in p.message
    assert "Secret default/web-cert (used by LBService default/web)" in p.message


def test_leaf_not_first_in_chain(ca, leaf):
    doc = tls_secret("web-cert", leaf)
    doc["data"]["tls.crt"] = b64(ca.cert_pem + leaf.cert_pem)
    text = SERVICE + dump(doc)
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "tls.key:")
    assert "belongs to certificate 2 of 2 in tls.crt (web.acme.io); put that leaf certificate first" in p.message


def test_bad_base64(ca, leaf):
    doc = tls_secret("web-cert", leaf)
    doc["data"]["tls.crt"] = "abcde"
    text = SERVICE + dump(doc)
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    [p] = by_rule(report, RULE)
    assert p.line == line_of(text, "tls.crt:")
    assert "data.tls.crt is not valid base64" in p.message


def test_string_data_accepted_and_swapped_keys_reported(leaf):
    good = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-cert"},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": leaf.cert_pem.decode(), "tls.key": leaf.key_pem.decode()}}
    assert by_rule(lint_text(SERVICE + dump(good)), RULE) == []
    swapped = dict(good, stringData={"tls.crt": leaf.key_pem.decode(), "tls.key": leaf.cert_pem.decode()})
    text = SERVICE + dump(swapped)
    probs = sorted(by_rule(lint_text(text), RULE), key=lambda p: p.line)
    assert [p.line for p in probs] == [line_of(text, "tls.crt:"), line_of(text, "tls.key:")]
    assert "tls.crt holds a private key, not a certificate" in probs[0].message
    assert "tls.key holds a certificate, not a private key" in probs[1].message


def test_encrypted_key(leaf):
    enc = leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(b"pw"))
    doc = tls_secret("web-cert", leaf)
    doc["data"]["tls.key"] = b64(enc)
    text = SERVICE + dump(doc)
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "tls.key:")
    assert "is encrypted; HAProxy needs an unencrypted private key" in p.message


def test_garbage_certificate_in_unreferenced_secret(leaf):
    doc = tls_secret("spare", leaf)
    doc["data"]["tls.crt"] = b64(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    text = dump(doc)
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "tls.crt:")
    assert "Secret default/spare (not used by any LBService): tls.crt has a PEM certificate that does not parse" in p.message


def test_unreferenced_tls_secret_without_key(leaf):
    # the Secret schema rejects this too; the rule alone still names the missing key
    doc = tls_secret("spare", leaf)
    del doc["data"]["tls.key"]
    text = dump(doc)
    assert by_rule(lint_text(text), "schema")
    [p] = by_rule(rule_only(text), RULE)
    assert p.line == line_of(text, "data:", nth=2)  # after metadata:
    assert "type kubernetes.io/tls needs tls.key" in p.message


def test_secret_content_never_in_messages(ca, leaf):
    other = make_leaf(ca, ["other.acme.io"])
    doc = tls_secret("web-cert", leaf)
    doc["data"]["tls.key"] = b64(other.key_pem)
    for p in lint_text(SERVICE + dump(doc)).problems:
        assert "BEGIN" not in p.message and doc["data"]["tls.key"][:20] not in p.message
