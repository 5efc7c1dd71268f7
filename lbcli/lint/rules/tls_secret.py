"""TLS Secrets hold a PEM certificate chain in tls.crt and its matching private key in tls.key.

HAProxy loads tls.crt followed by tls.key as one bundle; a bundle whose key belongs to another
certificate (a renewed certificate next to the old key, swapped Secrets) makes HAProxy refuse
the whole configuration on reload, so every listener of the node stays on the old config.

Checked, for every Secret an LBService names in `tlsConfig.certificates` and every Secret of
type kubernetes.io/tls (used or not), at the Secret's own key:

- `data` values are valid base64 (`stringData`, plain text, is accepted and wins over `data`);
- tls.crt holds one or more PEM certificates (leaf first, then intermediates);
- tls.key holds an unencrypted PEM private key (HAProxy has no passphrase to decrypt it);
- the key's public key is the leaf's (the first certificate), compared as SubjectPublicKeyInfo;
- ca.crt, when present, holds PEM certificates.

Missing keys of referenced Secrets and wrong Secret types are reported at the reference by
ref-secret. Messages name the LBServices that use the Secret and never quote its content.

Example (error):

    data:
      tls.key: LS0tLS1CRUdJTi...   # tls.key does not match the certificate in tls.crt
"""

from __future__ import annotations

from typing import Any, Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._tls import TLS_TYPE, TlsSecret, anchor, load_certs, subject, tls_secrets, value

ID = "tls-secret"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for entry in tls_secrets(ctx.index):
        yield from _check_secret(entry)


def _check_secret(entry: TlsSecret) -> Iterator[Finding]:
    secret = entry.secret
    who = f"Secret {secret.key} ({entry.used_by()})"
    crt, key = value(secret, "tls.crt"), value(secret, "tls.key")
    if crt is None or key is None:
        # referenced Secrets: ref-secret reports missing keys at the reference
        if not entry.users and secret.body.get("type") == TLS_TYPE:
            missing = " and ".join(k for k, v in (("tls.crt", crt), ("tls.key", key)) if v is None)
            yield Finding(secret, anchor(secret), f"{who}: type {TLS_TYPE} needs {missing}", key=True)
    certs = None
    if crt is not None:
        if crt.error:
            yield Finding(secret, crt.path, f"{who}: {crt.error}")
        else:
            try:
                certs = load_certs(crt.data or b"")
            except ValueError as e:
                yield Finding(secret, crt.path, f"{who}: tls.crt {e}")
    private = None
    if key is not None:
        if key.error:
            yield Finding(secret, key.path, f"{who}: {key.error}")
        else:
            private, problem = _load_key(key.data or b"")
            if problem:
                yield Finding(secret, key.path, f"{who}: tls.key {problem}")
    if certs and private is not None and key is not None:
        problem = _mismatch(certs, private)
        if problem:
            yield Finding(secret, key.path, f"{who}: {problem}")
    ca = value(secret, "ca.crt")
    if ca is not None:
        if ca.error:
            yield Finding(secret, ca.path, f"{who}: {ca.error}")
        else:
            try:
                load_certs(ca.data or b"")
            except ValueError as e:
                yield Finding(secret, ca.path, f"{who}: ca.crt {e}")


def _load_key(pem: bytes) -> tuple[Any, str | None]:
    from cryptography.hazmat.primitives import serialization

    if b"PRIVATE KEY-----" not in pem:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            return None, "holds a certificate, not a private key (are tls.crt and tls.key swapped?)"
        return None, "holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
    if b"ENCRYPTED" in pem:
        return None, "is encrypted; HAProxy needs an unencrypted private key"
    try:
        return serialization.load_pem_private_key(pem, password=None), None
    except TypeError:
        return None, "is encrypted; HAProxy needs an unencrypted private key"
    except (ValueError, Exception) as e:  # unsupported algorithm raises its own type
        return None, f"does not parse as a private key ({type(e).__name__})"


def _spki(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _mismatch(certs: list[Any], private: Any) -> str | None:
    mine = _spki(private.public_key())
    spkis = [_spki(c.public_key()) for c in certs]
    if spkis[0] == mine:
        return None
    if mine in spkis:
        k = spkis.index(mine)
        return (f"tls.key belongs to certificate {k + 1} of {len(certs)} in tls.crt ({subject(certs[k])}); "
                "put that leaf certificate first")
    return f"tls.key does not match the certificate in tls.crt ({subject(certs[0])})"
