"""The unified diff `fix --diff` prints. Inside a Secret, every value but `apiVersion`, `kind`,
`type` and the name and namespace is shown as `<redacted>` on both sides (line for line, so a
renamed key still shows and no value does)."""

from __future__ import annotations

import difflib

from ..lint.redact import escape_controls
from .document import FixFile

REDACTED = "<redacted>"
_SHOWN = {("apiVersion",), ("kind",), ("type",), ("metadata", "name"), ("metadata", "namespace")}


def unified(name: str, before: str, after: str) -> str:
    label = escape_controls(name)
    old, new = (label, label) if label.startswith("/") else (f"a/{label}", f"b/{label}")
    out = []
    for line in difflib.unified_diff(mask_secrets(before).splitlines(keepends=True),
                                     mask_secrets(after).splitlines(keepends=True), old, new):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def mask_secrets(text: str) -> str:
    """`text` with the values of every Secret document (or List item) masked."""
    if "Secret" not in text:
        return text
    ff = FixFile("", text)
    spans: list[tuple[int, int]] = []
    for i, chunk in enumerate(ff.chunks):
        body = text[chunk.start:chunk.end]
        if "Secret" not in body:
            continue
        root = ff.root(i)
        if root is None:
            spans.append((chunk.start, chunk.end))  # not composed: all of it
            continue
        for secret in _secrets(root):
            _values(secret, (), chunk.start, spans)
    return _mask(text, spans)


def _secrets(root):
    stack, seen = [root], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        kind = type(n).__name__
        if kind == "MappingNode":
            if any(type(k).__name__ == "ScalarNode" and k.value == "kind" and type(v).__name__ == "ScalarNode"
                   and v.value == "Secret" for k, v in n.value):
                yield n
                continue
            stack.extend(v for _, v in n.value)
        elif kind == "SequenceNode":
            stack.extend(n.value)


def _values(node, path: tuple, offset: int, spans: list) -> None:
    stack = [(node, path)]
    while stack:
        n, p = stack.pop()
        kind = type(n).__name__
        if kind == "MappingNode":
            for k, v in n.value:
                key = k.value if type(k).__name__ == "ScalarNode" else None
                if type(k).__name__ != "ScalarNode":
                    stack.append((k, p + (None,)))
                stack.append((v, p + (key,)))
        elif kind == "SequenceNode":
            stack.extend((v, p + (None,)) for v in n.value)
        elif p not in _SHOWN and n.end_mark.index > n.start_mark.index:
            spans.append((n.start_mark.index + offset, n.end_mark.index + offset))


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Each line's part inside a span becomes `<redacted>` (line breaks kept)."""
    if not spans:
        return text
    out, pos = [], 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(text[pos:start])
        for piece in text[start:end].splitlines(keepends=True):
            body = piece.rstrip("\r\n")
            out.append((REDACTED if body.strip() else body) + piece[len(body):])
        pos = end
    out.append(text[pos:])
    return "".join(out)
