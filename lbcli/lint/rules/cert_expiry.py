"""Certificates in TLS Secrets are valid now and for at least `days` more days.

An expired certificate is served as it is: clients fail the handshake with a date error that
looks like an outage of the load balancer. Catching it in CI weeks ahead leaves time to
renew; a certificate that is not yet valid (clock or issuing mistake) fails the same way.

Checked: every certificate of tls.crt (leaf and chain) of every Secret an LBService names in
`tlsConfig.certificates` and of every kubernetes.io/tls Secret, against the run's clock:
not yet valid or expired is an error, expiring within `days` a warning. The finding points at
the Secret's tls.crt and gives the date and the days left. Unreadable certificates are
tls-secret's findings.

Options:

    rules:
      cert-expiry:
        days: 30     # warn this many days before notAfter (default 30)

Example (warning):

    tls.crt: certificate web.acme.io expires on 2026-12-01 (8 days left)
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from ..finding import Context, Finding
from ..options import IntOption, option
from ..problem import Severity
from ._tls import chain, subject, tls_secrets, value

ID = "cert-expiry"
SEVERITY = Severity.WARNING
DEFAULT_DAYS = 30
OPTIONS = {"days": IntOption(DEFAULT_DAYS, minimum=0, doc="warn this many days before a certificate expires")}
_DAY = 86400


def check(ctx: Context) -> Iterator[Finding]:
    days = _days(ctx.opts(ID))
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=timezone.utc)
    for entry in tls_secrets(ctx.index):
        certs = chain(entry.secret)
        crt = value(entry.secret, "tls.crt")
        if not certs or crt is None:
            continue
        for n, cert in enumerate(certs):
            msg, sev = _verdict(cert, now, days)
            if msg is None:
                continue
            which = subject(cert) + (f" (certificate {n + 1} of {len(certs)})" if len(certs) > 1 else "")
            yield Finding(entry.secret, crt.path,
                          f"Secret {entry.secret.key} ({entry.used_by()}): certificate {which} {msg}",
                          severity=sev)


def _verdict(cert, now: datetime, days: int) -> tuple[str | None, Severity]:
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < nb:
        return f"is not valid before {_date(nb)} (in {_ceil_days(nb - now)} days)", Severity.ERROR
    if now >= na:
        return f"expired on {_date(na)} ({(now - na).days} days ago)", Severity.ERROR
    left = na - now
    if left.total_seconds() < days * _DAY:
        return f"expires on {_date(na)} ({left.days} days left)", Severity.WARNING
    return None, Severity.WARNING


def _days(opts: dict) -> int:
    return option(opts, OPTIONS, "days")


def _ceil_days(delta) -> int:
    return -(-int(delta.total_seconds()) // _DAY)


def _date(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")
