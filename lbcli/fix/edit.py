"""An Edit: what a rule's fix changes, as splices of the file's text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    start: int  # character offsets into the file's text; start == end inserts
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Edit:
    description: str  # "renamed 'prot' to 'port'": said after `fixed:`
    changes: tuple[Change, ...]

    def span(self) -> tuple[int, int]:
        return min(c.start for c in self.changes), max(c.end for c in self.changes)


def apply_changes(text: str, changes: list[Change]) -> str:
    """`text` with non-overlapping changes applied (from the end, so offsets stay valid)."""
    out = text
    for c in sorted(changes, key=lambda c: (c.start, c.end), reverse=True):
        out = out[: c.start] + c.text + out[c.end :]
    return out


def overlaps(a: Edit, b: Edit) -> bool:
    """Two edits touch the same text (an insertion at the edge of a replacement counts)."""
    for x in a.changes:
        for y in b.changes:
            if x.start < y.end and y.start < x.end:
                return True
            if x.start == y.start or (x.start == x.end and y.start <= x.start <= y.end) or (
                    y.start == y.end and x.start <= y.start <= x.end):
                return True
    return False
