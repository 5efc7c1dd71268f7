"""Backends match their pool's backendType: IP pools list valid addresses, Hostname pools DNS names.

An IP pool's backend with a `host` (or a Hostname pool's backend with an `ip`) is silently
something else than the author meant: the proxy either never resolves the name or treats the
address as a name. The schema allows any string shaped like an address; this rule parses it.

Checked, per LBBackendPool:

- backendType IP: every backend has `ip` and no `host`/`k8sServiceRef`; the `ip` parses as
  IPv4 or IPv6 (no zone index) and is usable as a destination (not unspecified, multicast or
  the limited broadcast address);
- backendType Hostname: every backend has `host` and no `ip`; the host is a DNS name
  (labels of 1-63 letters, digits, hyphens, 253 characters in all) and not an IP literal;
  without `dnsResolverConfig` the node's own resolver is used (warning);
- backendType K8sService: every backend has `k8sServiceRef`;
- `dnsResolverConfig` only with backendType Hostname; its resolvers are valid addresses.

Example (error: an IP pool with a host name):

    backendType: IP
    backends:
      - host: app.acme.io   # use backendType Hostname
        port: 8080
"""

from __future__ import annotations

import re
from typing import Iterator

from ...manifest.addr import parse_ip
from ...manifest.resource import get_in
from ..finding import Context, Finding
from ..problem import Severity
from ._backend import backends

ID = "backend-type"
SEVERITY = Severity.ERROR

_FIELD = {"IP": "ip", "Hostname": "host", "K8sService": "k8sServiceRef"}
_OTHERS = {t: sorted(set(_FIELD.values()) - {f}) for t, f in _FIELD.items()}  # the fields a type does not use
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def check(ctx: Context) -> Iterator[Finding]:
    for pool in ctx.index.valid("LBBackendPool"):
        btype = pool.spec.get("backendType")
        if btype not in _FIELD:
            continue
        want = _FIELD[btype]
        for i, b in backends(pool):
            at = ("spec", "backends", i)
            for other in _OTHERS[btype]:
                if other in b:
                    yield Finding(pool, at + (other,), _mismatch(btype, other), key=True)
            if want not in b:
                yield Finding(pool, at, f"backend {i} has no '{want}' (backendType {btype})")
                continue
            if want == "ip":
                problem = address_problem(b["ip"])
                if problem:
                    yield Finding(pool, at + ("ip",), f"backend ip {b['ip']!r} {problem}")
            elif want == "host":
                problem = hostname_problem(b["host"])
                if problem:
                    yield Finding(pool, at + ("host",), f"backend host {b['host']!r} {problem}")
        yield from _resolvers(pool, btype)


def _mismatch(btype: str, field: str) -> str:
    fix = {"ip": "IP", "host": "Hostname", "k8sServiceRef": "K8sService"}[field]
    return f"backendType {btype} does not use '{field}'; set '{_FIELD[btype]}' or use backendType {fix}"


def _resolvers(pool, btype: str) -> Iterator[Finding]:
    cfg = pool.spec.get("dnsResolverConfig")
    if cfg is None:
        if btype == "Hostname":
            yield Finding(pool, ("spec", "backendType"),
                          "Hostname backends without dnsResolverConfig are resolved with the "
                          "node's resolver (/etc/resolv.conf); set resolvers to pin the DNS servers",
                          severity=Severity.WARNING)
        return
    if btype != "Hostname":
        yield Finding(pool, ("spec", "dnsResolverConfig"),
                      f"dnsResolverConfig is only used with backendType Hostname (this pool is {btype})",
                      key=True)
        return
    for j, r in enumerate(get_in(cfg, ("resolvers",), []) or []):
        ip = r.get("ip") if isinstance(r, dict) else None
        problem = address_problem(ip) if ip is not None else None
        if problem:
            yield Finding(pool, ("spec", "dnsResolverConfig", "resolvers", j, "ip"),
                          f"resolver ip {ip!r} {problem}")


def address_problem(value: object) -> str | None:
    """Why `value` is not a usable IPv4/IPv6 destination address, or None."""
    if not isinstance(value, str):
        return "is not a string"
    if "%" in value:
        return "has a zone index; use a global address"
    addr = parse_ip(value)
    if addr is None:
        return "is not a valid IPv4 or IPv6 address"
    if addr.version == 4:  # the same tests as ipaddress's properties, on the integer (per backend)
        n = int(addr)
        if n == 0:
            return "is the unspecified address"
        if n >> 28 == 0xE:  # 224.0.0.0/4
            return "is a multicast address"
        if n == 0xFFFFFFFF:
            return "is the limited broadcast address"
        return None
    if addr.is_unspecified:
        return "is the unspecified address"
    if addr.is_multicast:
        return "is a multicast address"
    return None


def hostname_problem(value: object) -> str | None:
    """Why `value` is not a DNS name a resolver can look up, or None."""
    if not isinstance(value, str) or not value:
        return "is empty"
    name = value[:-1] if value.endswith(".") else value
    if parse_ip(name) is not None:
        return "is an IP address; use backendType IP"
    if len(name) > 253:
        return f"is {len(name)} characters long (at most 253)"
    for label in name.split("."):
        if not label:
            return "has an empty label"
        if len(label) > 63:
            return f"has a label of {len(label)} characters (at most 63)"
        if not _LABEL.match(label):
            return f"has an invalid label {label!r} (letters, digits and inner hyphens only)"
    if name.rsplit(".", 1)[-1].isdigit():
        return "ends in an all-numeric label, which no DNS name does"
    return None
