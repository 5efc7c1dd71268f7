"""Parsing is bounded: alias bombs, deep nesting, non-regular files and oversized input are
located findings within a second, never a hang, a crash (signal) or a RecursionError counted
as valid. The CLI runs in a subprocess where a crash would show as a negative return code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbcli.lint.engine import lint
from lbcli.manifest import limits as limits_mod
from lbcli.manifest import loader as loader_mod
from lbcli.manifest.limits import MAX_DEPTH, Limits, check_text, parse_size
from lbcli.manifest.loader import LoadResult, load, load_text
from lbcli.manifest.syntax import diagnose

CLI = [str(Path(sys.executable).parent / "cilium-lb")]
HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"


def bomb(levels: int = 9, fan: int = 9) -> str:
    """The classic "billion laughs": fan**levels strings from ~500 bytes."""
    lines = [HEAD.rstrip("\n"), "data:", '  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def _load(text: str, name: str = "f.yaml") -> LoadResult:
    r = LoadResult()
    r.files.append(name)
    r.texts[name] = text
    load_text(name, text, r)
    return r


def _cli(*args: str, cwd: Path | None = None, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, input=stdin, capture_output=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})


def _json(p: subprocess.CompletedProcess) -> dict:
    assert p.returncode in (0, 1), (p.returncode, p.stderr.decode()[-2000:])
    return json.loads(p.stdout)


# -- aliases ------------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_alias_bomb_is_a_located_finding_within_a_second():
    text = bomb()
    assert len(text) < 700
    t = time.perf_counter()
    r = _load(text)
    assert time.perf_counter() - t < 1.0
    (p,) = r.problems
    assert p.rule == "yaml-syntax" and "alias" in p.message and "10,000" in p.message
    line = text.splitlines()[p.line - 1]
    assert line[p.column - 1] == "*", (p, line)  # points at the alias that crossed the limit
    assert r.broken == 1 and not r.resources


@pytest.mark.timeout(10)
def test_alias_bomb_with_a_duplicate_key_on_the_pyyaml_path():
    # yaml_rs refuses a duplicate key first; the PyYAML diagnostics then walk the node graph,
    # which must visit each shared node once (walking it as a tree never ends)
    text = bomb().replace("\ndata:\n", "\ndata:\n  dup: 1\n  dup: 2\n")
    t = time.perf_counter()
    issue = diagnose(text, 0, "duplicate key")
    assert time.perf_counter() - t < 1.0
    assert "duplicate key 'dup'" in issue.message and issue.line == text.splitlines().index("  dup: 2") + 1


@pytest.mark.timeout(10)
def test_alias_bomb_caught_by_the_yaml_rs_backstop(monkeypatch):
    # should the text scan ever miss, yaml_rs stops replaying aliases and the finding is located
    monkeypatch.setattr(loader_mod, "check_text", lambda text, depth: None)
    text = bomb()
    t = time.perf_counter()
    (p,) = _load(text).problems
    assert time.perf_counter() - t < 1.0
    assert "alias" in p.message and text.splitlines()[p.line - 1][p.column - 1] == "*"


def test_ordinary_anchors_stay_valid():
    text = HEAD + "data:\n  a: &v hello\n  b: *v\n  c: *v\n"
    r = _load(text)
    assert not r.problems and r.resources[0].body["data"] == {"a": "hello", "b": "hello", "c": "hello"}


def test_alias_budget_scales_with_the_document():
    # 50 copies of a 300-node anchor: 15,000 nodes from ~400 written, over 10,000
    small = HEAD + "data:\n  base: &b [" + ", ".join(["x"] * 300) + "]\n  l: [" + ", ".join(["*b"] * 50) + "]\n"
    assert "alias" in _load(small).problems[0].message
    # the same expansion next to enough written nodes is within 10x
    big = small + "  pad: [" + ", ".join(["y"] * 1600) + "]\n"
    assert not _load(big).problems


# -- nesting -------------------------------------------------------------------------------------


def _flow(n: int, o: str = "[", c: str = "]") -> str:
    inner = "1" if o == "[" else "a: 1"
    if o == "{":
        return HEAD + "data: " + "{a: " * (n - 1) + "{a: 1" + "}" * n + "\n"
    return HEAD + "data:\n  k: " + o * n + inner + c * n + "\n"


def _block(n: int) -> str:
    return HEAD + "data:\n" + "".join(" " * (i + 2) + "k:\n" for i in range(n)) + " " * (n + 2) + "k: v\n"


def _compact(n: int) -> str:
    return HEAD + "data:\n  k:\n" + "    " + "- " * n + "x\n"


def _depth(text: str) -> int:
    """Collections on the deepest path of the loaded value (iteratively)."""
    import yaml_rs

    best, stack = 0, [(yaml_rs.loads(text), 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            best = max(best, d + 1)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return best


@pytest.mark.parametrize("make", [_flow, lambda n: _flow(n, "{", "}"), _block, _compact],
                         ids=["flow-seq", "flow-map", "block", "compact-seq"])
def test_depth_limit_is_exact(make):
    # find the size that makes exactly MAX_DEPTH levels, then one more must be refused
    n = next(n for n in range(1, 200) if _depth(make(n)) >= MAX_DEPTH)
    assert _depth(make(n)) == MAX_DEPTH
    ok, deep = make(n), make(n + 1)
    assert check_text(ok) is None
    issue = check_text(deep)
    assert issue is not None and f"deeper than {MAX_DEPTH} levels" in issue.message
    r = _load(deep)
    assert [p.rule for p in r.problems] == ["yaml-syntax"] and r.broken == 1 and not r.resources
    assert not _load(ok).problems


def test_alias_cannot_smuggle_depth():
    # each anchor nests 40 levels around the previous one: *a1 inside a2 reaches 123 levels
    lines = [HEAD.rstrip("\n"), "data:", "  a0: &a0 " + "[" * 40 + "1" + "]" * 40]
    for i in range(1, 4):
        lines.append(f"  a{i}: &a{i} " + "[" * 40 + f"*a{i - 1}" + "]" * 40)
    issue = check_text("\n".join(lines) + "\n")
    assert issue is not None and "alias *a1" in issue.message and issue.line == 7  # in a2


def test_a_document_at_the_limit_is_safe_for_every_rule():
    # the deepest allowed document in every own kind runs through all rules: no internal error
    from lbcli.manifest.kinds import schemas

    for (api, kind) in sorted(schemas()):
        text = f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\nspec:\n  extra: " + "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2) + "\n"
        r = _load(text)
        assert not r.problems, (kind, r.problems)
        rep = lint(r)
        assert not [p for p in rep.problems if p.rule == "internal-error"], (kind, rep.problems)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("text", [
    HEAD + "data:\n  k: " + "[" * 50_000 + "\n",
    HEAD + "data:\n  k: " + "{" * 50_000 + "\n",
    _block(3_000),
    "- " * 100_000 + "x\n",
], ids=["50k-flow-seq", "50k-flow-map", "3k-block", "100k-compact"])
def test_cli_refuses_deep_documents_without_crashing(tmp_path, text):
    f = tmp_path / "deep.yaml"
    f.write_text(text)
    for cmd in (["validate", "-o", "json", str(f)], ["compile", str(f), "-o", str(tmp_path / "out")]):
        p = _cli(*cmd)
        assert p.returncode == 1, (cmd, p.returncode, p.stderr.decode()[-2000:])  # negative = a signal
        assert b"Traceback" not in p.stderr and b"RecursionError" not in p.stdout + p.stderr
    doc = _json(_cli("validate", "-o", "json", str(f)))
    (prob,) = doc["problems"]
    assert prob["rule"] == "yaml-syntax" and f"deeper than {MAX_DEPTH} levels" in prob["message"]
    assert prob["line"] >= 1 and prob["column"] >= 1
    assert doc["summary"]["valid"] == 0 and doc["summary"]["invalid"] == 1


# -- files that are not regular, size -----------------------------------------------------------


@pytest.mark.timeout(30)
def test_fifo_device_socket_and_links_to_them_are_findings(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")  # nobody writes: opening or reading it would block
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # reading it never ends
    (tmp_path / "null.yml").symlink_to("/dev/null")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.json"))
    try:
        (tmp_path / "ok.yaml").write_text(HEAD)
        p = _cli("validate", "-o", "json", str(tmp_path), timeout=20)
    finally:
        sock.close()
    doc = _json(p)
    got = {Path(x["file"]).name: x["message"] for x in doc["problems"]}
    assert set(got) == {"fifo.yaml", "zero.yaml", "null.yml", "sock.json"}
    assert "FIFO" in got["fifo.yaml"] and "/dev/zero" in got["zero.yaml"] and "character device" in got["zero.yaml"]
    assert "socket" in got["sock.json"]
    assert all("only regular files" in m for m in got.values())
    assert doc["summary"]["files"] == 5 and doc["summary"]["invalid"] == 4


def test_size_limit_from_config_and_option(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text(HEAD + "data:\n" + "".join(f"  k{i}: v\n" for i in range(200)))
    size = f.stat().st_size
    (tmp_path / ".cilium-lb.yaml").write_text("max-file-size: 1K\n")
    doc = _json(_cli("validate", "-o", "json", "m.yaml", cwd=tmp_path))
    (prob,) = doc["problems"]
    assert f"{size:,} bytes" in prob["message"] and "1 KiB limit" in prob["message"]
    assert "--max-file-size" in prob["message"]
    # the option wins over the config; 0 means no limit
    assert _json(_cli("validate", "-o", "json", "--max-file-size", "64K", "m.yaml", cwd=tmp_path))["problems"] == []
    assert _json(_cli("validate", "-o", "json", "--max-file-size", "0", "m.yaml", cwd=tmp_path))["problems"] == []
    bad = _cli("validate", "--max-file-size", "lots", "m.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and b"--max-file-size" in bad.stderr
    (tmp_path / ".cilium-lb.yaml").write_text("max-file-size: big\n")
    bad = _cli("validate", "m.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and b"max-file-size" in bad.stderr


@pytest.mark.timeout(30)
def test_stdin_is_bounded_too(tmp_path):
    p = _cli("validate", "-o", "json", "--max-file-size", "1K", "-", stdin=b"# x\n" * 100_000)
    (prob,) = _json(p)["problems"]
    assert prob["file"] == "<stdin>" and "more than 1 KiB" in prob["message"]


def test_parse_size():
    assert parse_size("32M") == 32 << 20 and parse_size("512KiB") == 512 << 10 and parse_size(100) == 100
    assert parse_size("0") is None and parse_size("none") is None
    for bad in ("-1", "1T", "", "x", True):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_file_that_reads_on_past_its_size_is_cut_at_the_limit(tmp_path):
    # /proc files are regular with st_size 0 and read on: reading stops at the limit
    (tmp_path / "maps.yaml").symlink_to("/proc/self/maps")
    r = load([str(tmp_path / "maps.yaml")], limits=Limits(max_file_size=50))
    assert "more than 50 bytes" in r.problems[0].message and r.broken == 1


# -- large but ordinary input ----------------------------------------------------------------


@pytest.mark.timeout(300)
def test_ten_megabytes_of_documents_load(tmp_path):
    one = ("---\napiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata:\n  name: vip-{i}\n"
           "  namespace: ns\nspec:\n  ipv4Request: \"100.{a}.{b}.{c}\"\n")
    parts, size, i = [], 0, 0
    while size < 10_000_000:
        s = one.format(i=i, a=64 + i // 65536, b=i // 256 % 256, c=i % 256)
        parts.append(s)
        size += len(s)
        i += 1
    f = tmp_path / "big.yaml"
    f.write_text("".join(parts))
    r = load([str(f)])
    assert not r.problems and len(r.resources) == i and r.broken == 0
    # positions still exact at the far end (streamed from the file's text, not a copy)
    last = r.resources[-1]
    assert last.locate(("spec", "ipv4Request")) == (f.read_text().count("\n") , 16)
    assert r.documents[-1].positions.text.startswith("apiVersion: isovalent.com/v1alpha1")


def test_position_trees_are_bounded(monkeypatch):
    from lbcli.manifest import positions

    monkeypatch.setattr(positions, "_TREE_MIN_CHARS", 0)

    r = _load("".join(f"---\n{HEAD}data:\n  k{i}: v\n" for i in range(50)))
    for d in r.documents:
        d.locate(("data",))
        d.locate(("data", "missing"))  # a second lookup builds the document's tree
    assert 0 < len(positions._trees) <= positions._TREES_KEPT
    # evicted documents still answer (streaming again)
    assert r.documents[0].locate(("metadata", "name")) == (5, 9)


def test_many_lookups_in_one_huge_document_are_linear():
    # every item of a 100,000-item list asked for: one tree, not a re-read per lookup
    text = HEAD + "data:\n  l:\n" + "".join(f"    - {{a: {i}}}\n" for i in range(100_000))
    r = _load(text)
    doc = r.documents[0]
    t = time.perf_counter()
    for i in range(0, 100_000, 97):
        assert doc.locate(("data", "l", i, "a")) == (7 + i, 11)
    assert time.perf_counter() - t < 10  # re-reading per lookup would take minutes


def test_limits_module_is_cheap_to_import():
    # loaded by the config module at CLI start: nothing heavy (no yaml)
    code = "import sys, lbcli.manifest.limits; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert limits_mod.DEFAULT_MAX_FILE_SIZE == 32 << 20


@pytest.mark.timeout(30)
def test_alias_bomb_in_the_config_file_is_exit_2(tmp_path):
    (tmp_path / ".cilium-lb.yaml").write_text(bomb().replace(HEAD, "").replace("data:\n", "x:\n"))
    (tmp_path / "m.yaml").write_text(HEAD)
    p = _cli("validate", "m.yaml", cwd=tmp_path, timeout=20)
    assert p.returncode == 2 and b".cilium-lb.yaml:" in p.stderr and b"aliases expand" in p.stderr


def test_tab_indented_json_is_measured_as_json():
    # libyaml refuses tabs where JSON allows them (Go's MarshalIndent writes them) and yaml_rs
    # accepts them: such a file is measured as JSON, not refused with libyaml's words
    body = '{\n\t"apiVersion": "v1",\n\t"kind": "ConfigMap",\n\t"metadata": {"name": "x"},\n\t"data": {"k": '
    ok = body + "[\n\t" * 97 + '"]]"' + "]" * 97 + "}\n}\n"
    assert ok.count("[") + ok.count("{") >= MAX_DEPTH  # the text bound cannot clear it
    r = _load(ok, "x.json")
    assert not r.problems and len(r.resources) == 1
    deep = body + "[\n\t" * 99 + '"[["' + "]" * 99 + "}\n}\n"
    (p,) = _load(deep, "x.json").problems
    assert f"deeper than {MAX_DEPTH}" in p.message and deep.splitlines()[p.line - 1][p.column - 1] == "["


def _flow_pool(backends: int = 120) -> str:
    rows = "".join(f"  - {{ip: 10.0.{i // 250}.{i % 250 + 1}, port: 8080}}\n" for i in range(backends))
    return HEAD.replace("ConfigMap", "LBBackendPool") + "backends:\n" + rows


def _deep(levels: int, style: str) -> str:
    """`levels` nested collections under a pool of 100 flow backends (so the screen fails)."""
    inner = "[" * levels + "1" + "]" * levels if style == "flow" else "{a: " * levels + "1" + "}" * levels
    return _flow_pool(100) + f"deep: {inner}\n"


def _texts() -> list[str]:
    import random

    base = [_flow_pool(), _flow_pool(300), _deep(97, "flow"), _deep(98, "flow"), _deep(99, "map"), _deep(150, "flow"),
            _flow_pool() + "? [a, [b, c]]\n: 1\n", _flow_pool() + "? {x: {y: 1}}\n: 2\n",
            _flow_pool() + "tagged: !!set {a, b}\n", _flow_pool() + "a: &x [1]\nb: *x\n",
            _flow_pool() + "dup: 1\ndup: 2\n", _flow_pool() + "bad: [1, 2\n", _flow_pool() + "bad: {a: 1]\n",
            _flow_pool().replace("  - ", "\t- ", 1), '{\n\t"a": [' + ", ".join("{}" for _ in range(120)) + "]\n}\n",
            _flow_pool() + "s: 'it''s ]]] and {{{'\n", _flow_pool() + "b: |\n  [[[[\n  }}}}\n"]
    rnd = random.Random(7)  # mutations of flow-heavy documents: every kind of broken text
    for _ in range(300):
        t = list(rnd.choice(base[:6]))
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(t))
            op = rnd.random()
            if op < 0.4:
                del t[i]
            elif op < 0.8:
                t.insert(i, rnd.choice("[]{}:,-'\"#&*!?|> \n\t"))
            else:
                t[i : i + 1] = ["[" * rnd.randint(1, 120)]
        base.append("".join(t))
    return base


def test_parse_first_gives_the_walks_answers(monkeypatch):
    """Documents the screen cannot clear are parsed first and measured after (limits.measurable):
    the same findings, at the same places, and the same values as walking libyaml's events first."""
    texts = _texts()

    def outcome(text):
        r = _load(text)
        return ([(p.line, p.column, p.rule, p.message) for p in r.problems],
                [(x.kind, x.body) for x in r.resources])

    fast = [outcome(t) for t in texts]
    monkeypatch.setattr(loader_mod, "measurable", lambda text, max_depth=MAX_DEPTH: False)
    assert [outcome(t) for t in texts] == fast
    assert sum(1 for f in fast if f[0]) > 100 and sum(1 for f in fast if not f[0]) > 10  # both kinds tried
    assert any("deeper than" in p[3] for f in fast for p in f[0])
