"""The certificates of an httpsProxy/tlsProxy listener cover every host name its routes match.

A route for a name no certificate covers still gets its traffic, but every client fails the
handshake with a name mismatch. Wildcards are easy to misread: `*.acme.io` covers
`a.acme.io` but neither `a.b.acme.io` nor `acme.io` itself (RFC 6125).

Checked, per LBService with httpsProxy or tlsProxy: each `routes[].match.hostNames[]` entry
against the DNS subjectAltNames of the leaf certificates (first of tls.crt) of all its
`tlsConfig.certificates` Secrets (SNI picks among them):

- an exact name needs an equal SAN or a wildcard SAN one label up;
- a route wildcard `*.acme.io` needs a wildcard certificate for `*.acme.io`;
- `*` (or no hostNames) matches whatever the certificates cover and needs nothing.

The finding points at the hostName in the route. Listeners with a missing or unreadable
certificate Secret are skipped (ref-secret and tls-secret report those).

Example (error):

    hostNames:
      - a.b.acme.io     # the certificate covers *.acme.io: one label only
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import get_in
from ..finding import Context, Finding
from ..problem import Severity
from ._backend import routes
from ._tls import TLS_APPS, cert_uses, chain, dns_names

ID = "cert-san"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    listeners: dict[int, tuple] = {}
    for use, secret in cert_uses(ctx.index):
        entry = listeners.setdefault(id(use.service), (use.service, [], [True]))
        certs = chain(secret) if secret is not None and secret.valid else None
        if not certs:
            entry[2][0] = False  # unknown coverage: do not guess
            continue
        entry[1].append((secret.key, dns_names(certs[0])))
    for svc, sans, complete in listeners.values():
        if not complete[0] or not sans:
            continue
        names = sorted({n for _, ns in sans for n in ns})
        for route in routes(svc):
            if route.app not in TLS_APPS:
                continue
            for j, host in enumerate(get_in(route.body, ("match", "hostNames"), []) or []):
                if not isinstance(host, str) or covered(host, names):
                    continue
                yield Finding(svc, route.path + ("match", "hostNames", j), _message(host, sans))


def covered(host: str, sans: list[str]) -> bool:
    host = host.lower().rstrip(".")
    if host == "*":
        return True
    return any(_covers(san.rstrip("."), host) for san in sans)


def _covers(san: str, host: str) -> bool:
    if host.startswith("*."):
        return san == host  # only a wildcard certificate serves a wildcard route
    if san.startswith("*."):
        first, _, rest = host.partition(".")
        return bool(first) and bool(rest) and rest == san[2:]
    return san == host


def _message(host: str, sans: list[tuple[str, list[str]]]) -> str:
    have = "; ".join(f"Secret {key}: {', '.join(ns) or 'no DNS SAN'}" for key, ns in sans)
    if host.startswith("*."):
        why = f"needs a wildcard certificate for {host}"
    else:
        why = "is not covered by the listener's certificates"
        wild = [n for _, ns in sans for n in ns if n.startswith("*.")]
        if any(host.endswith("." + w[2:]) for w in wild):
            why += " (a wildcard covers exactly one label)"
        elif any(w[2:] == host for w in wild):
            why += f" (*.{host} does not cover {host} itself)"
    return f"hostName {host} {why} ({have})"
