"""basic-auth: htpasswd users with hashes tier 2 can check; never plain text."""

from __future__ import annotations

import base64

from lbcli.lint.problem import Severity
from tests.certs import htpasswd_sha
from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text

RULE = "basic-auth"
SECRETS = EXAMPLES / "rebel-base" / "secrets.yaml"
SHA512 = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
BCRYPT = "$2y$05$" + "abcdefghijklmnopqrstuv" + "0123456789ABCDEFGHIJKLMNOPQRSTU"

SERVICE = """\
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata:
  name: web
spec:
  vipRef:
    name: web
  port: 80
  applications:
    httpProxy:
      auth:
        basic:
          users:
            secretRef:
              name: web-users
      routes:
        - backendRef:
            name: web
---
apiVersion: v1
kind: Secret
metadata:
  name: web-users
stringData:
  users: |
"""


def users(*lines: str) -> str:
    return SERVICE + "".join(f"    {ln}\n" for ln in lines)


def test_rebel_base_is_clean():
    assert by_rule(lint_example("rebel-base"), RULE) == []


def test_supported_schemes_are_clean():
    text = users("# lab users", f"alice:{SHA512}", f"bob:{BCRYPT}", htpasswd_sha("carol", "secret"), "")
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    assert by_rule(report, RULE) == []


def test_clear_text_and_apr1_and_plain():
    text = users(f"alice:{SHA512}", "bob:use-the-force", "carol:$apr1$abcdefgh$0123456789abcdefghijkl",
                 "dave:{PLAIN}secret")
    probs = by_rule(lint_text(text), RULE)
    assert {p.line for p in probs} == {line_of(text, "users: |")}
    msgs = sorted(p.message for p in probs)
    assert len(msgs) == 3
    assert all(m.startswith("Secret default/web-users (used by LBService default/web): line ") for m in msgs)
    assert "line 2: user bob has no password hash (clear text?)" in msgs[0]
    assert "line 3: user carol has Apache's $apr1$ hash, which HAProxy cannot check" in msgs[1]
    assert "line 4: user dave has a clear-text password" in msgs[2]
    for m in msgs:
        assert "use-the-force" not in m and "secret" not in m.split(":", 1)[1].replace("Secret", "")


def test_md5_crypt_and_duplicates_warn():
    text = users("alice:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", f"alice:{SHA512}")
    probs = by_rule(lint_text(text), RULE)
    assert [p.severity for p in probs] == [Severity.WARNING, Severity.WARNING]
    msgs = " | ".join(p.message for p in probs)
    assert "line 1: user alice has an MD5 crypt hash" in msgs
    assert "line 2: user alice is also on line 1; the last line wins" in msgs


def test_des_crypt_and_bad_user_name():
    text = users("alice:abJnggxhB/yWI", f"bad user:{SHA512}")
    msgs = sorted(p.message for p in by_rule(lint_text(text), RULE))
    assert "line 1: user alice has a traditional DES crypt hash" in msgs[0]
    assert "line 2: the user name has characters a HAProxy userlist cannot hold" in msgs[1]


def test_rebel_base_users_in_base64_data():
    bad = base64.b64encode(b"rebel:use-the-force\n").decode()
    original = SECRETS.read_text()
    encoded = original.split("\n  users: ", 1)[1].split("\n", 1)[0]
    text = original.replace(encoded, bad)
    [p] = by_rule(lint_example("rebel-base", extra={str(SECRETS): text}), RULE)
    assert p.file == str(SECRETS)
    assert p.line == line_of(text, "  users: ")
    assert "Secret default/base-users (used by LBService default/https-proxy): line 1: user rebel has no password hash" in p.message


def test_malformed_sha():
    text = users("alice:{SHA}tooshort=")
    [p] = by_rule(lint_text(text), RULE)
    assert "malformed {SHA} hash" in p.message
