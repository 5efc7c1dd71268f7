"""htpasswd text (`user:hash` per line) as tier 2 checks it, parsed and classified once.

HAProxy checks a password with crypt(3) (a userlist) or, for htpasswd's `{SHA}` scheme, by
comparing base64(SHA-1(password)); any other form (Apache's `$apr1$`, clear text, DES crypt)
cannot be checked and the user is left out. Lint reports each line's problem; the node keeps
exactly the users this module accepts (and may still drop a crypt scheme its own libcrypt
lacks). Blank lines and `#` comments are skipped; the last line of a user wins.

Plain module (only `lbcli.grammar`, itself plain): a node may use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ..grammar import HTPASSWD_USER


class Scheme(str, Enum):
    CRYPT = "crypt"  # a strong crypt(3) scheme: bcrypt, sha512/256crypt, yescrypt, scrypt
    CRYPT_WEAK = "crypt-weak"  # crypt(3) that is fast to crack: MD5 crypt, sha1crypt
    SHA1 = "sha1"  # {SHA}base64(sha1)
    SHA1_MALFORMED = "sha1-malformed"
    APR1 = "apr1"
    CLEARTEXT = "cleartext"  # {PLAIN}/{CLEARTEXT}
    NONE = "none"  # no hash form at all (a clear-text password?)
    DES = "des"
    UNKNOWN_CRYPT = "unknown-crypt"


CRYPT_STRONG = ("$2y$", "$2b$", "$2a$", "$6$", "$5$", "$y$", "$7$", "$gy$")
CRYPT_WEAK = ("$1$", "$sha1$")
CHECKABLE = frozenset({Scheme.CRYPT, Scheme.CRYPT_WEAK, Scheme.SHA1})
_SHA = re.compile(r"\{SHA\}[A-Za-z0-9+/]{27}=")
_DES = re.compile(r"[./0-9A-Za-z]{13}")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line of the text
    user: str  # stripped; "" when the line has none
    hash: str  # stripped; never shown in messages
    well_formed: bool  # `user:hash` with both parts present
    user_ok: bool  # the name fits a HAProxy userlist (HTPASSWD_USER)

    @property
    def scheme(self) -> Scheme:
        return scheme(self.hash)

    @property
    def usable(self) -> bool:
        """HAProxy can check this user's password."""
        return self.well_formed and self.user_ok and self.scheme in CHECKABLE


def scheme(hashed: str) -> Scheme:
    if hashed.startswith(CRYPT_STRONG):
        return Scheme.CRYPT
    if hashed.startswith(CRYPT_WEAK):
        return Scheme.CRYPT_WEAK
    if hashed.startswith("{SHA}"):
        return Scheme.SHA1 if _SHA.fullmatch(hashed) else Scheme.SHA1_MALFORMED
    if hashed.startswith("$apr1$"):
        return Scheme.APR1
    if hashed.startswith(("{PLAIN}", "{CLEARTEXT}")):
        return Scheme.CLEARTEXT
    if hashed.startswith("$"):
        return Scheme.UNKNOWN_CRYPT
    if _DES.fullmatch(hashed):
        return Scheme.DES
    return Scheme.NONE


def parse(data: bytes) -> list[Line]:
    """Every non-blank, non-comment line of htpasswd text."""
    out = []
    for n, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        user, hashed = user.strip(), hashed.strip()
        out.append(Line(n, user, hashed, bool(sep and user and hashed), bool(HTPASSWD_USER.match(user))))
    return out


def effective(lines: list[Line]) -> dict[str, Line]:
    """user -> the line that counts for it (the last one), for well-formed, valid names."""
    out: dict[str, Line] = {}
    for ln in lines:
        if ln.well_formed and ln.user_ok:
            out[ln.user] = ln
    return out
