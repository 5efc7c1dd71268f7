"""Property: whatever a user's editor leaves in a manifest, validate returns located findings and
never raises. Mutations on the data (dropped keys, wrong types, unknown fields) and on the text
(truncation, stray characters, tabs, broken indentation) of the example sets."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbcli.lint.engine import lint
from lbcli.manifest.loader import LoadResult, load_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = sorted(p for p in EXAMPLES.rglob("*.yaml"))
TEXTS = {str(p): p.read_text() for p in FILES}
DOCS = [(name, d) for name, t in TEXTS.items() for d in yaml.safe_load_all(t) if isinstance(d, dict)]

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=12),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _check(files: dict[str, str]) -> None:
    result = LoadResult()
    for name, text in files.items():
        result.files.append(name)
        result.texts[name] = text
        load_text(name, text, result)
    report = lint(result)  # must not raise
    lines = {name: max(1, text.count("\n") + 1) for name, text in files.items()}
    for p in report.problems:
        assert p.rule != "internal-error", p.message
        assert p.file in files, p
        assert 1 <= p.line <= lines[p.file] + 1, p
        assert p.column >= 1, p
    assert report.summary["resources"] >= report.summary["invalid"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_data_mutations_give_located_findings(data):
    name, doc = data.draw(st.sampled_from(DOCS))
    doc = copy.deepcopy(doc)
    paths = [p for p in _paths(doc) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step] if isinstance(parent, (dict, list)) else None
            if parent is None:
                break
        if not isinstance(parent, (dict, list)):
            continue
        key = path[-1]
        action = data.draw(st.sampled_from(["delete", "junk", "unknown"]))
        try:
            if action == "delete" and isinstance(parent, dict):
                parent.pop(key, None)
            elif action == "junk":
                parent[key] = data.draw(JUNK)
            elif isinstance(parent, dict):
                parent[data.draw(st.text(min_size=1, max_size=8))] = data.draw(JUNK)
        except (IndexError, KeyError, TypeError):
            continue
        paths = [p for p in _paths(doc) if p] or [("x",)]
    text = yaml.safe_dump(doc, sort_keys=False)
    others = {n: t for n, t in TEXTS.items() if n != name and Path(n).parent == Path(name).parent}
    _check({**others, name: text})


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(TEXTS)), st.data())
def test_text_mutations_give_located_findings(name, data):
    text = TEXTS[name]
    pos = data.draw(st.integers(0, len(text)))
    kind = data.draw(st.sampled_from(["truncate", "insert", "tab", "indent", "delete-line", "quote"]))
    if kind == "truncate":
        text = text[:pos]
    elif kind == "insert":
        text = text[:pos] + data.draw(st.text(min_size=1, max_size=4)) + text[pos:]
    elif kind == "tab":
        text = text[:pos] + "\t" + text[pos:]
    elif kind == "quote":
        text = text[:pos] + data.draw(st.sampled_from(['"', "'", "[", "{", ": ", "- ", "&a ", "*a", "!!x "])) + text[pos:]
    else:
        lines = text.splitlines(keepends=True)
        i = data.draw(st.integers(0, max(0, len(lines) - 1)))
        if lines:
            lines[i] = ("   " + lines[i]) if kind == "indent" else ""
        text = "".join(lines)
    _check({name: text})
