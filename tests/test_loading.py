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


POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"


def test_multi_document_with_start_lines():
    text = "---\n" + POD + "---\n# only a comment\n---\n" + POD.replace("name: p", "name: q")
    r = _load(text)
    assert [s.line for s in r.skipped] == [2, 9]
    assert [d.index for d in r.documents] == [0, 1]


def test_list_kind_expands_items_with_positions():
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: isovalent.com/v1alpha1\n    kind: LBNope\n    metadata: {name: a}\n"
        "  - apiVersion: v1\n    kind: Pod\n    metadata: {name: b}\n"
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
    (tmp_path / "x.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}')
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
