"""Bounds on what the loader reads and parses, checked before any recursive or C parser runs.

- **Size.** A file (or stdin) larger than `max_file_size` is not read (default 32 MiB:
  several times the largest real manifest bundles, which are single-digit MiB; the
  Kubernetes API itself refuses requests over 3 MiB). Configurable with `--max-file-size` or
  `max-file-size:` in `.cilium-lb.yaml`.
- **Nesting.** A document may nest collections at most `MAX_DEPTH` (100) levels deep. yaml_rs
  and PyYAML's C composer recurse per level (50,000 `[` or `- ` crash the process) and so do
  the rules that walk a document, so depth is checked on the text first.
- **Aliases.** Aliases may make a document hold at most max(10,000, 10 x the nodes written)
  nodes once expanded (the idea of go-yaml's alias ratio, used by Kubernetes after the
  "billion laughs" CVE-2019-11253), so a 500-byte alias bomb is a finding, not a hang.

The check is two-tiered so that ordinary manifests pay almost nothing: a conservative bound
from the text (the count of `[`/`{` plus twice the widest run of leading spaces and block
indicators; no aliases) clears nearly every document with two `str.count`s and one regex
search. Only a document the bound cannot clear is walked exactly, with libyaml's event
parser, which keeps its own heap stacks and never recurses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DEPTH = 100
DEFAULT_MAX_FILE_SIZE = 32 * 1024 * 1024
ALIAS_MIN_NODES = 10_000
ALIAS_RATIO = 10

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1024**3, "gib": 1024**3}
_SIZE = re.compile(r"\s*(\d+)\s*([a-z]*)\s*", re.I)


@dataclass(frozen=True)
class Limits:
    max_file_size: int | None = DEFAULT_MAX_FILE_SIZE  # bytes; None = no limit
    max_depth: int = MAX_DEPTH


def parse_size(value: object) -> int | None:
    """`32M`, `512KiB`, `1048576`, `0` or `none` (no limit) -> bytes; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"not a size: {value}")
        return value or None
    text = str(value).strip().lower()
    if text in ("none", "off", "unlimited"):
        return None
    m = _SIZE.fullmatch(text)
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"not a size: {value!r} (use bytes or a K, M or G suffix, e.g. 32M; 0 = no limit)")
    n = int(m.group(1)) * _UNITS[m.group(2)]
    return n or None


def human_size(n: int) -> str:
    for unit, f in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= f:
            v = n / f
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class LimitIssue:
    line: int  # 0-based within the text
    column: int  # 0-based
    message: str


# an alias or anchor token: `*name` / `&name` where a node may start (after whitespace or a flow
# indicator); inside quoted scalars it over-matches, which only costs the exact walk
_ALIAS = re.compile(r"(?:^|(?<=[\s\[{,]))\*[^\s,\[\]{}]", re.M)
_ANCHOR = re.compile(r"(?:^|(?<=[\s\[{,]))&[^\s,\[\]{}]", re.M)


def _block_bound_exceeded(text: str, columns: int) -> bool:
    """Is there a line whose leading run of spaces and block indicators (`-`, `?`, `:`) is at
    least `columns` long? A chain of nested block collections advances at least one column per
    two levels (a sequence may share its mapping key's column), and every level starts inside
    that run, so block depth <= 2 * (run + 1)."""
    if columns <= 0:
        return True
    patterns = _RUNS.get(columns)
    if patterns is None:
        # a line start is the text's start or a newline: the literal newline lets the regex
        # engine skip to candidates at C speed (a `^` in multiline mode was tried at every position)
        run = "[ \t?:\\-]{%d}" % columns
        patterns = _RUNS[columns] = (re.compile(run), re.compile("\n" + run))
    at_start, after_newline = patterns
    return at_start.match(text) is not None or after_newline.search(text) is not None


_RUNS: dict[int, tuple[re.Pattern, re.Pattern]] = {}


def check_text(text: str, max_depth: int = MAX_DEPTH) -> LimitIssue | None:
    """A located issue when the document nests deeper than `max_depth` or its aliases expand
    beyond the budget; None when it is within bounds. Never recurses, never raises."""
    if within_bounds(text, max_depth):
        return None
    return _walk(text, max_depth)


