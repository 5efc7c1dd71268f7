"""How much a tier-1 Maglev table moves: slots that send flows to another T2 node."""

from __future__ import annotations

import base64
from array import array


def _names(table: dict) -> list[str] | None:
    """Per slot the T2 node name (tables index into their own t2Nodes list, so raw indexes of
    two tables are not comparable); None when the table cannot be decoded."""
    if table.get("encoding") != "u16le-base64":
        return None
    try:
        raw = base64.b64decode(table.get("table") or "", validate=True)
    except (ValueError, TypeError):
        return None
    a = array("H")
    a.frombytes(raw[: len(raw) // 2 * 2])
    import sys

    if sys.byteorder != "little":
        a.byteswap()
    nodes = table.get("t2Nodes") or []
    return [nodes[i] if i < len(nodes) else "?" for i in a]


def short(digest: str | None) -> str:
    return f"{digest[:8]}.." if digest else "none"


def table_change(old: dict | None, new: dict | None) -> str | None:
    """"maglev table sha256 ab12.. -> cd34.., 8190 slots changed", or None when equal."""
    if (old or {}).get("sha256") == (new or {}).get("sha256"):
        return None
    text = f"maglev table sha256 {short((old or {}).get('sha256'))} -> {short((new or {}).get('sha256'))}"
    if not old or not new:
        return text
    if old.get("size") != new.get("size"):
        return f"{text}, size {old.get('size')} -> {new.get('size')}"
    a, b = _names(old), _names(new)
    if a is None or b is None or len(a) != len(b):
        return text
    moved = sum(1 for x, y in zip(a, b) if x != y)
    return f"{text}, {moved} slots changed"
