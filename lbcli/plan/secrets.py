"""Secret digests (the plan's side of secrets) and checking given material against a plan.

A plan names each Secret it uses with a digest of the Secret's content, so `diff` shows
"certificate changed" and a node sees a new password, without the plan holding the material.
A plain hash would let anyone holding a plan test guesses offline at billions per second (a
weak BGP password was recovered that way), so the digest is scrypt, memory-hard and slow on
purpose (`N=2**15, r=8, p=1`, 32 MiB and ~0.1 s per Secret), with a salt made of a fixed
label and the Secret's namespace/name (docs/plan-format.md, "Secret digests").

`apply --plan` gets the material from Secret manifests beside the plan: `material_for` hands a
node exactly the Secrets its plan references, each checked against the plan's digest, and
refuses naming the reference (never a value) when one is missing or differs.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Mapping

SALT_LABEL = b"cilium-lb/secret-digest/v1\0"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024  # OpenSSL's default cap (32 MiB) is exactly what N=2**15, r=8 needs


class SecretMismatch(ValueError):
    """Secret material that does not belong to the plan; the message names the reference only."""


def canonical(data: Mapping[str, bytes]) -> bytes:
    """Every key and value, length-prefixed in key order (no two contents encode alike)."""
    parts = []
    for k in sorted(data):
        kb = k.encode()
        parts.append(struct.pack(">I", len(kb)) + kb + struct.pack(">Q", len(data[k])) + data[k])
    return b"".join(parts)


def digest(data: Mapping[str, bytes] | None, ref: str = "") -> str | None:
    """Hex scrypt digest of a Secret's content, salted by its identity `ref` ("ns/name")."""
    if data is None:
        return None
    content = canonical(data)
    # one Secret is named by many listeners and nodes in one compile: pay scrypt once
    memo = (hashlib.sha256(content).digest(), ref)
    hit = _MEMO.get(memo)
    if hit is None:
        hit = hashlib.scrypt(content, salt=SALT_LABEL + ref.encode(), n=SCRYPT_N, r=SCRYPT_R,
                             p=SCRYPT_P, maxmem=_MAXMEM, dklen=32).hex()
        if len(_MEMO) >= 1024:
            _MEMO.clear()
        _MEMO[memo] = hit
    return hit


_MEMO: dict[tuple[bytes, str], str] = {}


def material_for(plan, given: Mapping[str, Mapping[str, bytes]], source: str = "--secrets") -> dict[str, dict[str, bytes]]:
    """The material of every Secret `plan` (a NodePlan) references, from `given` ("ns/name" ->
    decoded keys). A referenced Secret that is missing, or whose digest differs from the plan's,
    is a SecretMismatch naming the reference; Secrets the plan does not use are not handed on."""
    out: dict[str, dict[str, bytes]] = {}
    missing, differ = [], []
    for ref, want in plan.secret_refs().items():
        if want is None:  # compiled without that Secret: the plan carries it out without one
            continue
        data = given.get(ref)
        if data is None:
            missing.append(ref)
        elif digest(data, ref) != want:
            differ.append(ref)
        else:
            out[ref] = dict(data)
    if missing or differ:
        parts = []
        if missing:
            parts.append(f"the plan uses Secret {', '.join(missing)}, not found in {source}")
        if differ:
            parts.append(f"Secret {', '.join(differ)} in {source} does not match the digest in the plan "
                         f"(the plan was compiled from other content; compile again or give the same Secret)")
        raise SecretMismatch("; ".join(parts))
    return out
