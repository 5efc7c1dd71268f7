"""BGP passwords are 1-80 printable ASCII characters without quotes or backslashes.

An IsovalentBGPPeerConfig's (or CiliumBGPPeerConfig's) `authSecretRef` names a Secret whose key `password` is the TCP-MD5
(RFC 2385) key of the session. Tier 1 writes it into bird.conf as a string, and BIRD strings
have no escapes: a `"` or a line break would end the string (and could add configuration),
so the agent refuses such a password and the session never comes up. The kernel also caps
TCP-MD5 keys at 80 bytes. Checked in the decoded value (`data` or `stringData`):

- 1 to 80 characters;
- printable ASCII (space to `~`): no line breaks, tabs, control characters or non-ASCII;
- no `"`, `'` or `\\`.

The Secret is looked up where ref-secret and the compiler look (`bgp-secrets-namespace` of
cilium-config, else `kube-system`). The finding points at
the Secret's `password` key and names the peer configs using it; it says what is wrong and
how long the value is, never the value. A missing Secret or key is ref-secret's finding.

Example (error):

    stringData:
      password: "abc\\"def"      # a double quote
"""

from __future__ import annotations

from typing import Iterator

from ...grammar import BGP_PASSWORD
from ...manifest.resource import Resource
from ..finding import Context, Finding
from ..problem import Severity
from ._tls import value

ID = "bgp-password"
SEVERITY = Severity.ERROR

PASSWORD_KEY = "password"


def check(ctx: Context) -> Iterator[Finding]:
    users: dict[int, tuple[Resource, list[Resource]]] = {}
    for peer in ctx.index.bgp("PeerConfig"):
        name = peer.spec.get("authSecretRef")
        if not isinstance(name, str) or not name:
            continue
        secret = ctx.index.secret(ctx.index.bgp_secrets_namespace(), name)
        if secret is not None:
            users.setdefault(id(secret), (secret, []))[1].append(peer)
    for secret, peers in sorted(users.values(), key=lambda e: e[0].key):
        v = value(secret, PASSWORD_KEY)
        if v is None or v.data is None:
            continue  # ref-secret reports a missing key or undecodable value
        bad = problem(v.data)
        if bad:
            who = ", ".join(f"{p.kind} {p.name}" for p in sorted(peers, key=lambda p: p.key))
            yield Finding(secret, v.path, f"the BGP password in Secret {secret.key} (used by {who}) {bad}")


def problem(data: bytes) -> str | None:
    """What is wrong with a decoded password, never quoting it; None when BIRD can hold it."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return f"{_must()}; it has non-ASCII bytes ({len(data)} bytes)"
    return BGP_PASSWORD.problem(text, secret=True)


def _must() -> str:
    return f"must be {BGP_PASSWORD.noun}"
