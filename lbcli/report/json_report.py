"""The JSON contract tools outside the project read: {"problems": [...], "summary": {...}}.

Each problem has file, line, column (1-based), severity (error|warning|info), rule, message
(and resource when known). Keys are stable; new keys may be added, none removed.
"""

from __future__ import annotations

import json


def render(report) -> str:
    doc = {"problems": [p.to_dict() for p in report.problems], "summary": report.summary}
    return dumps(doc)


def dumps(doc) -> str:
    """json.dumps(doc, indent=2, sort_keys=True) + newline, the same text, written by orjson in C
    (the standard encoder runs in Python when indenting: ~20 us a problem). orjson writes
    non-ASCII and DEL as they are where json escapes them, so such a document (and
    one orjson refuses) takes json's way."""
    import orjson

    try:
        raw = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    except TypeError:  # a lone surrogate (a file name that is not UTF-8): json escapes it
        raw = b"\x7f"
    if raw.isascii() and b"\x7f" not in raw:
        return raw.decode() + "\n"
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
