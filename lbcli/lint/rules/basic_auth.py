"""Basic-auth Secrets hold `user:hash` lines with password hashes HAProxy can check.

Tier 2 checks basic-auth passwords with crypt(3) (a HAProxy userlist) or, for htpasswd's
`{SHA}` scheme, by comparing base64(SHA-1(password)). A user whose hash is in any other form
(Apache's `$apr1$` MD5, a clear-text password, traditional DES crypt) is left out of the
configuration, so that user can never log in; a clear-text password is also readable by
anyone who can read the Secret.

Checked, for every Secret named by `auth.basic.users.secretRef` (key `users`, in `data` or
`stringData`), each line of the decoded text (blank lines and `#` comments skipped):

- the user name uses letters, digits and `._@+-` (error);
- the hash is bcrypt (`$2y$`, `$2b$`, `$2a$`; `htpasswd -B`), SHA-512 or SHA-256 crypt
  (`$6$`, `$5$`; `mkpasswd -m sha-512`), yescrypt (`$y$`), scrypt (`$7$`, `$gy$`) or
  `{SHA}` followed by 28 base64 characters (error otherwise, with the scheme named);
- MD5 crypt (`$1$`) is accepted but weak (warning); a user listed twice (warning: the
  last line wins).

The finding points at the Secret's `users` key and names the LBServices using it; it names
users and line numbers, never hashes or passwords. A missing Secret or key, or a line that
is not `user:hash`, is reported by ref-secret at the reference.

Example (error):

    stringData:
      users: |
        rebel:use-the-force     # clear-text password
"""

from __future__ import annotations

import re
from typing import Iterator

from ...grammar import HTPASSWD_USER
from ...manifest.resource import Resource, get_in
from ..finding import Context, Finding
from ..problem import Severity
from ._backend import application
from ._tls import value

ID = "basic-auth"
SEVERITY = Severity.ERROR

USERS_KEY = "users"
_STRONG = ("$2y$", "$2b$", "$2a$", "$6$", "$5$", "$y$", "$7$", "$gy$")
_SHA = re.compile(r"^\{SHA\}[A-Za-z0-9+/]{27}=$")
_DES = re.compile(r"^[./0-9A-Za-z]{13}$")
_FIX = "store a bcrypt (htpasswd -B) or SHA-512 crypt (mkpasswd -m sha-512) hash"


def check(ctx: Context) -> Iterator[Finding]:
    users_of: dict[int, tuple[Resource, list[Resource]]] = {}
    for svc in ctx.index.valid("LBService"):
        app = application(svc)
        name = get_in(app[1], ("auth", "basic", "users", "secretRef", "name")) if app else None
        if not isinstance(name, str):
            continue
        secret = ctx.index.secret(svc.namespace or "default", name)
        if secret is None or not secret.valid:
            continue
        users_of.setdefault(id(secret), (secret, []))[1].append(svc)
    for secret, services in sorted(users_of.values(), key=lambda e: e[0].key):
        v = value(secret, USERS_KEY)
        if v is None or v.data is None:
            continue  # ref-secret reports a missing key or undecodable value
        who = f"Secret {secret.key} (used by {', '.join(f'LBService {s.key}' for s in sorted(services, key=lambda s: s.key))})"
        for msg, sev in problems(v.data):
            yield Finding(secret, v.path, f"{who}: {msg}", severity=sev)


def problems(data: bytes) -> Iterator[tuple[str, Severity | None]]:
    """What is wrong with htpasswd text, naming users and lines only."""
    seen: dict[str, int] = {}
    text = data.decode("utf-8", "replace")
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        user, hashed = user.strip(), hashed.strip()
        if not sep or not user or not hashed:
            continue  # not user:hash at all: ref-secret's finding
        if not HTPASSWD_USER.match(user):
            yield f"line {n}: the user name has characters a HAProxy userlist cannot hold (use letters, digits, ._@+-)", None
            continue
        if user in seen:
            yield (f"line {n}: user {user} is also on line {seen[user]}; the last line wins",
                   Severity.WARNING)
        seen[user] = n
        scheme = _scheme_problem(hashed)
        if scheme:
            yield f"line {n}: user {user} {scheme[0]}", scheme[1]


def _scheme_problem(hashed: str) -> tuple[str, Severity | None] | None:
    if hashed.startswith(_STRONG):
        return None
    if hashed.startswith("{SHA}"):
        return None if _SHA.match(hashed) else ("has a malformed {SHA} hash (expected 28 base64 characters)", None)
    if hashed.startswith("$1$"):
        return f"has an MD5 crypt hash ($1$), which is fast to crack; {_FIX}", Severity.WARNING
    if hashed.startswith("$apr1$"):
        return f"has Apache's $apr1$ hash, which HAProxy cannot check (the user is left out); {_FIX}", None
    if hashed.startswith("{PLAIN}") or hashed.startswith("{CLEARTEXT}"):
        return f"has a clear-text password, which HAProxy is not given (the user is left out); {_FIX}", None
    if hashed.startswith("$"):
        return f"has an unknown crypt scheme (the user is left out); {_FIX}", None
    if _DES.match(hashed):
        return (f"has a traditional DES crypt hash (8 password characters at most), which cilium-lb "
                f"leaves out; {_FIX}", None)
    return f"has no password hash (clear text?), which HAProxy is not given (the user is left out); {_FIX}", None
