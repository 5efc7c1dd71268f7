"""Secret material: decoded for the agent, and digests for plans (which never hold secrets).

A plan names each Secret it uses with a digest of the Secret's content, so `diff` shows
"certificate changed" and a node sees a new password, without the plan holding the material.
A plain hash would let anyone holding a plan test guesses offline at billions per second (a
weak BGP password was recovered that way), so the digest is scrypt, memory-hard and slow on
purpose (`N=2**15, r=8, p=1`, 32 MiB and ~0.1 s per Secret), with a salt made of a fixed
label and the Secret's namespace/name:

- deterministic: the same manifests give byte-identical plans on every machine, no state;
- change detection: any change of any key's value changes the digest;
- no precomputation: every Secret identity needs its own guessing run, at scrypt's price.

It slows guessing; it cannot make a dictionary word safe. A random BGP password or htpasswd
hash remains the defence; see docs/plan-format.md.
"""

from __future__ import annotations

import hashlib
import struct

from ..manifest.index import ResourceIndex
from ..model import secrets as secret_model

SALT_LABEL = b"cilium-lb/secret-digest/v1\0"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024  # OpenSSL's default cap (32 MiB) is exactly what N=2**15, r=8 needs


def secret_data(index: ResourceIndex, namespace: str, name: str) -> dict[str, bytes] | None:
    """The Secret's keys decoded as the API server decodes them (lbcli.model.secrets)."""
    s = index.secret(namespace, name)
    return None if s is None else secret_model.decoded(s.body)


def canonical(data: dict[str, bytes]) -> bytes:
    """Every key and value, length-prefixed in key order (no two contents encode alike)."""
    parts = []
    for k in sorted(data):
        kb = k.encode()
        parts.append(struct.pack(">I", len(kb)) + kb + struct.pack(">Q", len(data[k])) + data[k])
    return b"".join(parts)


def digest(data: dict[str, bytes] | None, ref: str = "") -> str | None:
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


class SecretStore:
    """Collects the secrets a plan references: refs + digests go into the plan, material to
    the agent."""

    def __init__(self, index: ResourceIndex) -> None:
        self.index = index
        self.material: dict[str, dict[str, bytes]] = {}

    def ref(self, namespace: str, name: str, key: str = "secretRef") -> dict:
        data = secret_data(self.index, namespace, name)
        ref = f"{namespace}/{name}"
        if data is not None:
            self.material[ref] = data
        # the field keeps its v1 name; its value is the scrypt digest (docs/plan-format.md)
        return {key: ref, "sha256": digest(data, ref)}