def within_bounds(text: str, max_depth: int = MAX_DEPTH) -> bool:
    """The cheap screen of check_text: no alias and few enough flow brackets and indentation
    for `max_depth`. It is monotone: when a file's text passes, each of its documents does
    (their counts and runs are parts of the file's), so a file is screened once."""
    flow = text.count("[") + text.count("{")
    aliased = ("*" in text and "&" in text and _ALIAS.search(text) is not None
               and _ANCHOR.search(text) is not None)
    # depth <= 2 * (run + 1) + flow must stay <= max_depth
    return not aliased and flow < max_depth and not _block_bound_exceeded(text, (max_depth - flow) // 2)


_MEASURE_MAX_FLOW = 1_000  # flow brackets: far below what crashes yaml_rs (it refuses 256 flow levels itself)


def measurable(text: str, max_depth: int = MAX_DEPTH) -> bool:
    """Whether check_text's answer for a document the screen cannot clear is also had by parsing
    it with yaml_rs first and measuring the value (`deeper_than`; the exact walk then runs only
    to locate a violation, or to word a parse error). The walk creates every libyaml event in
    Python (~1 us each): a pool of 100 flow-style backends has 100 `{`, fails the screen and
    has 600 events. This holds when the text has no alias (nothing expands) and no tag (every
    collection stays a container, so the value nests as the text does), yaml_rs is safe at
    any depth it can have (few flow brackets, a bounded indentation), and libyaml accepts the
    text (its refusal is check_text's answer; raw_parse parses in C without making events)."""
    if "!" in text or ("*" in text and _ALIAS.search(text) is not None):
        return False
    if text.count("[") + text.count("{") >= _MEASURE_MAX_FLOW or _block_bound_exceeded(text, max_depth // 2):
        return False
    try:
        from yaml._yaml import CParser
    except ImportError:  # no libyaml: the walk
        return False
    parser = CParser(text)
    try:
        parser.raw_parse()
    except Exception:
        return False
    finally:
        parser.dispose()
    return True


def deeper_than(value, max_depth: int) -> bool:
    """Does a parsed value nest collections (keys too) more than `max_depth` levels? Level by
    level, no recursion."""
    kinds = (dict, list, tuple, set, frozenset)  # yaml_rs gives a collection key as a tuple or frozenset
    level = [value] if isinstance(value, kinds) else []
    for _ in range(max_depth):
        below = []
        for v in level:
            if type(v) is dict:
                below += [x for x in v.values() if isinstance(x, kinds)]
                below += [k for k in v if isinstance(k, (tuple, frozenset))]
            else:
                below += [x for x in v if isinstance(x, kinds)]
        if not below:
            return False
        level = below
    return True


def alias_budget(written: int) -> int:
    return max(ALIAS_MIN_NODES, ALIAS_RATIO * written)


def _walk(text: str, max_depth: int) -> LimitIssue | None:
    """Exact depth (aliases count with the depth of what they stand for) and expanded size."""
    from .positions import iter_events, yaml_error_issue
    import yaml.events as ev

    start_types = (ev.MappingStartEvent, ev.SequenceStartEvent)
    end_types = (ev.MappingEndEvent, ev.SequenceEndEvent)
    # per open collection: [start depth, max absolute depth inside, expanded size, anchor]
    stack: list[list] = []
    anchors: dict[str, tuple[int, int]] = {}  # name -> (height, expanded size)
    written = 0
    added = 0  # nodes aliases add beyond the alias node itself
    checkpoints: list[tuple[int, object, str]] = []  # (added so far, mark, alias) per alias
    try:
        for e in iter_events(text):
            t = type(e)
            if t in start_types:
                written += 1
                depth = len(stack) + 1
                if depth > max_depth:
                    m = e.start_mark
                    return LimitIssue(m.line, m.column, f"document nests deeper than {max_depth} levels "
                                      f"(the limit): refused before parsing")
                stack.append([depth, depth, 1, e.anchor])
            elif t in end_types:
                start, deepest, size, anchor = stack.pop()
                if anchor is not None:
                    anchors[anchor] = (deepest - start + 1, size)
                if stack:
                    parent = stack[-1]
                    parent[1] = max(parent[1], deepest)
                    parent[2] += size
            elif t is ev.ScalarEvent:
                written += 1
                if e.anchor is not None:
                    anchors[e.anchor] = (0, 1)
                if stack:
                    stack[-1][2] += 1
            elif t is ev.AliasEvent:
                written += 1
                height, size = anchors.get(e.anchor, (0, 1))
                deepest = len(stack) + height
                if deepest > max_depth:
                    m = e.start_mark
                    return LimitIssue(m.line, m.column, f"alias *{e.anchor} nests the document deeper than "
                                      f"{max_depth} levels (the limit)")
                added += size - 1
                checkpoints.append((added, e.start_mark, e.anchor))
                if stack:
                    stack[-1][1] = max(stack[-1][1], deepest)
                    stack[-1][2] += size
    except Exception as exc:
        # libyaml refused the text. JSON it refuses (tab-indented, as Go's MarshalIndent writes)
        # is measured as JSON; anything else: libyaml's words are the finding (see module doc)
        if _is_json(text):
            return _json_depth(text, max_depth)
        return yaml_error_issue(exc)
    budget = alias_budget(written)
    if added > budget:
        for cum, m, name in checkpoints:
            if cum > budget:
                return LimitIssue(
                    m.line, m.column,
                    f"aliases expand this document by more than {budget:,} nodes (here, at *{name}): the limit "
                    f"is {ALIAS_RATIO} times the {written:,} nodes written, and at least {ALIAS_MIN_NODES:,}")
    return None


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _is_json(text: str) -> bool:
    import json

    try:
        json.loads(text)  # C, but bounded: deep input raises RecursionError, never crashes
    except RecursionError:
        return True  # well-formed enough to be that deep; measured below
    except ValueError:
        return False
    return True


def _json_depth(text: str, max_depth: int) -> LimitIssue | None:
    """Exact for JSON text: brackets outside strings (no aliases exist in JSON)."""
    depth = 0
    for m in _JSON_TOKEN.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > max_depth:
                at = m.start()
                line = text.count("\n", 0, at)
                return LimitIssue(line, at - (text.rfind("\n", 0, at) + 1),
                                  f"document nests deeper than {max_depth} levels (the limit): refused before parsing")
        elif c in "]}":
            depth -= 1
    return None
