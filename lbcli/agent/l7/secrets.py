"""Secret material -> the files HAProxy reads: certificate+key PEM bundles, CA files and a
userlist for basic auth. Nothing here prints or logs secret content."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from ...model import htpasswd

Secrets = Mapping[str, Mapping[str, Any]]  # {"ns/name": {"tls.crt": bytes, ...}}



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
        return hash_.startswith(htpasswd.CRYPT_STRONG + htpasswd.CRYPT_WEAK)


@dataclass(frozen=True)
class Users:
    entries: tuple[tuple[str, str], ...]  # (name, crypt hash), sorted by name
    sha1: tuple[tuple[str, str], ...]  # (name, base64 SHA-1) from htpasswd's {SHA} scheme
    rejected: tuple[str, ...]  # user names whose hash HAProxy cannot check (never the hash)


def parse_htpasswd(data: bytes) -> Users:
    """htpasswd lines as lbcli.model.htpasswd reads them (the same lines and schemes lint
    checks): crypt(3) hashes go to a HAProxy userlist, `{SHA}` ones are checked with
    HAProxy's sha1/base64 converters, anything else is rejected (HAProxy cannot check it). A
    crypt scheme this host's libcrypt lacks is rejected too. The last line of a user wins."""
    entries: dict[str, str] = {}
    sha1: dict[str, str] = {}
    rejected: set[str] = set()
    lines = htpasswd.parse(data)
    for ln in lines:
        if not ln.well_formed or not ln.user_ok:
            rejected.add(ln.user if ln.user_ok else "<invalid name>")
    for name, ln in htpasswd.effective(lines).items():
        if ln.scheme is htpasswd.Scheme.SHA1:
            sha1[name] = ln.hash[5:]
        elif ln.scheme in (htpasswd.Scheme.CRYPT, htpasswd.Scheme.CRYPT_WEAK) and crypt_supported(ln.hash):
            entries[name] = ln.hash
        else:
            rejected.add(name)
    return Users(
        entries=tuple(sorted(entries.items())),
        sha1=tuple(sorted(sha1.items())),
        rejected=tuple(sorted(rejected)),
    )
