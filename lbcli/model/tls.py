"""TLS protocol versions: the manifest's Isovalent spelling, the plan's spelling (which is also
HAProxy's `ssl-min-ver`/`ssl-max-ver` keyword) and the defaults. Plain module: a node may use it."""

from __future__ import annotations

# manifest (tlsConfig.minTLSVersion / maxTLSVersion) -> plan and HAProxy
VERSIONS = {"TLSv1_0": "TLSv1.0", "TLSv1_1": "TLSv1.1", "TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}
DEFAULT_MIN = "TLSv1.2"
DEFAULT_MAX = "TLSv1.3"
PLAN_VERSIONS = frozenset(VERSIONS.values())


def plan_version(manifest_value: object, default: str) -> str:
    """The plan's version for a manifest value; `default` when absent or unknown."""
    return VERSIONS.get(manifest_value, default) if isinstance(manifest_value, str) else default


def haproxy_version(plan_value: object) -> str | None:
    """HAProxy's keyword for a plan version (the same text); None for absent or unknown ones,
    which then leave HAProxy's own default in place."""
    return plan_value if plan_value in PLAN_VERSIONS else None


def order(version: str) -> int:
    """Sort key of a plan version (TLSv1.0 < ... < TLSv1.3)."""
    return sorted(PLAN_VERSIONS).index(version)
