"""Secrets never leave: marker secrets planted in every secret-bearing position, inside
deliberately broken manifests, never appear in any output of validate (every format),
compile (files and stdout) or diff; plans hold no digest that can be checked cheaply.

Every marker is random per run, and each broken position is asserted to have been reported
(a finding on its line), so a message about it was written: the test sees the message and
checks it does not quote the value.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rebel-base"
FORMATS = ("text", "json", "sarif", "github", "junit")


def run(*args: str):
    r = CliRunner().invoke(app, ["--color", "never", *args])
    out = r.stdout
    try:
        out += r.stderr
    except (ValueError, AttributeError):  # click < 8.2 mixes stderr into stdout
        pass
    return r.exit_code, out + (repr(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")


class Markers:
    """One unique marker per position; `numeric` ones are digit strings (YAML numbers)."""

    def __init__(self) -> None:
        self.by_pos: dict[str, str] = {}

    def new(self, pos: str, numeric: bool = False) -> str:
        m = str(secrets.randbelow(9 * 10**15) + 10**15) if numeric else f"Mk{secrets.token_hex(8)}Zq"
        self.by_pos[pos] = m
        return m

    def leaks(self, text: str) -> list[str]:
        return [pos for pos, m in self.by_pos.items() if m in text]


def _pem_key(body_marker: str) -> str:
    """A PEM private key block whose base64 body holds the marker verbatim."""
    return ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" + body_marker
            + "\n-----END PRIVATE KEY-----\n")


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + ln + "\n" for ln in text.splitlines())


def valid_set(root: Path, mk: Markers, bgp_password: str) -> Path:
    """rebel-base plus a BGP password Secret (referenced) and an unused Opaque Secret."""
    d = root
    shutil.copytree(EXAMPLE, d)
    bgp = (d / "bgp.yaml").read_text().replace("  bfdProfileRef: router-bfd", "  bfdProfileRef: router-bfd\n  authSecretRef: bgp-auth")
    (d / "bgp.yaml").write_text(bgp)
    token = mk.new("opaque-token")
    (d / "more-secrets.yaml").write_text(f"""\
apiVersion: v1
kind: Secret
metadata: {{name: bgp-auth, namespace: kube-system}}
stringData:
  password: {bgp_password}
---
apiVersion: v1
kind: Secret
metadata: {{name: api-token, namespace: default}}
data:
  token: {base64.b64encode(token.encode()).decode()}
""")
    return d


BROKEN = """\
apiVersion: v1
kind: Secret
metadata: {{name: numeric, namespace: default}}
stringData:
  password: {numeric}
  huge: {huge}
---
apiVersion: v1
kind: Secret
metadata: {{name: raw-pem, namespace: default}}
data:
  tls.key: |
{raw_pem}
---
apiVersion: v1
kind: Secret
metadata: {{name: swapped, namespace: default}}
type: kubernetes.io/tls
stringData:
  tls.crt: |
{swapped_pem}
  tls.key: |
{swapped_pem}
---
apiVersion: v1
kind: Secret
metadata: {{name: clear-users, namespace: default}}
stringData:
  users: |
    rebel:{htpasswd}
    {htpasswd_line}
---
apiVersion: v1
kind: Secret
metadata: {{name: list-value, namespace: default}}
stringData:
  password: [{in_list}]
  stray: {{nested: {in_map}}}
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPPeerConfig
metadata: {{name: wrong-field}}
spec:
  password: {peer_field}
  families: [{{afi: ipv4, safi: unicast}}]
---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{name: pasted, namespace: default}}
spec: {{}}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {{name: pasted, namespace: default}}
spec:
  vipRef: {{name: pasted}}
  port: 8443
  applications:
    httpsProxy:
      tlsConfig:
        certificates: [{{secretRef: {{name: clear-users}}}}]
      auth: {{basic: {{users: {{secretRef: {{name: clear-users}}}}}}}}
      routes:
        - match:
            hostNames:
              - "{host_pem}"
          backendRef: {{name: https-proxy}}
