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
- MD5 crypt (`$1$`) and SHA-1 crypt (`$sha1$`) are accepted but weak (warning); a user
  listed twice (warning: the last line wins).

Lines and schemes are read by `lbcli.model.htpasswd`, which tier 2 uses too, so a user this
rule accepts is a user HAProxy is given.

The finding points at the Secret's `users` key and names the LBServices using it; it names
users and line numbers, never hashes or passwords. A missing Secret or key, or a line that
is not `user:hash`, is reported by ref-secret at the reference.

Example (error):

    stringData:
      users: |
        rebel:use-the-force     # clear-text password
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import Resource, get_in
from ...model import htpasswd
from ..finding import Context, Finding
from ..problem import Severity
from ._backend import application
from ._tls import value

ID = "basic-auth"
SEVERITY = Severity.ERROR

USERS_KEY = "users"
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
    for ln in htpasswd.parse(data):
        if not ln.well_formed:
            continue  # not user:hash at all: ref-secret's finding
        if not ln.user_ok:
            yield (f"line {ln.number}: the user name has characters a HAProxy userlist cannot hold "
                   "(use letters, digits, ._@+-)"), None
            continue
        if ln.user in seen:
            yield (f"line {ln.number}: user {ln.user} is also on line {seen[ln.user]}; the last line wins",
                   Severity.WARNING)
        seen[ln.user] = ln.number
        why = _SCHEME_PROBLEMS.get(ln.scheme)
        if why:
            yield f"line {ln.number}: user {ln.user} {why[0]}", why[1]


S = htpasswd.Scheme
_SCHEME_PROBLEMS: dict[htpasswd.Scheme, tuple[str, Severity | None]] = {
    S.SHA1_MALFORMED: ("has a malformed {SHA} hash (expected 28 base64 characters)", None),
    S.CRYPT_WEAK: (f"has an MD5 crypt hash ($1$) or a SHA-1 crypt hash ($sha1$), which is fast to "
                   f"crack; {_FIX}", Severity.WARNING),
    S.APR1: (f"has Apache's $apr1$ hash, which HAProxy cannot check (the user is left out); {_FIX}", None),
    S.UNKNOWN_CRYPT: (f"has an unknown crypt scheme (the user is left out); {_FIX}", None),
    S.DES: ("has a traditional DES crypt hash (8 password characters at most), which cilium-lb "
            f"leaves out; {_FIX}", None),
    S.CLEARTEXT: (f"has a clear-text password, which HAProxy is not given (the user is left out); {_FIX}",
                  None),
    S.NONE: ("has no password hash (clear text?), which HAProxy is not given (the user is left out); "
             f"{_FIX}", None),
}
