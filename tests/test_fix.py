"""`cilium-lb fix`: each repair leaves the file clean for its rule and every other byte as it was.

The strongest check breaks a real-world manifest (tests/realworld/) the way people do and
expects fix to give back the published file byte for byte: comments, `--- ` markers, flow
style, quoting, blank lines and all.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.fix import write as fixwrite
from lbcli.lint.engine import lint
from lbcli.lint.registry import rules
from lbcli.manifest.loader import load

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "realworld"
BASICS = (REAL / "ilb-labs-01-basics" / "basics.yaml").read_text()
FLOW = (REAL / "cilium-bgpv2-auto-discovery" / "bgp.yaml").read_text()
SEED_ROUTE = (ROOT / "examples" / "rebel-base" / "vip-service.yaml").read_text()


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, ["fix", *args], input=input)


def findings(path: Path, rule: str) -> list:
    return [p for p in lint(load([str(path)])).problems if p.rule == rule]


def broken(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) >= count, old
    return text.replace(old, new, count)


def fixed(tmp_path: Path, text: str, name: str = "m.yaml", newline: str | None = None) -> tuple[Path, object]:
    path = tmp_path / name
    path.write_bytes(text.encode() if newline is None else text.replace("\n", newline).encode())
    return path, run(str(path))


# -- the rules that repair ------------------------------------------------------------------

def test_registry_says_which_rules_fix():
    assert {r.id for r in rules() if r.fixes} == {"schema", "maglev-prime", "deprecated-annotation"}


@pytest.mark.parametrize("old,new", [("  healthCheck:\n", "  helthCheck:\n"),
                                     ("      port: 8080\n", "      prot: 8080\n")])
def test_misspelt_field_in_real_file_is_renamed_back(tmp_path, old, new):
    path, r = fixed(tmp_path, broken(BASICS, old, new))
    assert path.read_text() == BASICS
    assert "fixed: renamed" in r.stdout
    assert not findings(path, "schema")


def test_flow_style_key_and_quoted_values_stay_as_written(tmp_path):
    text = broken(FLOW, "{ key: bgp, operator: In, values: [ blue ] }", "{ key: bgp, opertor: In, values: [ blue ] }")
    text = broken(text, '    - advertisementType: "Service"', '    - advertisementTyp: "Service"')
    path, r = fixed(tmp_path, text)
    assert path.read_text() == FLOW, r.output
    assert r.stdout.count("fixed: renamed") == 2


def test_missing_backend_type_the_backends_name_is_added_in_place(tmp_path):
    path, r = fixed(tmp_path, broken(BASICS, "  backendType: IP\n", ""))
    assert path.read_text() == BASICS
    assert "added `backendType: IP` to spec" in r.stdout


def test_backend_type_is_not_guessed_from_mixed_backends(tmp_path):
    text = broken(broken(BASICS, "  backendType: IP\n", ""), "    - ip: 192.168.39.222\n", "    - host: b.example.com\n")
    path, r = fixed(tmp_path, text)
    assert path.read_text() == text and r.exit_code == 1
    assert any("backendType" in p.message for p in findings(path, "schema"))


def test_crlf_file_keeps_its_line_endings(tmp_path):
    text = broken(broken(BASICS, "  healthCheck:\n", "  helthCheck:\n"), "  backendType: IP\n", "")
    path, r = fixed(tmp_path, text, newline="\r\n")
    assert path.read_bytes() == BASICS.replace("\n", "\r\n").encode(), r.output


def test_byte_order_mark_and_mode_are_kept(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + broken(BASICS, "  healthCheck:\n", "  helthCheck:\n").encode())
    path.chmod(0o640)
    r = run(str(path))
    assert path.read_bytes() == b"\xef\xbb\xbf" + BASICS.encode(), r.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# -- the seed's `headers` beside `persistentBackend` ----------------------------------------

SEED_BROKEN = broken(SEED_ROUTE, "          persistentBackend:\n            headers:\n              - name: sticky\n",
                     "          persistentBackend:\n          headers:\n              - name: sticky\n")


def test_seed_headers_move_under_persistent_backend(tmp_path):
    path, r = fixed(tmp_path, SEED_BROKEN)
    text = path.read_text()
    assert "          persistentBackend:\n            headers:\n                - name: sticky\n" in text
    assert text.replace("                - name", "              - name") == SEED_ROUTE
    assert not findings(path, "schema")
    assert "moved 'headers' under 'persistentBackend'" in r.stdout


@pytest.mark.parametrize("before,after", [
    # an explicit empty mapping or null is dropped; a trailing comment stays
    ("persistentBackend: {}  # sticky\n          headers:\n          - name: sticky\n",
     "persistentBackend:  # sticky\n            headers:\n            - name: sticky\n"),
    ("persistentBackend: null\n          headers: [{name: sticky}]\n",
     "persistentBackend:\n            headers: [{name: sticky}]\n"),
    # into an existing block mapping, after its last entry, wherever the entry stood
    ("headers:\n          # the header\n          - name: sticky\n          persistentBackend:\n            sourceIP: true\n",
     "persistentBackend:\n            sourceIP: true\n            headers:\n            # the header\n            - name: sticky\n"),
])
def test_nesting_keeps_comments_and_style(tmp_path, before, after):
    route = "          persistentBackend:\n            headers:\n              - name: sticky\n"
    text = broken(SEED_ROUTE, route, "          " + before)
    path, r = fixed(tmp_path, text)
    assert path.read_text() == broken(SEED_ROUTE, route, "          " + after), r.output
    assert not findings(path, "schema")


# -- Maglev sizes, deprecated annotations --------------------------------------------------

POOL = """\
# pools
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {name: p, namespace: default}
spec:
  backendType: IP
  backends: [{ip: 10.0.0.1, port: 80}]   # one
  healthCheck: {tcp: {}}
  loadbalancing:
    algorithm:
      consistentHashing:
        algorithm:
          maglev:
            tableSize: 65536  # was a power of two
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cilium-config
  namespace: kube-system
