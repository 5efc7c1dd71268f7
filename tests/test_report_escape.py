"""Renderers escape what they echo: control characters, ANSI escapes and bidi overrides in file
names, YAML keys and values never reach a terminal or a CI log raw; JUnit stays valid XML,
SARIF and JSON valid JSON, GitHub one workflow command per problem."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from contextlib import redirect_stdout
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.lint.problem import Problem, Severity
from lbcli.lint.redact import escape_controls
from lbcli.report import render_lint

NASTY = "a\x1b[31mred\x1b[0m\r\nforged:1:1 error fake\x00\x07\u202etxt.yaml\x7f\x9b\udcff"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def report():
    problems = [
        Problem(NASTY, 3, 5, Severity.ERROR, "schema", "unknown field " + NASTY, "Kind/" + NASTY, 0),
        Problem("ok.yaml", 1, 1, Severity.WARNING, "cert-expiry", "plain message", None, 0),
        Problem("ok.yaml", 2, 1, Severity.INFO, "tier-nodes", "info " + NASTY, None, 0),
    ]
    summary = {"files": 2, "resources": 2, "valid": 1, "invalid": 1, "skipped": 0,
               "errors": 1, "warnings": 1, "infos": 1}
    return SimpleNamespace(problems=problems, summary=summary, load=SimpleNamespace(files=[NASTY, "ok.yaml"]))


def render(fmt: str) -> str:
    if fmt == "text":
        buf = io.StringIO()
        with redirect_stdout(buf):
            render_lint("text", report())
        return buf.getvalue()
    buf = io.StringIO()
    render_lint(fmt, report(), buf)
    return buf.getvalue()


def test_escape_controls_is_visible_and_reversible_enough():
    assert escape_controls("plain text") == "plain text"
    assert escape_controls("a\nb\x1b[1m\u202e") == "a\\nb\\x1b[1m\\u202e"
    assert not RAW.search(escape_controls(NASTY))


@pytest.mark.parametrize("fmt", ["text", "github", "junit", "sarif", "json"])
def test_no_raw_control_character_in_any_format(fmt):
    out = render(fmt)
    assert not RAW.search(out), repr(RAW.search(out))
    out.encode("utf-8")  # no lone surrogate: writable to any UTF-8 stream


def test_text_is_one_line_per_problem():
    out = render("text")
    lines = [ln for ln in out.splitlines() if re.match(r"^  \S.*:\d+:\d+ ", ln)]
    assert len(lines) == 3, out
    assert not any(ln.lstrip().startswith("forged") for ln in out.splitlines())  # no forged line
    assert "\\x1b[31mred" in out


def test_github_is_one_command_per_problem():
    out = render("github")
    lines = out.splitlines()
    assert len(lines) == 3 and all(ln.startswith(("::error ", "::warning ", "::notice ")) for ln in lines), out
    assert "%0D%0A" in lines[0] and "\\x1b" in lines[0]


def test_junit_is_valid_xml():
    root = ET.fromstring(render("junit"))
    assert root.tag == "testsuites"
    names = [tc.get("name") for tc in root.iter("testcase")]
    assert any("\\x1b[31m" in n for n in names), names


def test_sarif_and_json_parse_and_uris_are_encoded():
    sarif = json.loads(render("sarif"))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]]
    assert uris[0].startswith("a%1B%5B31mred") and "%0D%0A" in uris[0], uris
    assert "ok.yaml" in uris
    doc = json.loads(render("json"))
    assert len(doc["problems"]) == 3


def test_cli_escapes_yaml_keys_and_file_names(tmp_path):
    name = tmp_path / "evil\x1b[2Jname.yaml"
    name.write_text('apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  "k\\e[31m\\u202ey": 1\n')
    for fmt in ("text", "github", "junit"):
        r = CliRunner().invoke(app, ["--color", "never", "validate", "-o", fmt, "--no-config", str(tmp_path)])
        assert r.exit_code == 1, r.stdout
        assert not RAW.search(r.stdout), (fmt, repr(r.stdout))
        assert "\\x1b[31m\\u202ey" in r.stdout, (fmt, r.stdout)
        assert "evil\\x1b[2Jname" in r.stdout, (fmt, r.stdout)


def test_apply_text_escapes_what_reconcilers_echo(capsys):
    """Object names, details, errors and notes can carry manifest text: the apply report
    writes control characters as escapes, so a name cannot forge a line or move the cursor."""
    from lbcli.report.apply_text import render

    evil = "x\n  + forged\x1b[2J"
    render({"node": "n1", "dryRun": False, "ok": False, "changes": 1, "recorded": False,
            "components": [{"name": "l7", "ok": False, "degraded": evil, "error": evil, "notes": [evil],
                            "changes": [{"action": "create", "object": evil, "detail": evil,
                                         "ok": False, "error": evil}]}],
            "withheld": [{"prefix": "100.64.0.1/32", "reason": evil}]})
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\n  + forged" not in out
    assert out.count("\\x1b[2J") == 7


@pytest.mark.parametrize("text", ["plain", "é ü", "del\x7f", "esc\x1b[0m", "lone \udcff", "tab\tnl\n", "\u2028"])
def test_json_output_is_the_standard_encoders_text(text):
    """-o json is written by orjson where it gives the same text as json.dumps(indent=2,
    sort_keys=True), and by json otherwise (non-ASCII, DEL, lone surrogates)."""
    from lbcli.report.json_report import dumps

    doc = {"problems": [{"file": text, "line": 1, "message": f"m {text}", "resource": None, "z": []}],
           "summary": {"errors": 1, "b": {}}}
    assert dumps(doc) == json.dumps(doc, indent=2, sort_keys=True) + "\n"
