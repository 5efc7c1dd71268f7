"""Real X.509 material for tests: a CA, leaf certificates signed by it, TLS Secrets.

    ca = make_ca()
    leaf = make_leaf(ca, ["https-proxy.acme.io"], key_type="rsa")
    secret = tls_secret("https-proxy", leaf, ca=ca)          # manifest dict
    text = tls_secret_yaml("https-proxy", leaf, ca=ca)       # YAML document

Keys are ECDSA P-256 ("ec") or RSA 2048 ("rsa"). Validity defaults to one day in the past
to one year ahead; pass not_before / not_after for expired or not-yet-valid certificates.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Literal, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "rsa"]


@dataclass(frozen=True)
class CertKey:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """PKCS#8, unencrypted (what kubectl create secret tls accepts and HAProxy loads)."""
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def new_key(key_type: KeyType = "ec") -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r} (ec or rsa)")


def _validity(not_before: dt.datetime | None,
              not_after: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.timezone.utc)
    nb = not_before or now - dt.timedelta(days=1)
    na = not_after or nb + dt.timedelta(days=366)
    return nb, na


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_ca(common_name: str = "cilium-lb test CA", *, key_type: KeyType = "ec",
            not_before: dt.datetime | None = None,
            not_after: dt.datetime | None = None) -> CertKey:
    """A self-signed root CA (pathlen 0)."""
    key = new_key(key_type)
    nb, na = _validity(not_before, not_after)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertKey(cert, key)


def make_leaf(ca: CertKey, sans: Sequence[str], *, key_type: KeyType = "ec",
              common_name: str | None = None, not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None, client: bool = False) -> CertKey:
    """A leaf signed by ca. sans: DNS names and/or IP addresses. client adds clientAuth."""
    if not sans:
        raise ValueError("a leaf certificate needs at least one SAN")
    key = new_key(key_type)
    nb, na = _validity(not_before, not_after)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or sans[0])])
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    # RSA key exchange needs keyEncipherment; ECDSA only signs.
    rsa_key = isinstance(key, rsa.RSAPrivateKey)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=rsa_key,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName([_san(s) for s in sans]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return CertKey(cert, key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def tls_secret(name: str, leaf: CertKey, *, ca: CertKey | None = None,
               namespace: str = "default", chain: Sequence[CertKey] = ()) -> dict:
    """A kubernetes.io/tls Secret manifest with base64 data, as kubectl writes it.

    tls.crt holds the leaf followed by chain; ca.crt (the trust anchor) is added when ca is given.
    """
    crt = leaf.cert_pem + b"".join(c.cert_pem for c in chain)
    data = {"tls.crt": _b64(crt), "tls.key": _b64(leaf.key_pem)}
    if ca is not None:
        data["ca.crt"] = _b64(ca.cert_pem)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": dict(sorted(data.items())),
    }


def tls_secret_yaml(name: str, leaf: CertKey, *, ca: CertKey | None = None,
                    namespace: str = "default", chain: Sequence[CertKey] = ()) -> str:
    import yaml

    doc = tls_secret(name, leaf, ca=ca, namespace=namespace, chain=chain)
    return yaml.safe_dump(doc, sort_keys=False, width=1 << 20)


def htpasswd_sha(user: str, password: str) -> str:
    """One htpasswd line in the {SHA} scheme: user:{SHA}base64(sha1(password))."""
    digest = hashlib.sha1(password.encode()).digest()  # noqa: S324 - the htpasswd format itself
    return f"{user}:{{SHA}}{_b64(digest)}"