"""


def broken_set(root: Path, mk: Markers) -> tuple[Path, dict[str, tuple[str, int]]]:
    """The valid set with a bad BGP password and broken documents around planted secrets.
    Returns the directory and, per position, (file, line) where a finding must be."""
    bad_bgp = mk.new("bgp-password")
    d = valid_set(root, mk, f'"{bad_bgp}\\"quote"')
    values = {
        "numeric": mk.new("stringData-numeric", numeric=True),
        "huge": mk.new("stringData-huge", numeric=True) * 2,
        "raw_pem": _indent(_pem_key(mk.new("data-raw-pem")), 4),
        "swapped_pem": _indent(_pem_key(mk.new("pem-in-tls.crt")), 4),
        "htpasswd": mk.new("htpasswd-clear"),
        "htpasswd_line": mk.new("htpasswd-no-colon"),
        "in_list": mk.new("list-item"),
        "in_map": mk.new("map-value"),
        "peer_field": mk.new("password-field-on-peer"),
        "host_pem": "-----BEGIN PRIVATE KEY-----" + mk.new("pem-in-hostname"),
    }
    mk.by_pos["stringData-huge"] = values["huge"]
    text = BROKEN.format(**values)
    (d / "broken.yaml").write_text(text)
    # a YAML error inside a Secret: the syntax finding must not quote the line either
    dup = mk.new("duplicate-key")
    unterminated = mk.new("unterminated")
    (d / "syntax.yaml").write_text(f"""\
apiVersion: v1
kind: Secret
metadata: {{name: dup, namespace: default}}
stringData:
  password: {dup}x
  password: {dup}
---
apiVersion: v1
kind: Secret
metadata: {{name: unterminated, namespace: default}}
stringData:
  password: "{unterminated}
