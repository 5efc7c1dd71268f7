"""Secret material -> the files HAProxy reads: certificate+key PEM bundles, CA files and a
userlist for basic auth. Nothing here prints or logs secret content."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from ...grammar import HTPASSWD_USER

Secrets = Mapping[str, Mapping[str, Any]]  # {"ns/name": {"tls.crt": bytes, ...}}

# crypt(3) schemes libxcrypt knows; HAProxy hands the hash to crypt() as it is
_CRYPT_PREFIXES = ("$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$", "$y$", "$7$", "$gy$", "$sha1$")


def _bytes(v: Any) -> bytes:
    if v is None:
        return b""
    return v if isinstance(v, bytes) else str(v).encode()


def secret_value(secrets: Secrets, ref: str, key: str) -> bytes:
    return _bytes((secrets.get(ref) or {}).get(key))


def _pem_join(*parts: bytes) -> bytes:
    return b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts if p)


def cert_bundle(secrets: Secrets, ref: str) -> bytes | None:
    """Certificate chain followed by its key: the form HAProxy's `crt` expects."""
    crt, key = secret_value(secrets, ref, "tls.crt"), secret_value(secrets, ref, "tls.key")
    if not crt or not key:
        return None
    return _pem_join(crt, key)


def ca_bundle(secrets: Secrets, ref: str) -> bytes | None:
    """A client-validation CA: `ca.crt` of the secret, else its `tls.crt`."""
    ca = secret_value(secrets, ref, "ca.crt") or secret_value(secrets, ref, "tls.crt")
    return _pem_join(ca) if ca else None


@lru_cache(maxsize=64)
def crypt_supported(hash_: str) -> bool:
    """Whether this host's crypt(3) — the one HAProxy calls — understands `hash_`."""
    try:
        import ctypes

        lib = ctypes.CDLL("libcrypt.so.1")
        lib.crypt.restype = ctypes.c_char_p
        out = lib.crypt(b"probe", hash_.encode())
        return bool(out) and not out.startswith(b"*")
    except OSError:
        return hash_.startswith(_CRYPT_PREFIXES)


@dataclass(frozen=True)
class Users:
    entries: tuple[tuple[str, str], ...]  # (name, crypt hash), sorted by name
    sha1: tuple[tuple[str, str], ...]  # (name, base64 SHA-1) from htpasswd's {SHA} scheme
    rejected: tuple[str, ...]  # user names whose hash HAProxy cannot check (never the hash)


def parse_htpasswd(data: bytes) -> Users:
    """htpasswd lines `name:hash`. crypt(3) hashes go to a HAProxy userlist; `{SHA}` ones are
    checked with HAProxy's sha1/base64 converters; Apache's $apr1$ and clear-text passwords
    are rejected (HAProxy cannot check them)."""
    entries: dict[str, str] = {}
    sha1: dict[str, str] = {}
    rejected: list[str] = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hash_ = line.partition(":")
        name, hash_ = name.strip(), hash_.strip()
        if not sep or not HTPASSWD_USER.match(name):
            rejected.append(name if HTPASSWD_USER.match(name) else "<invalid name>")
            continue
        if hash_.startswith("{SHA}") and re.fullmatch(r"[A-Za-z0-9+/]{27}=", hash_[5:]):
            sha1[name] = hash_[5:]
            continue
        if not hash_.startswith("$") or not crypt_supported(hash_):
            rejected.append(name)
            continue
        entries[name] = hash_
    return Users(
        entries=tuple(sorted(entries.items())),
        sha1=tuple(sorted(sha1.items())),
        rejected=tuple(sorted(rejected)),
    )
