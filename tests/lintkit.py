"""Helpers for rule tests: lint YAML text held in memory and find problems by rule and line."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path

from lbcli.lint.engine import LintReport, lint
from lbcli.lint.problem import Problem
from lbcli.manifest.loader import LoadResult, load_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def lint_texts(files: dict[str, str], now: datetime = NOW) -> LintReport:
    """Lint several in-memory files ({name: yaml text}); text is dedented."""
    result = LoadResult()
    for name, text in files.items():
        text = textwrap.dedent(text).lstrip("\n")
        result.files.append(name)
        result.texts[name] = text
        load_text(name, text, result)
    return lint(result, now=now)


def lint_text(text: str, now: datetime = NOW) -> LintReport:
    return lint_texts({"test.yaml": text}, now)


def lint_example(name: str, extra: dict[str, str] | None = None, now: datetime = NOW) -> LintReport:
    """An example set from examples/<name>/ plus extra in-memory files (to break it)."""
    files = {str(p): p.read_text() for p in sorted((EXAMPLES / name).rglob("*.y*ml"))}
    files.update(extra or {})
    return lint_texts(files, now)


def by_rule(report: LintReport, rule: str) -> list[Problem]:
    return [p for p in report.problems if p.rule == rule]


def lines_of(report: LintReport, rule: str) -> list[int]:
    return [p.line for p in by_rule(report, rule)]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle` in dedented text (to assert lines
    without hard-coding numbers)."""
    text = textwrap.dedent(text).lstrip("\n")
    hits = [i for i, ln in enumerate(text.splitlines(), start=1) if needle in ln]
    if len(hits) < nth:
        raise AssertionError(f"{needle!r} not found {nth} time(s)")
    return hits[nth - 1]


def compiled_json(index, *args, **kwargs):
    """compile_plans with each plan in its JSON form (for tests that look into or edit plans
    as JSON; the plans were built and checked as NodePlans)."""
    from lbcli.compile.plan import compile_plans

    c = compile_plans(index, *args, **kwargs)
    c.plans = {n: p.to_json() for n, p in c.plans.items()}
    return c


def compile_docs(docs: list[dict], node: str, accept=lambda problem: False, now: datetime = NOW) -> dict:
    """The plan (JSON form) compile makes for `node` from manifest objects `docs`, after lint
    (at `now`: certificates made by the test run want the real time): an error finding fails
    the test (with the findings), unless `accept(problem)` says it is the one the case is about."""
    import yaml

    from lbcli.lint.problem import Severity

    report = lint_texts({"set.yaml": yaml.safe_dump_all(docs, sort_keys=False)}, now)
    errors = [f"{p.line}:{p.column} {p.rule} {p.message}" for p in report.problems
              if p.severity >= Severity.ERROR and not accept(p)]
    assert not errors, "the manifest set has errors:\n" + "\n".join(errors)
    return compiled_json(report.index).plans[node]
