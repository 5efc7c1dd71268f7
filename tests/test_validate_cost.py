"""Regression guard for validate's speed without timing anything: count how often the expensive
steps run per document (bench/bench_validate.py measures the time itself).

A valid document is parsed once by yaml_rs (with the other documents of its file) and never
by libyaml (no position lookups, no exact limit walk), and the schema rule does not walk it in
Python; a finding costs one position lookup. The fast screen that skips the Python walks must still let every value they catch
through to them."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

import lbcli.lint.rules.schema as schema_rule
import lbcli.manifest.limits as limits
import lbcli.manifest.positions as positions
from lbcli.lint.engine import lint
from lbcli.manifest.loader import load
from tests.lintkit import lint_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from gen_corpus import generate  # noqa: E402


@pytest.fixture
def calls(monkeypatch):
    """Counts of calls to the expensive steps during a load + lint."""
    import yaml_rs

    counts: Counter = Counter()

    def counting(owner, name, key):
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counts[key] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    counting(yaml_rs, "loads", "yaml_rs")
    counting(positions, "iter_events", "libyaml")
    counting(positions.PositionIndex, "locate", "locate")
    counting(limits, "_walk", "limit-walk")
    counting(schema_rule, "_non_string_key", "key-walk")
    counting(schema_rule, "_bad_numbers", "number-walk")
    return counts


def test_valid_documents_take_the_fast_path_only(tmp_path, calls):
    n = generate(tmp_path, 12)
    report = lint(load([str(tmp_path)]))
    assert report.summary["valid"] == n and not report.problems
    # one parse per file: a file of plain `---`-separated documents is parsed as one stream
    assert calls["yaml_rs"] == report.summary["files"] < n
    for step in ("libyaml", "locate", "limit-walk", "key-walk", "number-walk"):
        assert calls[step] == 0, step


def test_a_finding_costs_one_position_lookup(tmp_path, calls):
    n = generate(tmp_path, 12, findings=True)
    report = lint(load([str(tmp_path)]))
    assert 0 < report.summary["invalid"] < n
    assert calls["yaml_rs"] == report.summary["files"]  # schema findings: still one parse per file
    assert calls["locate"] == len(report.problems)
    assert calls["libyaml"] <= len(report.problems)


VIP = """apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata:
  name: v
spec:
  ipv4Request: "100.64.0.1"
"""


@pytest.mark.parametrize("extra, message", [
    ("  1: x\n", "is not a string; quote it"),
    ("  true: x\n", "is not a string; quote it"),
    (f"  x: {2**63}\n", "integer too large (19 digits"),
    (f"  x: {2**64 - 1}\n", "integer too large (20 digits"),
    ("  x: -9223372036854775809\n", "integer too large (19 digits"),
    ("  x: .inf\n", "number too large (infinite)"),
    ("  x: -.inf\n", "number too large (infinite)"),
    ("  x: .nan\n", "not a number (.nan)"),
], ids=["int-key", "bool-key", "2^63", "2^64-1", "below-int64", "inf", "-inf", "nan"])
def test_values_the_screen_hands_to_the_walks(extra, message):
    report = lint_text(VIP + extra)
    found = [p for p in report.problems if p.rule == "schema"]
    assert any(message in p.message for p in found), [p.message for p in report.problems]


def test_numbers_within_int64_are_not_findings():
    # 2**53 + 1 is past orjson's strict range (so walked) but a valid int64: no number finding
    report = lint_text(VIP.replace('"100.64.0.1"\n', '"100.64.0.1"\n  x: 9007199254740993\n'))
    assert not any("too large" in p.message for p in report.problems)
    assert any("unknown field 'x'" in p.message for p in report.problems)
