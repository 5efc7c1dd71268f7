"""Shared reads of Secrets for the certificate and basic-auth rules: decoded values with the
path they came from, which LBServices use a Secret and how, and PEM parsing.

Secret values never leave these helpers in messages: only key names, subjects and dates."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterator

from ...manifest.index import ResourceIndex
from ...manifest.resource import Resource, get_in
from ...model import secrets as secret_model
from ...model.secrets import Value  # noqa: F401  (what value() returns)
from ...model.apps import TLS_TERMINATING, application

TLS_TYPE = "kubernetes.io/tls"
TLS_APPS = TLS_TERMINATING


def value(secret: Resource, key: str) -> Value | None:
    """The value of `key` as the API server decodes it (lbcli.model.secrets)."""
    return secret_model.value(secret.body, key)


def keys(secret: Resource) -> list[str]:
    return secret_model.keys(secret.body)


def anchor(secret: Resource) -> tuple:
    """Where to point when a key is missing: the data block, else the Secret's name."""
    for block in ("data", "stringData"):
        if isinstance(secret.body.get(block), dict):
            return (block,)
    return ("metadata", "name")


@dataclass(frozen=True)
class CertUse:
    """An LBService listener that serves the certificate of a Secret."""

    service: Resource
    app: str
    index: int  # position in tlsConfig.certificates

    @property
    def path(self) -> tuple:
        return ("spec", "applications", self.app, "tlsConfig", "certificates", self.index, "secretRef", "name")


def cert_uses(index: ResourceIndex) -> Iterator[tuple[CertUse, Resource | None]]:
    """Every tlsConfig.certificates[] reference of valid LBServices with its Secret (None if
    missing: the ref-secret rule reports that)."""
    for svc in index.valid("LBService"):
        app = application(svc)
        if app is None or app[0] not in TLS_APPS:
            continue
        for i, cert in enumerate(get_in(app[1], ("tlsConfig", "certificates"), []) or []):
            name = get_in(cert, ("secretRef", "name"))
            if isinstance(name, str):
                yield CertUse(svc, app[0], i), index.secret(svc.namespace or "default", name)


@dataclass
class TlsSecret:
    secret: Resource
    users: list[Resource] = field(default_factory=list)  # LBServices serving it, sorted

    def used_by(self) -> str:
        if not self.users:
            return "not used by any LBService"
        return "used by " + ", ".join(f"LBService {s.key}" for s in self.users)


def tls_secrets(index: ResourceIndex) -> list[TlsSecret]:
    """Secrets referenced as certificates plus every valid kubernetes.io/tls Secret."""
    found: dict[int, TlsSecret] = {}
    for use, secret in cert_uses(index):
        if secret is not None and secret.valid:
            entry = found.setdefault(id(secret), TlsSecret(secret))
            if use.service not in entry.users:
                entry.users.append(use.service)
    for secret in index.valid("Secret"):
        if secret.body.get("type") == TLS_TYPE:
            found.setdefault(id(secret), TlsSecret(secret))
    out = sorted(found.values(), key=lambda t: (t.secret.namespace or "", t.secret.name))
    for t in out:
        t.users.sort(key=lambda s: s.key)
    return out


def load_certs(pem: bytes) -> list[Any]:
    """Every certificate of a PEM bundle; ValueError with a short reason otherwise."""
    return list(_parse_certs(pem))


@functools.lru_cache(maxsize=256)  # three rules read the same bundles
def _parse_certs(pem: bytes) -> tuple[Any, ...]:
    from cryptography import x509

    if b"-----BEGIN CERTIFICATE-----" not in pem:
        if b"PRIVATE KEY-----" in pem:
            raise ValueError("holds a private key, not a certificate")
        raise ValueError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        return tuple(x509.load_pem_x509_certificates(pem))
    except ValueError:
        # cryptography's text is generic (a URL to its docs); say what is wrong instead
        raise ValueError("has a PEM certificate that does not parse as X.509 (DER inside is broken)") from None


def chain(secret: Resource) -> list[Any] | None:
    """The certificates of tls.crt, or None when absent or broken (tls-secret reports it)."""
    v = value(secret, "tls.crt")
    if v is None or v.data is None:
        return None
    try:
        return load_certs(v.data)
    except ValueError:
        return None


def subject(cert: Any) -> str:
    """A short name for messages: the first DNS SAN, else the subject CN, else the serial."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
        if names:
            return names[0]
    except x509.ExtensionNotFound:
        pass
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value) if cn else f"serial {cert.serial_number:x}"


def dns_names(cert: Any) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n.lower() for n in san.get_values_for_type(x509.DNSName)]
