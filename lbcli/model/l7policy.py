"""Tier-2 policies of LBServices and pools, one meaning for lint and compile: rate limits,
allow/deny filtering, HTTP versions, backend TLS and PROXY protocol. Plain module (duck-typed
dicts): the plan shapes built here are what lbcli/plan/types.py checks.

Filtering conditions HAProxy 2.6 cannot test are refused by lint (`UNSUPPORTED_CONDITIONS`);
compile still fails closed on them: an Allow rule that needs one is dropped (less passes), a
Deny rule keeps its other conditions (more is refused).
"""

from __future__ import annotations

from typing import Any

from . import tls as tls_model

# client certificate SANs: HAProxy 2.6 has no SAN fetch; JWT claims: no JWT validation
UNSUPPORTED_CONDITIONS = ("clientCertificateSANs", "jwtClaims")


def rate_limit(limits: Any) -> dict | None:
    """{limit, periodSeconds} from `rateLimits` ({requests: ...} or {connections: ...})."""
    if not isinstance(limits, dict):
        return None
    rl = limits.get("requests") or limits.get("connections")
    if not isinstance(rl, dict) or not rl.get("limit") or not rl.get("timePeriodSeconds"):
        return None
    return {"limit": int(rl["limit"]), "periodSeconds": int(rl["timePeriodSeconds"])}


def _name(match: Any) -> dict | None:
    if not isinstance(match, dict):
        return None
    if "exact" in match:
        return {"type": "exact", "value": str(match["exact"]).lower()}
    if "suffix" in match:
        return {"type": "suffix", "value": str(match["suffix"]).lower().lstrip(".")}
    return None


def _path(match: Any) -> dict | None:
    if not isinstance(match, dict):
        return None
    for t in ("exact", "prefix"):
        if t in match:
            return {"type": t, "value": str(match[t])}
    return None


def _headers(items: Any) -> list[dict]:
    out = []
    for h in items or []:
        v = h.get("value") if isinstance(h, dict) else None
        if not isinstance(v, dict):
            continue
        t = next((k for k in ("exact", "prefix", "regex") if k in v), None)
        if t is not None:
            out.append({"name": str(h.get("name")), "type": t, "value": str(v[t])})
    return out


def filtering(spec: Any) -> dict | None:
    """The plan's filtering from requestFiltering / connectionFiltering (any route kind)."""
    if not isinstance(spec, dict) or spec.get("ruleType") not in ("Allow", "Deny"):
        return None
    allow = spec["ruleType"] == "Allow"
    rules = []
    for r in spec.get("rules") or []:
        if not isinstance(r, dict):
            continue
        if allow and any(k in r for k in UNSUPPORTED_CONDITIONS):
            continue  # fail closed: what only this rule allowed is refused
        rules.append({
            "sourceCIDR": (r.get("sourceCIDR") or {}).get("cidr"),
            "hostName": _name(r.get("hostName") or r.get("serverName")),
            "path": _path(r.get("path")),
            "headers": _headers(r.get("headers")),
        })
    if not rules:
        # Allow with nothing left allows nothing: one rule no client matches
        if not allow:
            return None
        rules = [{"sourceCIDR": "0.0.0.0/32", "hostName": None, "path": None, "headers": []}]
    return {"ruleType": spec["ruleType"], "rules": rules}


def http_versions(cfg: Any) -> dict | None:
    """{http11, http2} from an httpConfig (defaults true), None when absent."""
    if not isinstance(cfg, dict):
        return None
    return {"http11": cfg.get("enableHTTP11", True) is not False, "http2": cfg.get("enableHTTP2", True) is not False}


def backend_tls(cfg: Any, ca_ref: dict | None) -> dict | None:
    """The plan's backend TLS from a pool's (or health check's) tlsConfig; `ca_ref` is the
    compiled reference to validation.secretRef (None: the system CAs)."""
    if not isinstance(cfg, dict):
        return None
    return {
        "minVersion": tls_model.VERSIONS.get(cfg.get("minTLSVersion")),
        "maxVersion": tls_model.VERSIONS.get(cfg.get("maxTLSVersion")),
        "cipherSuites": sorted(cfg.get("allowedCipherSuites") or []),
        "ca": ca_ref,
        "serverName": cfg.get("serverName"),
    }


def ca_secret_name(cfg: Any) -> str | None:
    if not isinstance(cfg, dict):
        return None
    return ((cfg.get("validation") or {}).get("secretRef") or {}).get("name")
