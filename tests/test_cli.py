"""The CLI as users and CI pipelines run it: exit codes, output formats, config, suppressions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli import __version__
from lbcli.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
BAD = "apiVersion: isovalent.com/v1alpha1\nkind: LBServce\nmetadata:\n  name: x\n"
TABS = "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n"


def run(*args: str, input: str | None = None, env: dict | None = None):
    return CliRunner().invoke(app, list(args), input=input, env=env)


@pytest.fixture
def bad_dir(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "tabs.yaml").write_text(TABS)
    (tmp_path / "ok.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: p\n")
    return tmp_path


def test_version():
    r = run("--version")
    assert r.exit_code == 0 and __version__ in r.stdout


def test_text_output_grouped_with_summary(bad_dir):
    r = run("--color", "never", "validate", str(bad_dir))
    assert r.exit_code == 1
    assert f"{bad_dir}/bad.yaml:2:7 error   unknown-kind" in r.stdout
    assert f"{bad_dir}/tabs.yaml:4:1 error   yaml-syntax" in r.stdout
    assert "2 resources in 3 files: 0 valid, 2 invalid, 1 skipped" in r.stdout
    assert "\x1b[" not in r.stdout


def test_json_contract(bad_dir):
    r = run("validate", "-o", "json", str(bad_dir))
    assert r.exit_code == 1
    doc = json.loads(r.stdout)  # nothing but JSON on stdout
    assert set(doc) == {"problems", "summary"}
    for p in doc["problems"]:
        assert {"file", "line", "column", "severity", "rule", "message"} <= set(p)
        assert p["line"] >= 1 and p["column"] >= 1 and p["severity"] in ("error", "warning", "info")
    assert doc["summary"]["files"] == 3 and doc["summary"]["skipped"] == 1


def test_sarif_has_results_regions_and_rules(bad_dir, tmp_path):
    r = run("validate", "-o", "sarif", str(bad_dir))
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    ids = [rule["id"] for rule in run0["tool"]["driver"]["rules"]]
    assert "unknown-kind" in ids and "yaml-syntax" in ids
    res = {x["ruleId"]: x for x in run0["results"]}
    region = res["yaml-syntax"]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 1}
    assert ids[res["yaml-syntax"]["ruleIndex"]] == "yaml-syntax"
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "ok.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: p\n")
    doc = json.loads(run("validate", "-o", "sarif", str(clean)).stdout)
    assert doc["runs"][0]["results"] == []


def test_github_annotations_chosen_automatically(bad_dir):
    r = run("validate", str(bad_dir / "bad.yaml"), env={"GITHUB_ACTIONS": "true"})
    assert r.stdout.startswith("::error file=")
    assert ",line=2,col=7,title=unknown-kind::" in r.stdout


def test_junit_is_xml_with_failures(bad_dir):
    r = run("validate", "-o", "junit", str(bad_dir))
    suite = ET.fromstring(r.stdout).find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2"


def test_usage_and_io_errors_exit_2(tmp_path):
    r = run("validate", str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2 and "no such file" in r.stderr
    assert run("validate", "-o", "xml", str(tmp_path)).exit_code == 2
    assert run("validate").exit_code == 2


def test_fail_level(tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert run("validate", str(tmp_path)).exit_code == 0  # a warning only
    assert run("validate", "--fail-level", "warning", str(tmp_path)).exit_code == 1


def test_config_file_searched_upwards_changes_severity_and_ignores(bad_dir, monkeypatch):
    (bad_dir / ".cilium-lb.yaml").write_text("rules:\n  unknown-kind: warning\nignore:\n  - tabs.yaml\n")
    sub = bad_dir / "deeper"
    sub.mkdir()
    monkeypatch.chdir(sub)
    r = run("validate", "-o", "json", str(bad_dir))
    doc = json.loads(r.stdout)
    assert r.exit_code == 0
    assert [(p["rule"], p["severity"]) for p in doc["problems"]] == [("unknown-kind", "warning")]
    (bad_dir / ".cilium-lb.yaml").write_text("rules:\n  unknown-knd: off\n")
    r = run("validate", str(bad_dir))
    assert r.exit_code == 2 and "did you mean 'unknown-kind'" in r.stderr


def test_inline_ignore_comments(tmp_path):
    (tmp_path / "a.yaml").write_text(BAD.replace("kind: LBServce", "kind: LBServce  # cilium-lb: ignore=unknown-kind"))
    (tmp_path / "b.yaml").write_text("# cilium-lb: ignore-file=all\n" + BAD)
    (tmp_path / "c.yaml").write_text(BAD.replace("kind: LBServce", "# cilium-lb: ignore=schema\nkind: LBServce"))
    doc = json.loads(run("validate", "-o", "json", str(tmp_path)).stdout)
    assert [(Path(p["file"]).name, p["rule"]) for p in doc["problems"]] == [("c.yaml", "unknown-kind")]


def test_stdin_in_a_real_process():
    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-m", "lbcli", "validate", "-"], input=BAD, capture_output=True, text=True, env=env)
    assert p.returncode == 1
    assert "<stdin>:2:7 error" in p.stdout and "Traceback" not in p.stderr


def test_color_always_and_no_color(bad_dir):
    assert "\x1b[" in run("--color", "always", "validate", str(bad_dir)).stdout
    assert "\x1b[" not in run("validate", str(bad_dir), env={"NO_COLOR": "1"}).stdout


def test_rules_listing_documents_every_rule():
    r = run("rules", "-o", "json")
    rules = json.loads(r.stdout)
    assert {"schema", "unknown-kind", "yaml-syntax"} <= {x["id"] for x in rules}
    assert all(x["summary"] for x in rules)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions_are_current(shell):
    shipped = (ROOT / "completions" / f"cilium-lb.{shell}").read_text()
    assert run("completion", shell).stdout == shipped, (
        f"completions/cilium-lb.{shell} is stale: regenerate with `cilium-lb completion {shell} > completions/cilium-lb.{shell}`"
    )


def test_bash_completion_answers():
    env = {**os.environ, "_CILIUM_LB_COMPLETE": "complete_bash", "COMP_WORDS": "cilium-lb validate -o ", "COMP_CWORD": "3"}
    p = subprocess.run([sys.executable, "-m", "lbcli"], capture_output=True, text=True, env=env)
    assert set(p.stdout.split()) == {"text", "json", "sarif", "github", "junit"}


def test_help_shows_real_metavars_and_points_at_no_source_file():
    import re

    for argv, want in ((["validate"], "PATH..."), (["compile"], "--output DIR"), (["apply"], "--node NODE"),
                       (["apply"], "--state-dir DIR"), (["status"], "[PATH...]"), (["observe"], "--bpf-root DIR")):
        r = run(*argv, "--help", env={"COLUMNS": "200"})
        assert r.exit_code == 0 and want in r.stdout, (argv, want, r.stdout)
    for argv in (["validate"], ["compile"], ["diff"], ["apply"], ["reset"], ["status"], ["lb", "status"],
                 ["observe"], ["rules"]):
        r = run(*argv, "--help", env={"COLUMNS": "200"})
        assert r.exit_code == 0 and not re.search(r"[\w/]+\.py\b", r.stdout), (argv, r.stdout)


def test_status_compiles_manifest_paths():
    r = run("lb", "status", str(ROOT / "examples" / "rebel-base"), "-o", "json")
    assert r.exit_code == 0, r.output
    assert "100.64.0.101" in r.stdout and json.loads(r.stdout)
    r = run("lb", "status", str(ROOT / "examples" / "rebel-base"), "--plan", "x")
    assert r.exit_code == 2 and "not both" in r.output


def test_lab_refuses_without_root_or_tools(monkeypatch, tmp_path):
    from lbcli.lab.seedlab import preflight

    assert "must run as root" in preflight(lambda t: "/bin/" + t, euid=1000)[0]
    problems = preflight(lambda t: None if t == "bird" else "/bin/" + t, euid=0)
    assert any("missing: bird" in p for p in problems)
    from lbcli.cli.main import app

    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run
    r = CliRunner().invoke(app, ["lab", "up", "--dir", str(tmp_path / "lab")])
    assert r.exit_code == 2 and "missing: ip" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "lab").exists()
    r = CliRunner().invoke(app, ["lab", "down", "--prefix", "Bad prefix"])
    assert r.exit_code == 2


def _cli(*args: str, importtime: bool = False):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-m", "lbcli", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("args", [["bad"], ["bad", "ok"], ["missing.yaml"], ["-o", "json", "bad"],
                                  ["bad", "--output", "sarif"], ["--output=junit", "ok", "bad"]])
def test_plain_validate_runs_without_typer_and_says_the_same(bad_dir, args):
    """`cilium-lb validate [-o FORMAT] PATH...` (a pre-commit hook's or CI job's call) skips
    typer; an option first sends the same run through typer: same output, same exit code."""
    argv = [a if a.startswith("-") or a in ("json", "sarif") else
            str(bad_dir / (a if a.endswith(".yaml") else f"{a}.yaml")) for a in args]
    plain = _cli("validate", *argv, importtime=True)
    typed = _cli("--color", "never", "validate", *argv)
    assert (plain.returncode, plain.stdout) == (typed.returncode, typed.stdout)
    assert [ln for ln in plain.stderr.splitlines() if not ln.startswith("import time:")] == typed.stderr.splitlines()
    assert plain.returncode == (2 if args == ["missing.yaml"] else 1)
    imported = {ln.split("|")[-1].strip() for ln in plain.stderr.splitlines() if ln.startswith("import time:")}
    assert "typer" not in imported and "lbcli.cli.app" not in imported


@pytest.mark.parametrize("args", [["-", "x"], ["-o", "yaml", "x"], ["--fail-level", "warning", "x"], ["-ojson", "x"],
                                  ["-o", "json", "-o", "text", "x"], ["--", "x"]])
def test_other_validate_command_lines_go_through_typer(args):
    from lbcli.cli.main import _plain_validate

    assert _plain_validate(args) is None


def test_a_named_command_gets_its_options_and_help():
    r = _cli("validate", "--help")
    assert r.returncode == 0 and "--fail-level" in r.stdout
    r = _cli("lb", "status", "--help")
    assert r.returncode == 0 and "Usage: cilium-lb lb status" in r.stdout
    r = _cli("valdate", "x")
    assert r.returncode == 2 and "No such command 'valdate'" in r.stderr
