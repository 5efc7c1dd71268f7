"""LBService applications: the six proxy modes, which of them speak HTTP or terminate TLS,
and the L4 protocol each listens on. Plain module (duck-typed `svc.spec`): a node may use it."""

from __future__ import annotations

from typing import Any

APPLICATION_TYPES = ("httpProxy", "httpsProxy", "tlsPassthrough", "tlsProxy", "tcpProxy", "udpProxy")
HTTP_TYPES = ("httpProxy", "httpsProxy")
TLS_TERMINATING = ("httpsProxy", "tlsProxy")
UDP_TYPES = ("udpProxy",)
_TYPES = frozenset(APPLICATION_TYPES)


def applications(svc: Any) -> list[tuple[str, dict]]:
    """(type, body) of every application present, in the order of APPLICATION_TYPES. Kept in a
    manifest Resource's `extra` (lint asks ~6 times per LBService; do not change the list)."""
    extra = getattr(svc, "extra", None)
    if extra is not None:
        found = extra.get("applications")
        if found is None:
            found = extra["applications"] = _applications(svc)
        return found
    return _applications(svc)


def _applications(svc: Any) -> list[tuple[str, dict]]:
    spec = svc.spec
    apps = spec.get("applications") if isinstance(spec, dict) else None
    if not isinstance(apps, dict):
        return []
    if len(apps) == 1:  # the usual case (lint asks this for every LBService in many rules)
        for t, body in apps.items():
            return [(t, body)] if t in _TYPES and isinstance(body, dict) else []
    return [(t, apps[t]) for t in APPLICATION_TYPES if isinstance(apps.get(t), dict)]


def application(svc: Any) -> tuple[str, dict] | None:
    """The one application of a (schema-valid) LBService: the first in APPLICATION_TYPES."""
    found = applications(svc)
    return found[0] if found else None


def protocol_of_type(app_type: str | None) -> str:
    """The L4 protocol of an application type: UDP for udpProxy, TCP for every other."""
    return "UDP" if app_type in UDP_TYPES else "TCP"


def protocol(svc: Any) -> str:
    """The VIP's L4 protocol for an LBService."""
    app = application(svc)
    return protocol_of_type(app[0] if app else None)


# forceDeploymentMode (tcpProxy, udpProxy): which tiers serve the service (docs/t1-only.md)
T1_ONLY, T1_T2 = "t1-only", "t1-t2"
DEPLOYMENT_MODE_TYPES = ("tcpProxy", "udpProxy")


def deployment_mode(svc: Any) -> str:
    """t1-only when asked for, and for udpProxy on `auto` (tier 2 proxies TCP only, so tier 1 is
    the only tier that can serve UDP); t1-t2 otherwise: `auto` keeps a TCP service on tier 2,
    whose health checks and connection limits tier 1 does not have."""
    app = application(svc)
    if app is None or app[0] not in DEPLOYMENT_MODE_TYPES:
        return T1_T2
    mode = app[1].get("forceDeploymentMode") or "auto"
    if mode == T1_ONLY or (mode == "auto" and app[0] in UDP_TYPES):
        return T1_ONLY
    return T1_T2
