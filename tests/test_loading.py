"""Loading: files, directories, globs, stdin, multi-document YAML, `kind: List`, positions, and
every kind of broken input becoming a finding with a location (never an exception)."""

from __future__ import annotations

import pytest

from lbcli.manifest.loader import LoadError, LoadResult, expand_paths, load, load_text

from .lintkit import line_of, lint_text


def _load(text: str, name: str = "f.yaml") -> LoadResult:
    r = LoadResult()
    r.files.append(name)
    load_text(name, text, r)
    return r


# a kind cilium-lb has no schema for (loaded, then skipped)
POD = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: p\n"


def test_multi_document_with_start_lines():
    text = "---\n" + POD + "---\n# only a comment\n---\n" + POD.replace("name: p", "name: q")
    r = _load(text)
    assert [s.line for s in r.skipped] == [2, 9]
    assert [d.index for d in r.documents] == [0, 1]


def test_list_kind_expands_items_with_positions():
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: isovalent.com/v1alpha1\n    kind: LBNope\n    metadata: {name: a}\n"
        "  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: b}\n"
    )
    r = _load(text)
    assert len(r.resources) == 1 and r.resources[0].prefix == ("items", 0)
    assert r.resources[0].locate(("kind",)) == (5, 11)
    assert r.skipped[0].line == 7


@pytest.mark.parametrize(
    "text,needle,words",
    [
        ("a: 1\nb:\n\t- x\n", "\t- x", "tab"),
        ("apiVersion: v1\nkind: Pod\nkind: Service\n", "kind: Service", "duplicate key 'kind'"),
        ("apiVersion: v1\nkind: 'Pod\nmetadata: {}\n", None, ""),
        ("apiVersion: v1\nkind: Pod\n  metadata: x\n", None, ""),
        ("a: [1, 2\n", None, ""),
    ],
    ids=["tab", "duplicate-key", "unclosed-quote", "bad-indentation", "unclosed-flow"],
)
def test_yaml_errors_are_located_findings(text, needle, words):
    r = _load(text)
    assert len(r.problems) == 1, r.problems
    p = r.problems[0]
    assert p.rule == "yaml-syntax" and p.line >= 1 and p.column >= 1
    if needle:
        assert p.line == text.splitlines().index(needle) + 1
    assert words.lower() in p.message.lower()


def test_error_in_second_document_points_into_it():
    text = POD + "---\napiVersion: v1\nkind: Pod\nkind: Pod\n"
    r = _load(text)
    assert [(p.rule, p.line) for p in r.problems] == [("yaml-syntax", 8)]
    assert len(r.skipped) == 1  # the good document still loads


def test_non_mapping_and_missing_kind():
    r = _load("- a\n- b\n---\nfoo: bar\n---\njust a string\n")
    rules = [(p.rule, p.line) for p in r.problems]
    assert rules == [("document-type", 1), ("document-type", 4), ("document-type", 6)]


