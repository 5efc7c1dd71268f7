"""Run the rules over a loaded manifest set and return the problems and the summary.

Pure: no printing, no exit codes; the CLI picks a renderer and the exit code from the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter

from ..manifest.index import ResourceIndex
from ..manifest.loader import LoadResult, paused_gc
from ..manifest.resource import Resource
from .config import LintConfig
from .finding import Context, Finding
from .problem import Problem, Severity
from .registry import all_rule_info, rules
from .suppress import Suppressions, scan


@dataclass
class LintReport:
    problems: list[Problem]
    summary: dict
    index: ResourceIndex
    load: LoadResult
    invalid: set[int] = field(default_factory=set)  # id() of resources with errors
    fixable: list[tuple[str, Finding]] = field(default_factory=list)  # reported, of rules that fix

    def count(self, at_least: Severity) -> int:
        return sum(1 for p in self.problems if p.severity >= at_least)


def lint(load: LoadResult, config: LintConfig | None = None, now: datetime | None = None,
         only: set[str] | None = None) -> LintReport:
    with paused_gc():
        return _lint(load, config, now, only)


def _lint(load: LoadResult, config: LintConfig | None, now: datetime | None, only: set[str] | None) -> LintReport:
    config = config or LintConfig()
    now = now or datetime.now(timezone.utc)
    index = ResourceIndex(load.resources)
    ctx = Context(index=index, now=now, options=config.options)
    raw: list[tuple[Problem, Resource | None]] = [(p, None) for p in load.problems]
    fixable: list[tuple[Problem, str, Finding]] = []

    for rule in rules():
        if rule.phase > 0:
            index.settle()  # the schema phase has decided validity
        if only is not None and rule.id not in only:
            continue
        if rule.id in config.severities and config.severities[rule.id] is None and rule.phase > 0:
            continue  # switched off (schema-phase rules still run: they decide validity)
        try:
            for f in rule.module.check(ctx):
                if rule.phase > 0 and not f.resource.valid and not getattr(rule.module, "ON_INVALID", False):
                    continue  # the schema finding speaks for an object that failed its schema
                raw.append((_to_problem(rule.id, rule.severity, f), f.resource))
                if rule.fixes:
                    fixable.append((raw[-1][0], rule.id, f))
                if rule.phase == 0 and (rule.severity if f.severity is None else f.severity) >= Severity.ERROR:
                    f.resource.valid = False
        except Exception as e:  # a rule bug must never become a traceback for the user
            raw.append((Problem("<rules>", 1, 1, Severity.ERROR, "internal-error",
                                f"rule {rule.id} failed: {_where(e)}"), None))

    problems, invalid, kept = _finish(raw, config, load)  # kept: sort keys of the problems shown
    summary = _summary(load, problems, invalid)
    return LintReport(problems, summary, index, load, invalid,
                      [(rid, f) for p, rid, f in fixable if p.sort_key() in kept])


def _where(e: Exception) -> str:
    """The exception's type and the line that raised it, never its text: an exception about a
    Secret can quote the value it choked on."""
    import traceback

    frames = traceback.extract_tb(e.__traceback__)
    at = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(e).__name__}{at} (a cilium-lb bug: please report it)"


def _to_problem(rule_id: str, default: Severity, f: Finding) -> Problem:
    sev = default if f.severity is None else f.severity
    if not f.resource.doc.file:  # read from a cluster: no file:line, the field path names the spot
        return Problem("", 0, 0, sev, rule_id, f.message, f.resource.ref, f.resource.doc.index,
                       field_path(f.path))
    line, col = f.resource.locate(f.path, f.key)
    return Problem(f.resource.doc.file, line, col, sev, rule_id, f.message, f.resource.ref, f.resource.doc.index)


def field_path(path) -> str:
    """("spec", "backends", 0, "ip") -> "spec.backends[0].ip"."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _finish(raw, config: LintConfig, load: LoadResult):
    info = all_rule_info()
    # names that become file and config names are checked whatever a comment or the config
    # says; where the schema rule reports the same spot, the unsuppressible finding speaks
    fixed = {r.id for r in info.values() if getattr(r.module, "UNSUPPRESSIBLE", False)}
    covered = {(p.file, p.line, p.column, p.resource, p.field) for p, _ in raw if p.rule in fixed}
    supp_cache: dict[str, Suppressions] = {}
    seen: set[tuple] = set()
    out: list[tuple[tuple, Problem]] = []
    invalid: set[int] = set()
    for p, res in raw:
        sev = p.severity
        if p.rule == "schema" and (p.file, p.line, p.column, p.resource, p.field) in covered:
            continue
        if p.rule in config.severities and p.rule not in fixed:
            override = config.severities[p.rule]
            if override is None:
                continue
            # a rule's own escalation (expired vs expiring) keeps its relative order
            sev = override if p.severity == info.get(p.rule, p).severity else max(override, p.severity)
        text = load.texts.get(p.file) if p.rule not in fixed else None
        if text is not None:
            supp = supp_cache.get(p.file)
            if supp is None:
                supp = supp_cache[p.file] = scan(text)
            if supp.hides(p.line, p.rule):
                continue
        if sev != p.severity:
            p = Problem(p.file, p.line, p.column, sev, p.rule, p.message, p.resource, p.doc, p.field)
        k = p.sort_key()
        if k in seen:
            continue
        seen.add(k)
        out.append((k, p))
        if res is not None and sev >= Severity.ERROR:
            invalid.add(id(res))
    out.sort(key=itemgetter(0))  # by sort key, made once per problem (the keys are unique)
    return [p for _, p in out], invalid, seen


def _summary(load: LoadResult, problems: list[Problem], invalid: set[int]) -> dict:
    foreign = sum(1 for r in load.resources if r.extra.get("foreign"))  # known, not carried out
    resources = len(load.resources) - foreign + load.broken
    bad = len(invalid) + load.broken
    return {
        "files": len(load.files),
        "resources": resources,
        "valid": resources - bad,
        "invalid": bad,
        "skipped": len(load.skipped) + foreign,
        "errors": sum(1 for p in problems if p.severity == Severity.ERROR),
        "warnings": sum(1 for p in problems if p.severity == Severity.WARNING),
        "infos": sum(1 for p in problems if p.severity == Severity.INFO),
    }
