"""How messages show values a user wrote: escaped, capped, and never when they may be secret.

Every echoed value goes through `show` (or `describe` for secrets): control characters and
terminal escapes are written as `\\n`, `\\x1b`, `\\u202e` so a message cannot rewrite the
terminal or forge a line, long values are cut, and a value that may be secret (anything in
a Secret, a field named like a password or key, a PEM block) is described by its kind and
length only.
"""

from __future__ import annotations

import re

# C0, DEL, C1, and the Unicode format characters that reorder or hide text (Trojan Source).
# Lone surrogates (undecodable file names) and U+FFFE/U+FFFF cannot be written as UTF-8 or XML.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
                      "\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}
_SECRET_NAME = re.compile(r"(pass(word|wd|phrase)?|secret|token|credentials?|private[-_]?key|[._-]key)$", re.I)
LIMIT = 40


def escape_controls(text: str) -> str:
    """`text` with every control or invisible formatting character written as an escape."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_escape_one, text)


def _escape_one(m: re.Match) -> str:
    c = m.group(0)
    if c in _NAMED:
        return _NAMED[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def show(value, limit: int = LIMIT) -> str:
    """A value for a message: strings quoted and escaped (cut after `limit` characters),
    numbers as written unless huge, containers by kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "a too-large integer" if value.bit_length() > 64 else str(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "a number too large"
        return repr(value)
    if isinstance(value, str):
        if looks_secret_value(value):
            return describe(value)
        cut = value if len(value) <= limit else value[:limit]
        text = "'" + escape_controls(cut).replace("'", "\\'") + "'"
        return text if cut is value else f"{text}... ({len(value)} characters)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return kind_of(value)


def describe(value) -> str:
    """What a secret value is, without any of it: kind and length."""
    if isinstance(value, str):
        n = len(value)
        what = "a PEM block" if "-----BEGIN" in value else "a string"
        return f"{what} of {n} character{'' if n == 1 else 's'}"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"a number of {len(str(abs(value))) if value.bit_length() < 14000 else 'many'} digits"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, (list, dict)):
        n = len(value)
        return f"{kind_of(value)} of {n} item{'' if n == 1 else 's'}"
    return kind_of(value)


def kind_of(value) -> str:
    """The YAML kind of a value, as a user would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a " + type(value).__name__


def looks_secret_value(text: str) -> bool:
    """A PEM block (a key pasted in the wrong place) is never echoed, wherever it sits."""
    return "-----BEGIN" in text or "PRIVATE KEY" in text


def secret_field(path) -> bool:
    """A field whose own name says it holds a password or a key (`password`, `tls.key`,
    `bearerToken`); a reference such as `secretRef.name` names a Secret and is not one."""
    last = path[-1] if path and type(path[-1]) is str else next(
        (step for step in reversed(tuple(path)) if isinstance(step, str)), "")
    hit = _SECRET_FIELDS.get(last)
    if hit is None:
        hit = bool(_SECRET_NAME.search(last))
        if len(_SECRET_FIELDS) < 4096:
            _SECRET_FIELDS[last] = hit
    return hit


# field name -> secret_field's answer: a finding's field names repeat (the regex, anchored at the
# end, is tried at every position of the name)
_SECRET_FIELDS: dict[str, bool] = {}
