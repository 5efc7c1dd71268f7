"""Precise diagnostics for a document the fast parser rejected.

yaml_rs stops at the first error without a position for some of them (duplicate keys); PyYAML's
composer gives a mark for syntax errors, and a walk over its nodes finds duplicate keys. The
loader calls this only for text within the nesting and alias limits (limits.py): the composer
recurses per level, and the node graph is walked once per node, never per path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_COL = re.compile(r"line (\d+), column (\d+)")


@dataclass(frozen=True, slots=True)
class SyntaxIssue:
    line: int  # 1-based, within the file
    column: int
    message: str


def diagnose(text: str, line0: int, fast_error: str) -> SyntaxIssue:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = e.problem or str(e)
        if e.context:
            what = f"{what} ({e.context})"
        if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
            what = "tab character in indentation (YAML allows spaces only)"
        line = line0 + (mark.line + 1 if mark else 1)
        col = mark.column + 1 if mark else 1
        return SyntaxIssue(line, col, _clean(what))
    except yaml.YAMLError as e:  # reader errors: control characters and the like
        return SyntaxIssue(line0 + 1, 1, _clean(str(e)))
    dup = _find_duplicate(node)
    if dup is not None:
        knode, first = dup
        return SyntaxIssue(
            line0 + knode.start_mark.line + 1,
            knode.start_mark.column + 1,
            f"duplicate key '{knode.value}' (first defined on line {line0 + first.start_mark.line + 1})",
        )
    # PyYAML accepts what yaml_rs refused (YAML 1.1 vs 1.2 corner): report yaml_rs's words
    m = _LINE_COL.search(fast_error)
    first_line = fast_error.strip().splitlines()[0] if fast_error.strip() else "invalid YAML"
    detail = [ln.strip() for ln in fast_error.splitlines() if ln.strip() and "|" not in ln]
    msg = detail[-1] if len(detail) > 1 else first_line
    if m:
        return SyntaxIssue(line0 + int(m.group(1)), int(m.group(2)), _clean(msg))
    return SyntaxIssue(line0 + 1, 1, _clean(msg))


def _char_at(text: str, line: int, col: int) -> str:
    lines = text.splitlines()
    return lines[line][col] if 0 <= line < len(lines) and 0 <= col < len(lines[line]) else ""


def _find_duplicate(node):
    # aliases make the node graph shared: visit each node once (walking it as a tree is
    # exponential in an alias bomb)
    stack = [node] if node is not None else []
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        kind = type(n).__name__
        if kind == "MappingNode":
            keys: dict = {}
            for knode, vnode in n.value:
                k = getattr(knode, "value", None)
                if isinstance(k, str):
                    if k in keys and k != "<<":
                        return knode, keys[k]
                    keys[k] = knode
                stack.append(vnode)
        elif kind == "SequenceNode":
            stack.extend(n.value)
    return None


def _clean(msg: str) -> str:
    return " ".join(msg.split())
