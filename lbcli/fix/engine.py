"""Lint, ask each fixing rule for an Edit per finding, splice, lint again (a repair can uncover
or settle another), until nothing more is fixable. Pure: texts in, texts and a report out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..lint.engine import LintReport, lint
from ..lint.registry import all_rule_info
from ..manifest.limits import Limits
from ..manifest.loader import LoadResult, load_text
from .document import FixFile
from .edit import Edit, apply_changes, overlaps

MAX_PASSES = 5  # each pass applies at least one edit; a rule that undoes another stops here


@dataclass(frozen=True)
class Applied:
    rule: str
    file: str
    line: int  # where the finding was, in the text the pass saw (1-based)
    column: int
    edit: Edit


@dataclass
class FixResult:
    report: LintReport  # what remains, linted on the fixed texts
    before: dict[str, str]  # file -> text as read, for the files that change
    after: dict[str, str]  # file -> fixed text
    applied: list[Applied] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (rule, why) when a fix failed


def fix(loaded: LoadResult, config=None, now: datetime | None = None, limits: Limits | None = None) -> FixResult:
    texts = dict(loaded.texts)
    applied: list[Applied] = []
    refused: list[tuple[str, str]] = []
    current = loaded
    report = lint(current, config, now=now)
    for _ in range(MAX_PASSES):
        edits = _edits(report, texts, refused)
        if not edits:
            break
        for name, chosen in edits.items():
            texts[name] = apply_changes(texts[name], [c for _, e in chosen for c in e.changes])
            applied.extend(a for a, _ in chosen)
        current = _reload(loaded, texts, limits)
        report = lint(current, config, now=now)
    changed = {n for n in texts if texts[n] != loaded.texts.get(n)}
    return FixResult(report, {n: loaded.texts[n] for n in changed}, {n: texts[n] for n in changed}, applied, refused)


def _edits(report: LintReport, texts: dict[str, str], refused: list) -> dict[str, list[tuple[Applied, Edit]]]:
    """Per file, the edits of this pass: in file order, none overlapping (a later one waits
    for the next pass, on the text the earlier one left)."""
    info = all_rule_info()
    files: dict[str, FixFile] = {}
    found: dict[str, list[tuple[Applied, Edit]]] = {}
    for rule_id, f in report.fixable:
        name = f.resource.doc.file
        if name not in texts:
            continue
        ff = files.get(name)
        if ff is None:
            ff = files[name] = FixFile(name, texts[name])
        view = ff.view(f.resource)
        if view is None:
            continue
        try:
            edit = info[rule_id].module.fix(f, view)
        except Exception as e:  # a fixer bug leaves the finding reported, never a traceback
            refused.append((rule_id, f"{type(e).__name__} in its fix (a cilium-lb bug: please report it)"))
            continue
        if edit is None or not edit.changes:
            continue
        line, col = f.resource.locate(f.path, f.key)
        found.setdefault(name, []).append((Applied(rule_id, name, line, col, edit), edit))
    out: dict[str, list[tuple[Applied, Edit]]] = {}
    for name, items in found.items():
        items.sort(key=lambda ae: ae[1].span())
        chosen: list[tuple[Applied, Edit]] = []
        for a, e in items:
            if any(e.changes == c.changes for _, c in chosen):
                continue  # the same text reached twice (an alias): one edit
            if not any(overlaps(e, c) for _, c in chosen):
                chosen.append((a, e))
        out[name] = chosen
    return out


def _reload(original: LoadResult, texts: dict[str, str], limits: Limits | None) -> LoadResult:
    """The set again, from the edited texts (files that could not be read keep their finding)."""
    result = LoadResult()
    for name in original.files:
        result.files.append(name)
        if name in texts:
            result.texts[name] = texts[name]
            load_text(name, texts[name], result, limits)
        else:
            result.problems.extend(p for p in original.problems if p.file == name)
            result.broken += 1
    return result
