"""The C walks over libyaml (lbcli.manifest._yamlpos) answer exactly what the Python walks over
PyYAML's events answer (positions.py, their specification): the same position for every path of
many documents, key or value, existing or not, the same error position where libyaml refuses
the text, and the same position tree. Then validate's findings with and without the extension."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from lbcli.manifest import positions
from lbcli.manifest.documents import split_documents
from lbcli.manifest.positions import PositionIndex

from .test_parse_limits import _block, _compact, _deep, _flow, _flow_pool, _texts, bomb

ROOT = Path(__file__).resolve().parent.parent
ACCEL = positions._accel
needs_accel = pytest.mark.skipif(ACCEL is None, reason="C extension _yamlpos not built (libyaml-dev)")

HEAD = "apiVersion: isovalent.com/v1alpha1\nkind: LBBackendPool\nmetadata:\n  name: p\n"
SPECIAL = [
    # unicode: multi-byte characters before the target on its line (columns count characters)
    HEAD + "spec:\n  é: ü\n  backends: [{ip: 'é€😀', port: 80}, {ip: 10.0.0.2, port: 8°}]\n",
    HEAD + "spec: {名前: 値, backends: [{ip: \"\\u00e9x\", 'p:o': 1}]}\n  # 😀😀\n",
    "\ufeff" + HEAD + "spec:\n  a: 1\n",  # a byte order mark
    HEAD.replace("\n", "\r\n") + "spec:\r\n  a: [1, 2]\r\n",  # CRLF
    HEAD + "spec:\r  a: 1\r  b: 2\n",  # lone CR
    HEAD + "spec:\n  a: x\u2028y\n  b: \u0085z\n  c: 1\n",  # YAML 1.1 line breaks inside a scalar
    HEAD + "spec:\n\ta: 1\n",  # a tab in indentation
    # flow style, block scalars, anchors and aliases, complex keys, duplicate keys
    HEAD + "spec: {backends: [{ip: 10.0.0.1, port: 80}, [1, [2, {x: y}]], {}], x: [], y: {}}\n",
    HEAD + "spec:\n  text: |\n    line one\n    line: two\n  folded: >-\n    a\n    b\n  after: 1\n",
    HEAD + "spec:\n  base: &b {ip: 10.0.0.1, port: 80}\n  backends: [*b, *b, {<<: *b, port: 81}]\n  alias: *b\n",
    HEAD + "spec:\n  ? [complex, key]\n  : 1\n  ? {a: {b: c}}\n  : [2]\n  backends: [1]\n  *x : 3\n",
    HEAD + "x: &x k\nspec:\n  *x : 1\n  k: 2\n",
    HEAD + "spec:\n  backends: [1]\n  backends: [2, 3]\n  a: {b: 1, b: 2}\n",  # first wins
    HEAD + "spec:\n  1: int key\n  true: bool key\n  null: nul\n  '0': zero\n  1.5: f\n",
    HEAD + "spec:\n  empty:\n  null_value: ~\n  '': empty key\n  ? \n  : v\n",
    HEAD + "spec: !!map\n  a: !!seq [!!str 1, !custom x]\n",
    HEAD + "spec:\n  - a\n  - - b\n    - c: [d, {e: f}]\n",
    "%YAML 1.1\n---\n" + HEAD + "spec: {a: 1}\n...\n",
    "",
    "# only a comment\n",
    "just a scalar\n",
    "[1, 2, [3]]\n",
    # refused by libyaml, at different places relative to the targets
    HEAD + "spec:\n  a: [1, 2\n",
    HEAD + "spec:\n  backends:\n    - {ip: 1, port: 2]\n  after: 1\n",
    HEAD + "spec:\n  a: 1\n b: 2\n",
    HEAD + "spec:\n  a: 1\n  a: {b: [x, y}\n",
    HEAD + "spec:\n  a: b: c\n",
    HEAD + "spec:\n  a: *missing\n",
    HEAD + "spec:\n  a: 'unterminated\n",
    HEAD + "spec:\n  a: \"\\ud800\"\n",  # an escaped surrogate: libyaml refuses it
    HEAD + "spec:\n  a: 1\n  b: \x00\n",  # control characters: a reader error (0:0)
    HEAD + "spec:\n  a: \x01\n",
    HEAD + "spec:\n  a: \ud800\n",  # a lone surrogate cannot be encoded: PyYAML raises (0:0)
    HEAD + "spec:\n  a: 1\n" + "".join(f"  k{i}: {'x' * 60}\n" for i in range(400)) + "  z: \x02\n",  # error past 16 KiB
    HEAD + "spec:\n  a: {x: 1, y: [2, 3]}\n  b: [[[\n",
]


def documents() -> list[str]:
    """Example, real-world and generated manifests (document by document), texts that nest
    deep or are broken (the limit tests' and random mutations), and SPECIAL."""
    sys.path.insert(0, str(ROOT / "bench"))
    from gen_corpus import generate

    files = sorted(ROOT.glob("examples/**/*.yaml")) + sorted(
        p for p in (ROOT / "tests/realworld").rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    texts = [f.read_text(encoding="utf-8-sig") for f in files]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for findings in (False, True):
            out = Path(tmp) / str(findings)
            generate(out, 12, findings=findings)
            texts += [f.read_text() for f in sorted(out.rglob("*.yaml"))]
    docs = [c.text for t in texts for c in split_documents(t)]
    rnd = random.Random(16)
    mutated = []
    for _ in range(300):  # every kind of broken text, from real documents
        t = list(rnd.choice(docs))
        for _ in range(rnd.randint(1, 5)):
            i = rnd.randrange(len(t) + 1)
            op = rnd.random()
            if op < 0.35 and i < len(t):
                del t[i]
            elif op < 0.9:
                t.insert(i, rnd.choice("[]{}:,-'\"#&*!?|> \n\t\x00é😀\ud800\r"))
            else:
                t.insert(i, rnd.choice(["[" * rnd.randint(1, 60), "- " * rnd.randint(1, 30), "&a ", "*a ", "? "]))
        mutated.append("".join(t))
    deep = [_flow(300), _flow(300, "{", "}"), _block(200), _compact(300), _deep(150, "flow"), _deep(120, "map"),
            "[" * 1500 + "]" * 1500, "[" * 1500, "{a: " * 1000 + "1" + "}" * 1000, bomb(), _flow_pool(200)]
    limits = _texts()  # the limit tests' flow-heavy texts: their own 17, and 100 of their mutations
    return docs + SPECIAL + deep + limits[:117] + mutated


def event_paths(text: str) -> list[tuple]:
    """Paths of the nodes the events reach (up to a parse error), a missing child of each
    collection, and a few steps of other types; sampled, fewer for a long text (the Python walk
    costs ~2 us an event per lookup)."""
    limit = max(8, min(60, 30_000 // max(1, len(text))))
    import yaml.events as ev

    found: list[tuple] = [(), ("missing",), (0,), ("spec", "backends", 0, "ip")]
    stack: list[list] = []  # [is_map, want_key, current key, index, path]
    try:
        for e in positions.iter_events(text):
            t = type(e)
            if t in (ev.MappingEndEvent, ev.SequenceEndEvent):
                stack.pop()
                if stack:
                    f = stack[-1]
                    f[1], f[3] = True, f[3] + 1
                continue
            if t not in (ev.MappingStartEvent, ev.SequenceStartEvent, ev.ScalarEvent, ev.AliasEvent):
                continue
            if stack and stack[-1][0] and stack[-1][1]:
                stack[-1][1] = False
                stack[-1][2] = e.value if t is ev.ScalarEvent else "?"
                if t in (ev.MappingStartEvent, ev.SequenceStartEvent):
                    stack.append([False, False, None, 0, None])  # a complex key: its own frame
                continue
            if stack:
                f = stack[-1]
                here = (f[4] or ()) + ((f[2],) if f[0] else (f[3],))
                if not f[0]:
                    f[3] += 1
                else:
                    f[1] = True
            else:
                here = ()
            if stack and stack[-1][4] is None and not stack[-1][0] and len(stack) > 1:
                continue  # inside a complex key
            found.append(here)
            if t in (ev.MappingStartEvent, ev.SequenceStartEvent):
                found.append(here + ("missing",) if t is ev.MappingStartEvent else here + (10**6,))
                stack.append([t is ev.MappingStartEvent, True, None, 0, here])
    except Exception:
        pass  # the paths read so far: the walk stops where libyaml does
    odd = []
    for p in found[4:40]:  # steps of other types: int on a mapping (str(step)), bool/huge/negative index
        odd += [p + (1,), p + (True,), p + (-1,), p + (2**70,), p + (None,), p + (1.5,), p + ("\ud800",)]
        if p:
            odd.append(p[:-1] + (str(p[-1]),) if isinstance(p[-1], int) else p)
    paths = list(dict.fromkeys(found + odd))
    if len(paths) > limit:
        head = min(50, limit // 2)
        paths = paths[:head] + random.Random(len(text)).sample(paths[head:], limit - head)
    return paths


def answers(text: str, paths: list[tuple], accel) -> list:
    """Per path and key: the stream's answer and the error it recorded, then the tree's."""
    saved = positions._accel
    positions._accel = accel
    try:
        got = []
        for path in paths:
            for key in (False, True):
                p = PositionIndex(text, 0)
                got.append((path, key, p.locate(path, key), p._error))
        p = PositionIndex(text, 0)
        p._build_tree()
        t = p._tree
        shape = None if t is None else (list(t.pos), list(t.kpos), t.key, list(t.kind), list(t.end))
        got.append(("tree", shape, p._error))
        if t is not None:
            got += [(path, key, t.locate(path, key)) for path in paths for key in (False, True)]
        return got
    finally:
        positions._accel = saved


@needs_accel
def test_c_and_python_walks_agree_on_every_path():
    docs = documents()
    checked = errors = 0
    for text in docs:
        paths = event_paths(text)
        c, py = answers(text, paths, ACCEL), answers(text, paths, None)
        if c != py:  # the first difference, readable
            diff = next((a, b) for a, b in zip(c, py) if a != b)
            pytest.fail(f"C {diff[0]} != Python {diff[1]} for {text[:200]!r}")
        checked += len(paths)
        errors += any(a[3] is not None for a in py[: len(paths) * 2])
    assert len(docs) > 800 and checked > 30_000
    assert errors > 150  # refused texts are a good part of what was compared


@needs_accel
def test_every_path_of_a_big_document_agrees():
    # many lookups in one document: the stream for the first, then the tree (C and Python)
    text = HEAD + "spec:\n  backends:\n" + "".join(
        f"    - {{ip: 10.{i // 65536}.{i // 256 % 256}.{i % 256}, port: {i % 65536}, 'é': [a, {{b: c}}]}}\n"
        for i in range(3000))
    paths = [("spec", "backends", i, k) for i in range(0, 3000, 7) for k in ("ip", "port", "é", "zz")]
    for accel in (ACCEL, None):
        got = []
        with pytest.MonkeyPatch.context() as m:
            m.setattr(positions, "_accel", accel)
            p = PositionIndex(text, 0)
            got = [p.locate(path, key) for path in paths for key in (False, True)]
            assert p._tree is not None  # the first lookup streamed, the others used the tree
            got.append(PositionIndex(text, 0).locate(paths[-1], True))  # a stream to the far end
        if accel is ACCEL:
            want = got
    assert got == want


@needs_accel
def test_the_accelerator_is_bounded_on_hostile_input():
    # nesting far past the loader's limit (no recursion in C), a long path, odd path types.
    # Not deeper: libyaml's own time grows with the square of flow nesting (PyYAML's too); the
    # loader refuses a document deeper than 100 levels before any lookup.
    for text, step, width in (("[" * 3000 + "]" * 3000, 0, 1), ("{a: " * 2000 + "1" + "}" * 2000, "a", 4),
                              ("- " * 50_000 + "x\n", 0, 2)):
        assert ACCEL.locate(text, (step,) * 1000, False) == 1000 * width  # line 0, the 1001st collection
        assert ACCEL.locate(text, (step,) * 10**6, False) >= 0  # a path longer than the text is deep
        pos, kpos, keys, kind, end = ACCEL.tree(text)
        assert len(pos) == len(kpos) == len(end) == 8 * len(kind) == 8 * len(keys) and end[:8] == pos[:0] + end[:8]
    assert ACCEL.locate("a: [", ("a", 0), True) < 0
    with pytest.raises(TypeError):
        ACCEL.locate(b"a: 1", ("a",), False)
    with pytest.raises(TypeError):
        ACCEL.locate("a: 1", 5, False)
    assert ACCEL.locate("a: 1", [], False) == 0  # any sequence


@needs_accel
def test_validate_findings_are_the_same_with_either_walk(tmp_path, monkeypatch):
    """validate's findings (file, line, column, rule, message) over the findings corpus, the
    real-world manifests and the examples: the C walk gives what the Python walk gives."""
    sys.path.insert(0, str(ROOT / "bench"))
    from gen_corpus import generate

    from lbcli.lint.engine import lint
    from lbcli.manifest.loader import load

    generate(tmp_path / "bad", 40, findings=True)
    roots = [str(tmp_path / "bad"), str(ROOT / "tests/realworld"), str(ROOT / "examples")]

    def findings():
        report = lint(load(roots))
        return [(p.file, p.line, p.column, p.rule, p.message) for p in report.problems]

    monkeypatch.setattr(positions, "_accel", None)
    want = findings()
    monkeypatch.setattr(positions, "_accel", ACCEL)
    assert findings() == want
    assert len(want) > 100


def test_the_fast_path_does_not_import_pyyaml(tmp_path):
    """With the extension, a finding is located without PyYAML (~13 ms of start-up)."""
    import subprocess

    if ACCEL is None:
        pytest.skip("C extension _yamlpos not built")
    f = tmp_path / "vip.yaml"
    f.write_text("apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata:\n  name: v\n"
                 "spec:\n  ipv4Request: 100.64.0.1\n  bogus: 1\n")
    code = ("import sys; from lbcli.manifest.loader import load; from lbcli.lint.engine import lint;"
            f"r = lint(load([{str(f)!r}])); print(len(r.problems), [p.line for p in r.problems],"
            "any(m == 'yaml' or m.startswith('yaml.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out[0] != "0" and out[-1] == "False", out