data:
  bpf-lb-maglev-table-size: "16380"
"""


def test_maglev_sizes_become_the_nearest_supported_prime(tmp_path):
    path, r = fixed(tmp_path, POOL)
    assert path.read_text() == POOL.replace("65536", "65537").replace('"16380"', '"16381"'), r.output
    assert not findings(path, "maglev-prime")


SVC = """\
apiVersion: v1
kind: Service
metadata:
  name: s
  annotations:
    io.cilium/lb-ipam-ips: "100.64.0.7"   # keep me
    'io.cilium/lb-ipam-sharing-key': shared
spec:
  type: LoadBalancer
  ports: [{port: 80}]
"""


def test_deprecated_annotations_are_renamed_with_their_quoting(tmp_path):
    path, r = fixed(tmp_path, SVC)
    assert path.read_text() == SVC.replace("io.cilium/lb-ipam-ips", "lbipam.cilium.io/ips").replace(
        "'io.cilium/lb-ipam-sharing-key'", "'lbipam.cilium.io/sharing-key'"), r.output
    assert not findings(path, "deprecated-annotation")


def test_deprecated_annotation_beside_the_current_one_is_left_to_the_user(tmp_path):
    text = SVC.replace("    'io.cilium/lb-ipam-sharing-key': shared\n", "    lbipam.cilium.io/ips: 100.64.0.8\n")
    path, r = fixed(tmp_path, text)
    assert path.read_text() == text
    assert findings(path, "deprecated-annotation")


# -- documents, anchors, passes -------------------------------------------------------------

def test_several_documents_each_fixed_the_rest_untouched(tmp_path):
    text = broken(BASICS, "  port: 8080\n", "  prot: 8080\n") + "---\n" + POOL
    want = BASICS + "---\n" + POOL.replace("65536", "65537").replace('"16380"', '"16381"')
    path, r = fixed(tmp_path, text)
    assert path.read_text() == want, r.output


def test_anchored_mapping_is_not_edited_through_an_alias(tmp_path):
    text = POOL.replace("  healthCheck: {tcp: {}}\n", "  healthCheck: &hc {tcp: {}, intervalSecond: 5}\n")
    path, r = fixed(tmp_path, text)
    # the anchored mapping could be shared: the misspelling stays reported (and the pool,
    # invalid, is not checked further); the ConfigMap is fixed
    assert path.read_text() == text.replace('"16380"', '"16381"')
    assert r.exit_code == 1 and findings(path, "schema")


def test_anchors_elsewhere_are_kept_byte_for_byte(tmp_path):
    text = POOL.replace("  backends: [{ip: 10.0.0.1, port: 80}]   # one\n",
                        "  backends:\n  - &b {ip: 10.0.0.1, port: 80}\n  - *b\n").replace("tableSize: 65536", "tableSize: 1000")
    path, r = fixed(tmp_path, text)
    assert path.read_text() == text.replace("tableSize: 1000", "tableSize: 1021").replace('"16380"', '"16381"'), r.output


def test_second_run_changes_nothing_and_exits_clean(tmp_path):
    path, r = fixed(tmp_path, broken(BASICS, "  healthCheck:\n", "  helthCheck:\n"), name="basics.yaml")
    first = path.read_bytes()
    r2 = run(str(path))
    assert path.read_bytes() == first
    assert "fixed" not in r2.stdout


# -- --diff, exit codes ---------------------------------------------------------------------

def test_diff_previews_without_writing(tmp_path):
    text = broken(BASICS, "  healthCheck:\n", "  helthCheck:\n")
    path = tmp_path / "m.yaml"
    path.write_text(text)
    r = run("--diff", str(path))
    assert path.read_text() == text
    assert "-  helthCheck:\n+  healthCheck:\n" in r.stdout
    assert r.stdout.startswith(f"--- {path}\n+++ {path}\n@@ ")
    assert "would fix" not in r.stdout  # the log goes to stderr; stdout is a patch
    import subprocess

    patch = tmp_path / "p.diff"
    patch.write_text(r.stdout)
    subprocess.run(["patch", "-s", "-p0", "-i", str(patch)], cwd="/", check=True)
    assert path.read_text() == BASICS


def test_exit_codes(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "m.yaml").write_text(POOL)
    assert run(str(clean)).exit_code == 0  # everything it found it fixed
    assert run(str(clean)).exit_code == 0
    path = tmp_path / "b.yaml"
    path.write_text(SEED_BROKEN)
    assert run(str(path)).exit_code == 1  # fixed, but the route's pool is not in this set
    assert run(str(tmp_path / "missing.yaml")).exit_code == 2
    assert run("-", input=POOL).exit_code == 2  # stdin cannot be rewritten
    r = run("--diff", "-", input=POOL)
    assert r.exit_code == 0 and "+            tableSize: 65537" in r.stdout


def test_secret_values_never_appear_in_the_diff(tmp_path):
    secret = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\n  annotations:\n"
              "    last-applied: '{\"stringData\": {\"tls.key\": \"HUNTER2\"}}'\ntype: kubernetes.io/tls\n"
              "strinData:\n  tls.crt: |\n    -----BEGIN CERTIFICATE-----\n    SEKRETCERT\n    -----END CERTIFICATE-----\n"
              "  tls.key: \"HUNTER2\"\n")
    path = tmp_path / "s.yaml"
    path.write_text(secret)
    r = run("--diff", str(path))
    assert "-strinData:\n+stringData:\n" in r.stdout
    for value in ("HUNTER2", "SEKRETCERT"):
        assert value not in r.output
    assert "BEGIN" not in r.stdout
    assert "   tls.crt: <redacted>\n" in r.stdout
    run(str(path))
    assert path.read_text() == secret.replace("strinData", "stringData")


# -- safe writes, hostile input -------------------------------------------------------------

def test_symlink_is_not_written_through(tmp_path):
    target = tmp_path / "real.yaml"
    target.write_text(broken(BASICS, "  healthCheck:\n", "  helthCheck:\n"))
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    before = target.read_text()
    r = run(str(link))
    assert r.exit_code == 2 and "symbolic link" in r.output
    assert target.read_text() == before and link.is_symlink()


def test_hard_linked_file_is_refused(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(broken(BASICS, "  healthCheck:\n", "  helthCheck:\n"))
    os.link(path, tmp_path / "b.yaml.bak")
    r = run(str(path))
    assert r.exit_code == 2 and "hard links" in r.output


def test_fifo_is_never_opened(tmp_path):
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    r = run(str(fifo))  # would block forever if opened
    assert r.exit_code == 1 and "FIFO" in r.output


def test_file_changed_after_reading_is_not_overwritten(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("a: 2\n")
    with pytest.raises(fixwrite.WriteError, match="changed while being fixed"):
        fixwrite.rewrite(str(path), "a: 1\n", "a: 3\n")
    assert path.read_text() == "a: 2\n"
    assert os.listdir(tmp_path) == ["m.yaml"]  # no temporary file left behind


def test_alias_bomb_is_refused_before_ruamel_parses(tmp_path, monkeypatch):
    from lbcli.fix import document

    calls = []
    real = document._compose
    monkeypatch.setattr(document, "_compose", lambda body: calls.append(body) or real(body))
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))
    text = broken(BASICS, "  healthCheck:\n", "  helthCheck:\n") + "---\n" + bomb
    path = tmp_path / "m.yaml"
    path.write_text(text)
    r = run(str(path))
    assert "alias" in r.output and r.exit_code == 1
    assert path.read_text() == BASICS + "---\n" + bomb  # the sane document is still fixed
    assert all("*a" not in body for body in calls)


def test_only_unambiguous_repairs_are_offered():
    from lbcli.lint.rules.schema import _repair

    obj = {"properties": {"port": {}, "part": {}, "pool": {"type": "object", "properties": {"size": {}}},
                          "items": {"type": "array", "items": {"type": "object", "properties": {"name": {}}}}}}
    assert _repair("prt", obj, obj) is None  # two close spellings: the user must choose
    assert _repair("portt", obj, obj) == ("rename", "port")
    assert _repair("size", obj, obj) == ("nest", "pool")
    assert _repair("name", obj, obj) is None  # belongs in list items: not a mapping to nest into
