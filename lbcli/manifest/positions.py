"""Exact positions of values, found lazily with PyYAML's C composer.

The fast path (yaml_rs) yields plain values without marks; only documents that have a finding
are composed a second time, here, to turn a path such as ("spec", "port") into a 1-based
line and column. Composing is ~10x slower than the fast parse, so it is done on demand.
"""

from __future__ import annotations

from typing import Any, Sequence

Path = tuple[Any, ...]


class PositionIndex:
    """Path -> (line, column), 1-based, for one document chunk."""

    __slots__ = ("_text", "_line0", "_root", "_composed", "_fallback")

    def __init__(self, text: str, line0: int) -> None:
        self._text = text
        self._line0 = line0
        self._root = None
        self._composed = False
        self._fallback = (line0 + 1, 1)

    def _compose(self):
        if not self._composed:
            self._composed = True
            import yaml

            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            try:
                self._root = yaml.compose(self._text, Loader=loader)
            except yaml.YAMLError as e:
                # what the fast parser accepted and PyYAML does not (YAML 1.2 corners such as
                # an empty key): PyYAML's mark is the best position there is
                self._root = None
                mark = getattr(e, "problem_mark", None)
                if mark is not None:
                    self._fallback = (self._line0 + mark.line + 1, mark.column + 1)
        return self._root

    def locate(self, path: Sequence[Any], key: bool = False) -> tuple[int, int]:
        """Position of the value at `path` (or of its key when `key`); the deepest existing
        ancestor when the path does not exist (a missing field points at its parent)."""
        node = self._compose()
        if node is None:
            return self._fallback
        mark = node.start_mark
        for i, step in enumerate(path):
            last = i == len(path) - 1
            nxt = None
            if node.tag.endswith(":map") or type(node).__name__ == "MappingNode":
                for knode, vnode in reversed(node.value):  # last duplicate wins, as in the parse
                    if knode.value == str(step) or knode.value == step:
                        nxt = vnode
                        if key and last:
                            mark = knode.start_mark
                            return self._line0 + mark.line + 1, mark.column + 1
                        break
            elif type(node).__name__ == "SequenceNode" and isinstance(step, int):
                if 0 <= step < len(node.value):
                    nxt = node.value[step]
            if nxt is None:
                break
            node = nxt
            mark = node.start_mark
        return self._line0 + mark.line + 1, mark.column + 1

    def line_text(self, line: int) -> str:
        lines = self._text.splitlines()
        i = line - self._line0 - 1
        return lines[i] if 0 <= i < len(lines) else ""
