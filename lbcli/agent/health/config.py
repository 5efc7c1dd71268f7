"""Probe settings. The manifests have no field for tier-1 -> tier-2 checks (Isovalent's
LBBackendPool.healthCheck is tier 2 -> backends), so the plan may carry them
(`tier1.healthCheck`, `tier2.healthPort`) and the agent's options override the defaults below.

Defaults are chosen for failover within a second on a loaded machine: a refused connection
(HAProxy gone) fails at once, so a dead T2 leaves the tables after FALL probes, 100-200 ms,
plus one reconcile of the datapath and BGP (~0.1 s idle); a silent one (hung machine, dropped
traffic) after FALL probes that each time out: ~2 x 200 ms. One lost probe is not a failure.
A T2 comes back after RISE passes in a row (300 ms), so a flapping one is not taken back at the
first answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

DEFAULT_PORT = 10901  # HAProxy's `frontend health` on every T2 (lbcli/agent/l7/render.py)
DEFAULT_INTERVAL_MS = 100
DEFAULT_TIMEOUT_MS = 200
DEFAULT_RISE = 3
DEFAULT_FALL = 2


@dataclass(frozen=True)
class ProbeConfig:
    port: int = DEFAULT_PORT
    interval_ms: int = DEFAULT_INTERVAL_MS
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    rise: int = DEFAULT_RISE
    fall: int = DEFAULT_FALL

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"health port {self.port}: must be 1..65535")
        for name in ("interval_ms", "timeout_ms"):
            if not 10 <= getattr(self, name) <= 60000:
                raise ValueError(f"health {name.replace('_ms', '')} {getattr(self, name)} ms: must be 10..60000 ms")
        for name in ("rise", "fall"):
            if not 1 <= getattr(self, name) <= 100:
                raise ValueError(f"health {name} {getattr(self, name)}: must be 1..100")


def resolve(plan, overrides: dict | None = None) -> ProbeConfig:
    """The settings in force: the agent's options (those given) over the plan's over the defaults."""
    cfg = ProbeConfig()
    hc = getattr(getattr(plan, "tier1", None), "health_check", None)
    if hc is not None:
        cfg = ProbeConfig(hc.port, hc.interval_ms, hc.timeout_ms, hc.rise, hc.fall)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return replace(cfg, **given) if given else cfg
