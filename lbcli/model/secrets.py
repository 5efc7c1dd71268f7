"""Secret values as the API server reads them: `data` is base64 and `stringData` plain text
that wins over `data` for the same key.

Decoding is Go's `base64.StdEncoding` (what the API server uses for `[]byte` fields): CR and
LF are skipped, everything else must be the standard alphabet with correct `=` padding; a
value that does not decode is an error, never "decoded as far as it goes".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Value:
    """A Secret value: its bytes (None when it does not decode) and where it sits."""

    data: bytes | None
    path: tuple  # ("data", key) or ("stringData", key)
    error: str | None = None


def decode_base64(text: str) -> bytes | None:
    """`text` decoded as the API server decodes Secret.data; None when it does not decode."""
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def value(body: dict, key: str) -> Value | None:
    """The value of `key` in a Secret body (None when absent)."""
    plain = _get(body, "stringData", key)
    if isinstance(plain, str):
        return Value(plain.encode("utf-8"), ("stringData", key))
    encoded = _get(body, "data", key)
    if not isinstance(encoded, str):
        return None
    raw = decode_base64(encoded)
    if raw is None:
        return Value(None, ("data", key), f"data.{key} is not valid base64")
    return Value(raw, ("data", key))


def keys(body: dict) -> list[str]:
    """Every key of `data` and `stringData`, sorted."""
    out: set[str] = set()
    for block in ("data", "stringData"):
        b = body.get(block)
        if isinstance(b, dict):
            out.update(k for k in b if isinstance(k, str))
    return sorted(out)


def decoded(body: dict) -> dict[str, bytes]:
    """Every key that decodes, with its bytes (undecodable `data` values are left out: lint
    reports them as errors, so a valid set has none)."""
    out = {}
    for k in keys(body):
        v = value(body, k)
        if v is not None and v.data is not None:
            out[k] = v.data
    return out


def _get(body: Any, block: str, key: str) -> Any:
    b = body.get(block) if isinstance(body, dict) else None
    return b.get(key) if isinstance(b, dict) else None