def test_empty_and_binary_files(tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing here\n")
    (tmp_path / "bin.yaml").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin1.yaml").write_bytes("a: caf\xe9\n".encode("latin-1"))
    r = load([str(tmp_path)])
    got = sorted((p.file.rsplit("/", 1)[-1], p.rule) for p in r.problems)
    assert got == [("bin.yaml", "yaml-syntax"), ("empty.yaml", "empty-file"), ("latin1.yaml", "yaml-syntax")]


def test_paths_dirs_globs_and_missing(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.yaml", "b.yml", "c.json", "d.txt", "sub/e.yaml", ".hidden.yaml"):
        (tmp_path / name).write_text(POD)
    files = expand_paths([str(tmp_path)])
    assert [f.rsplit("/", 1)[-1] for f in files] == ["a.yaml", "b.yml", "c.json", "e.yaml"]
    assert len(expand_paths([str(tmp_path / "*.y*ml")])) == 2
    with pytest.raises(LoadError, match="no such file"):
        expand_paths([str(tmp_path / "nope.yaml")])
    with pytest.raises(LoadError, match="no files match"):
        expand_paths([str(tmp_path / "*.nothing")])


def test_json_documents_load(tmp_path):
    (tmp_path / "x.json").write_text('{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "j"}}')
    r = load([str(tmp_path / "x.json")])
    assert not r.problems and len(r.skipped) == 1


def test_stdin():
    r = load(["-"], stdin_text=POD)
    assert r.files == ["<stdin>"] and len(r.skipped) == 1


def test_unknown_kind_in_own_group_is_a_finding():
    text = "apiVersion: isovalent.com/v1alpha1\nkind: LBServce\nmetadata:\n  name: x\n"
    rep = lint_text(text)
    probs = [p for p in rep.problems if p.rule == "unknown-kind"]
    assert len(probs) == 1 and probs[0].line == line_of(text, "kind: LBServce")
    assert "LBService" in probs[0].message
    assert rep.summary["invalid"] == 1 and rep.summary["skipped"] == 0


def test_non_string_mapping_key_is_a_schema_finding():
    text = ("apiVersion: cilium.io/v2alpha1\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: p\n"
            "spec:\n  blocks:\n    - cidr: 10.0.0.0/24\n      : oops\n")
    rep = lint_text(text)
    probs = [p for p in rep.problems if p.rule == "schema"]
    assert [p.line for p in probs] == [8] and "not a string" in probs[0].message
    assert not [p for p in rep.problems if p.rule == "internal-error"]


# -- nothing is skipped silently: unreadable paths are errors naming them (exit 2) ---------------

import errno  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from lbcli.cli.main import app  # noqa: E402
from lbcli.manifest import loader as loader_mod  # noqa: E402

CLI = str(Path(sys.executable).parent / "cilium-lb")


def _tree(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "a.yaml").write_text(POD)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text(POD.replace("name: p", "name: q"))
    return tmp_path


def _failing_scandir(monkeypatch, victim: Path, err: int):
    real = os.scandir

    def scandir(path="."):
        if Path(path) == victim:
            raise OSError(err, os.strerror(err), str(path))
        return real(path)

    monkeypatch.setattr(loader_mod.os, "scandir", scandir)


@pytest.mark.parametrize("err", [errno.EACCES, errno.EIO, errno.ENOENT], ids=["denied", "eio", "vanished"])
def test_unreadable_subdirectory_is_exit_2_naming_it(tmp_path, monkeypatch, err):
    # tests run as root, whom permission bits do not stop: the failure is injected where the
    # walk opens the directory (a directory that vanishes mid-walk fails the same way)
    root = _tree(tmp_path)
    _failing_scandir(monkeypatch, root / "sub", err)
    with pytest.raises(LoadError, match=f"{root / 'sub'}: cannot read directory: {os.strerror(err).lower()}"):
        expand_paths([str(root)])
    for cmd in (["validate", str(root)], ["compile", str(root), "-o", str(tmp_path / "out")]):
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code == 2, (cmd, res.output)
        assert str(root / "sub") in res.output


def test_unreadable_file_is_exit_2_naming_it(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    real = os.open

    def fail_open(path, flags, *a, **k):
        if str(path).endswith("b.yaml"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, flags, *a, **k)

    monkeypatch.setattr(loader_mod.os, "open", fail_open)
    res = CliRunner().invoke(app, ["validate", str(root)])
    assert res.exit_code == 2 and f"{root / 'sub' / 'b.yaml'}: permission denied" in res.output


def test_real_failures_even_for_root(tmp_path):
    # failures permission bits cannot simulate for root, each with its path in the message
    (tmp_path / "eio.yaml").symlink_to("/proc/self/mem")  # a regular file whose read is EIO
    p = subprocess.run([CLI, "validate", str(tmp_path / "eio.yaml")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and f"{tmp_path / 'eio.yaml'}: input/output error" in p.stderr
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    for name, words in (("loop.yaml", "too many levels of symbolic links"), ("gone.yaml", "broken symbolic link")):
        with pytest.raises(LoadError, match=f"{tmp_path / name}: {words}"):
            load([str(tmp_path / name)])
    # inside a directory walk too: never skipped
    d = tmp_path / "d"
    d.mkdir()
    (d / "ok.yaml").write_text(POD)
    (d / "gone.yaml").symlink_to(d / "nowhere.yaml")
    p = subprocess.run([CLI, "validate", str(d)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and f"{d / 'gone.yaml'}: broken symbolic link" in p.stderr


def test_symlinked_directories_are_followed_once(tmp_path):
    root = _tree(tmp_path / "root")
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.yaml").write_text(POD.replace("name: p", "name: r"))
    (root / "linked").symlink_to(other)  # was skipped silently by os.walk
    (root / "sub" / "cycle").symlink_to(root)  # a link cycle ends where it started
    files = expand_paths([str(root)])
    assert [Path(f).relative_to(root).as_posix() for f in files] == ["a.yaml", "linked/c.yaml", "sub/b.yaml"]


@pytest.mark.parametrize("walk", ["c", "python"])
def test_positions_match_the_composed_nodes_on_every_example_path(monkeypatch, walk):
    # the event-stream lookups (first: streamed, then: the document's tree) give what PyYAML's
    # composed node graph gives, for every existing path, key or value, and for missing ones;
    # with the C walks (the _yamlpos extension) and with the Python walks they stand in for
    import yaml

    from lbcli.manifest import positions
    from lbcli.manifest.documents import split_documents
    from lbcli.manifest.positions import PositionIndex

    monkeypatch.setattr(positions, "_TREE_MIN_CHARS", 0)  # trees for small documents too
    if walk == "python":
        monkeypatch.setattr(positions, "_accel", None)
    elif positions._accel is None:
        pytest.skip("C extension _yamlpos not built")

    def composed(root, line0, path, key):
        node = root
        mark = node.start_mark
        for i, step in enumerate(path):
            nxt = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == str(step):
                        if key and i == len(path) - 1:
                            return line0 + k.start_mark.line + 1, k.start_mark.column + 1
                        nxt = v
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                nxt = node.value[step]
            if nxt is None:
                break
            node, mark = nxt, nxt.start_mark
        return line0 + mark.line + 1, mark.column + 1

    def paths(obj, prefix=()):
        yield prefix
        if isinstance(obj, dict):
            yield prefix + ("missing",)
            for k, v in obj.items():
                yield from paths(v, prefix + (k,))
        elif isinstance(obj, list):
            yield prefix + (len(obj),)
            for i, v in enumerate(obj):
                yield from paths(v, prefix + (i,))

    root = Path(__file__).resolve().parent.parent / "examples"
    wide = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\ndata:\n"
            + "".join(f"  k{i}: {{a: [{', '.join(str(j) for j in range(i))}], '{i}': x}}\n" for i in range(20))
            + "list:\n" + "".join(f"  - {{i: {i}}}\n  - [{i}, {{z: {i}}}]\n" for i in range(10)))
    texts = [f.read_text() for f in sorted(root.rglob("*.yaml"))] + [wide]
    checked = 0
    for text in texts:
        f = text[:40]
        for chunk in split_documents(text):
            value = yaml.safe_load(chunk.text)
            root_node = yaml.compose(chunk.text, Loader=yaml.CSafeLoader)
            tree = PositionIndex(chunk)
            tree.locate(())  # the next lookups use the document's tree
            for path in paths(value):
                for key in (False, True):
                    want = composed(root_node, chunk.line, path, key)
                    streamed = PositionIndex(chunk).locate(path, key)
                    assert streamed == want == tree.locate(path, key), (f, path, key)
                    checked += 1
    assert checked > 1000


@pytest.mark.parametrize("text", [
    "a: 1\n---\nb: [1, 2]\n---\nc: {d: e}\n",
    "# head\n---\na: 1\n---\n# only a comment\n---\nb: 2\n",
    "---\n---\na: 1\n---\nb: 2\n",
    "a: 1\n...\n---\nb: 2\n",
    "a: 1\n--- {b: 2}\n---\nc: 3\n",
    "%YAML 1.2\n---\na: 1\n---\nb: 2\n",
    "a: 1\n---\nb: 1\nb: 2\n---\nc: 3\n",  # a duplicate key in the second document
    "a: 1\n---\n- x\n- y\n---\nnull\n---\nc: 3\n",
])
def test_a_file_parsed_as_one_stream_loads_as_document_by_document(text, monkeypatch):
    """The one-call parse of a file's documents gives exactly what parsing each document alone
    gives: values, document indexes and lines, and located errors."""
    import lbcli.manifest.loader as loader

    added = []
    real = loader._add_object
    monkeypatch.setattr(loader, "_add_object", lambda v, doc, prefix, r: (added.append((doc.index, v)),
                                                                          real(v, doc, prefix, r)))

    def shape(r):
        got = ([(d.index, d.line0) for d in r.documents], list(added),
               [(p.line, p.column, p.rule, p.message) for p in r.problems], r.broken)
        added.clear()
        return got

    stream = LoadResult()
    loader.load_text("f.yaml", text, stream)
    streamed = shape(stream)
    monkeypatch.setattr(loader, "_parse_stream", lambda text, chunks: None)
    alone = LoadResult()
    loader.load_text("f.yaml", text, alone)
    assert streamed == shape(alone)
    assert streamed[1] or streamed[2]


def _reference_split(text: str) -> list[tuple[int, int, int, str]]:
    """(line, start, end, marker_rest) of each document, read line by line: a line starting
    with `---` or `...` followed by a blank or its end is a marker; the text after `---` on
    its line belongs to the next document (padded onto its own line); a piece holding only
    blanks, comments and directives is no document."""
    import re

    out, start, line, rest, first_line = [], 0, 0, "", 0
    offset = 0
    for n, raw in enumerate(text.splitlines(keepends=True)):
        if raw[:3] in ("---", "...") and raw[3:4] in ("", " ", "\t", "\r", "\n"):
            out.append((first_line, start, offset, rest))
            after = raw[3:].strip()
            rest = after if raw[0] == "-" else ""
            start, first_line = offset + len(raw), n + 1  # a padded document: on line n
        offset += len(raw)
    out.append((first_line, start, len(text), rest))
    docs = []
    for line0, s, e, rest in out:
        padded = bool(rest) and not rest.startswith("#")
        if padded or re.search(r"^[ \t]*[^\s#%]", text[s:e], re.M):
            docs.append((line0 - 1 if padded else line0, s, e, rest if padded else ""))
    return docs


def test_split_documents_matches_a_line_by_line_reading():
    # (it found `--- {...}` as the last line without a newline placed on line 0)
    # split_documents finds `---` markers where str.split cuts at "\n---"; a line-by-line
    # reading must agree on every odd marker form
    import random

    from lbcli.manifest.documents import split_documents

    pieces = ["---", "...", "----", "---x", "--- {a: 1}", "--- # c", "--- !t", "a: 1", "# c", "%YAML 1.2",
              "", " ", "\t", "b", "- x", "---\t", "---\r", "..."]
    rng = random.Random(16)
    texts = ["", "---", "---\n", "a: 1\n---", "a: 1\n---\nb: 2\n", "\n---\n---\n", "a\n----\nb\n---x\nc\n"]
    texts += ["\n".join(rng.choice(pieces) for _ in range(rng.randint(1, 10))) + rng.choice(["", "\n"])
              for _ in range(3000)]
    for text in texts:
        got = [(c.line, c.start, c.end, c.marker_rest) for c in split_documents(text)]
        assert got == _reference_split(text), text
        assert [c.index for c in split_documents(text)] == list(range(len(got)))


def test_parse_network_is_ip_network():
    import ipaddress

    from lbcli.manifest.addr import parse_network

    texts = ["10.0.0.0/24", "10.0.0.7/24", "0.0.0.0/0", "255.255.255.255/32", "10.0.0.0/33", "10.0.0.0/08",
             "010.0.0.0/8", "256.0.0.0/8", "1.2.3.4/", "1.2.3.4", "1.2.3.4/99", "fd00::/8", "fd00::1/64",
             " 1.2.3.4/8", "1.2.3.4/8 ", "1.2.3.4/-1", "", "x"]
    for text in texts:
        try:
            want = ipaddress.ip_network(text, strict=False)
        except ValueError:
            want = None
        got = parse_network(text)
        assert got == want and type(got) is type(want) and str(got) == str(want), text


def test_bom_and_sizes_read_exactly(tmp_path):
    from lbcli.manifest.loader import read_text

    p = tmp_path / "bom.yaml"
    p.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_text(str(p)) == ("a: 1\n", None)  # the BOM dropped, as utf-8-sig does
    p.write_bytes(b"a: \xc3\xa9\n" * 5000)  # more than one read's worth, multi-byte characters
    assert read_text(str(p)) == ("a: \u00e9\n" * 5000, None)
    text, err = read_text(str(p), max_size=100)
    assert text is None and "over the 100 bytes limit" in err


def test_document_on_a_last_marker_line_without_newline_is_located_there():
    report = lint_text("--- {apiVersion: v1, kind: Node, metadata: {name: BAD_}}")
    assert report.problems and {(p.line, p.column) for p in report.problems} == {(1, 45), (1, 51)}