""")
    where: dict[str, tuple[str, int]] = {}
    files = {"broken.yaml": text, "more-secrets.yaml": (d / "more-secrets.yaml").read_text(),
             "syntax.yaml": (d / "syntax.yaml").read_text()}
    for pos, m in mk.by_pos.items():
        for name, t in files.items():
            for i, line in enumerate(t.splitlines(), start=1):
                if m in line:
                    where.setdefault(pos, (name, i))
    # every marker is in the input verbatim, or the leak checks below could not fail
    assert set(where) >= set(mk.by_pos) - {"opaque-token"}, set(mk.by_pos) - set(where)
    return d, where


@pytest.fixture
def broken(tmp_path):
    mk = Markers()
    d, where = broken_set(tmp_path / "set", mk)
    return mk, d, where


# positions whose finding sits on the line of the value itself (the others are reported at a
# key or document the value belongs to, checked by the leak assertions alone)
ON_LINE = ("stringData-numeric", "stringData-huge", "data-raw-pem", "bgp-password", "list-item",
           "map-value", "password-field-on-peer", "pem-in-hostname", "duplicate-key")


def test_validate_never_quotes_a_secret_in_any_format(broken):
    mk, d, where = broken
    outputs = {}
    for fmt in FORMATS:
        code, out = run("validate", "-o", fmt, "--no-config", str(d))
        assert code == 1, (fmt, out[-2000:])
        assert not mk.leaks(out), (fmt, mk.leaks(out))
        outputs[fmt] = out
    problems = json.loads(outputs["json"])["problems"]
    located = {(Path(p["file"]).name, p["line"]) for p in problems}
    for pos in ON_LINE:
        f, line = where[pos]
        # the value sits on its key's line or inside a block under it (PEM, flow collections)
        near = {(f, line + k) for k in range(-2, 2)}
        assert located & near, f"no finding reported for {pos} at {f}:{line}: {sorted(located)}"


def test_secret_findings_say_what_is_wrong_and_how_long(broken):
    mk, d, _ = broken
    _, out = run("validate", "-o", "json", "--no-config", str(d))
    msgs = [p["message"] for p in json.loads(out)["problems"] if p["file"].endswith("broken.yaml")]
    numeric = mk.by_pos["stringData-numeric"]
    assert any("stringData.password: must be a string, not a number" in m for m in msgs), msgs
    assert any(f"{len(numeric) * 2} digits" in m for m in msgs), msgs  # the huge one, by length
    assert any("PEM block of" in m and "characters" in m for m in msgs), msgs


def test_compile_never_writes_a_secret(broken, tmp_path):
    mk, d, _ = broken
    out_dir = tmp_path / "plans"
    code, out = run("compile", str(d), "-o", str(out_dir))
    assert code != 0  # the set has errors
    assert not mk.leaks(out), mk.leaks(out)
    for f in out_dir.rglob("*") if out_dir.exists() else []:
        if f.is_file():
            assert not mk.leaks(f.read_text(errors="replace")), f


def _plan_texts(plan_dir: Path) -> str:
    return "".join(f.read_text() for f in sorted(plan_dir.glob("*.json")))


def test_plans_and_diff_hold_no_secret_and_no_cheap_digest(tmp_path):
    mk = Markers()
    pw1, pw2 = mk.new("bgp-password-1"), mk.new("bgp-password-2")
    users = mk.new("htpasswd-password")
    sha = base64.b64encode(hashlib.sha1(users.encode()).digest()).decode()
    d1 = valid_set(tmp_path / "a", mk, pw1)
    d2 = valid_set(tmp_path / "b", Markers(), pw2)
    for d in (d1, d2):
        s = (d / "secrets.yaml").read_text()
        start = s.index("  users: ")
        end = s.index("\n", start)
        (d / "secrets.yaml").write_text(s[:start] + "  users: " + base64.b64encode(f"rebel:{{SHA}}{sha}\n".encode()).decode() + s[end:])
    mk.by_pos["htpasswd-hash"] = sha
    code, out = run("validate", "--no-config", str(d1))
    assert code == 0, out
    p1, p2 = tmp_path / "p1", tmp_path / "p2"
    for d, p in ((d1, p1), (d2, p2)):
        code, out = run("compile", str(d), "-o", str(p))
        assert code == 0, out
        assert not mk.leaks(out)
    plans = _plan_texts(p1) + _plan_texts(p2)
    assert plans and not mk.leaks(plans), mk.leaks(plans)
    # no digest anyone can check a guess against at hash speed: neither the old unsalted
    # SHA-256 scheme, nor a plain hash of the value
    for secret in (pw1.encode(), pw2.encode()):
        old_scheme = hashlib.sha256(b"password" + b"\0" + hashlib.sha256(secret).digest()).hexdigest()
        for cheap in (old_scheme, hashlib.sha256(secret).hexdigest(), hashlib.md5(secret).hexdigest(),
                      hashlib.sha1(secret).hexdigest()):
            assert cheap not in plans
    code, out = run("compile", str(d1), "-o", "-", "--node", _t1_node(p1))
    assert code == 0 and '"auth"' in out, out[-500:]
    assert not mk.leaks(out)
    for fmt in ("text", "json"):
        code, out = run("diff", str(p1), str(p2), "-o", fmt)
        assert code == 1, out  # the password changed: that is a change
        assert "bgp-auth" in out  # ... and it is shown, by reference
        assert not mk.leaks(out), (fmt, mk.leaks(out))


def _t1_node(plan_dir: Path) -> str:
    for f in sorted(plan_dir.glob("*.json")):
        if json.loads(f.read_text()).get("bgp"):
            return f.stem
    raise AssertionError("no tier-1 plan")


def test_plan_digest_is_deterministic_and_detects_change(tmp_path):
    """Byte-identical plans for the same input, a new digest for a new password."""
    mk = Markers()
    pw = mk.new("pw")
    a, b, c = (valid_set(tmp_path / n, Markers(), v) for n, v in (("a", pw), ("b", pw), ("c", pw + "x")))
    outs = []
    for d in (a, b, c):
        p = tmp_path / ("plans-" + d.name)
        code, out = run("compile", str(d), "-o", str(p))
        assert code == 0, out
        node = _t1_node(p)
        outs.append((p / f"{node}.json").read_bytes())
    assert outs[0] == outs[1]
    auth = [json.loads(o)["bgp"]["instances"][0]["peers"][0]["auth"] for o in outs]
    assert auth[0]["secretRef"] == "kube-system/bgp-auth"
    assert auth[0]["sha256"] != auth[2]["sha256"]


def test_a_rule_that_crashes_on_a_secret_does_not_quote_it(monkeypatch):
    from lbcli.lint.rules import basic_auth
    from tests.lintkit import lint_example

    marker = Markers().new("crash")

    def boom(data: bytes):
        raise ValueError(f"cannot parse {marker}")

    monkeypatch.setattr(basic_auth, "problems", boom)
    crashed = [p for p in lint_example("rebel-base").problems if p.rule == "internal-error"]
    assert crashed and "basic-auth" in crashed[0].message and "ValueError" in crashed[0].message
    assert all(marker not in p.message for p in crashed)
