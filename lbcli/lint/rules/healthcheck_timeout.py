"""Health-check timeouts fit inside their interval, and failures are detected in reasonable time.

A check whose timeout exceeds its interval overlaps the next one: HAProxy cuts it at the
interval, so slow-but-healthy backends flap. With long intervals and high thresholds a dead
backend keeps receiving (and failing) requests for minutes before it is taken out.

Checked, per LBBackendPool `healthCheck` (schema defaults when absent: intervalSeconds 30,
timeoutSeconds 5, healthyThreshold 2, unhealthyThreshold 2):

- timeoutSeconds <= intervalSeconds (error, at timeoutSeconds or else intervalSeconds);
- unhealthyThreshold x intervalSeconds (time to take a dead backend out) and
  healthyThreshold x intervalSeconds (time to bring a recovered one back) at most
  `max-detection-seconds` (warning).

Options:

    rules:
      healthcheck-timeout:
        max-detection-seconds: 300   # default: 5 minutes

Example (error):

    healthCheck:
      intervalSeconds: 2
      timeoutSeconds: 5     # above the 2 s interval
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..options import IntOption, option
from ..problem import Severity

ID = "healthcheck-timeout"
SEVERITY = Severity.ERROR

DEFAULTS = {"intervalSeconds": 30, "timeoutSeconds": 5, "healthyThreshold": 2, "unhealthyThreshold": 2}
DEFAULT_MAX_DETECTION = 300
OPTIONS = {"max-detection-seconds": IntOption(DEFAULT_MAX_DETECTION, minimum=1,
                                              doc="the longest acceptable failure detection time")}


def check(ctx: Context) -> Iterator[Finding]:
    limit = _limit(ctx.opts(ID))
    for pool in ctx.index.valid("LBBackendPool"):
        hc = pool.spec.get("healthCheck")
        if not isinstance(hc, dict):
            continue
        v = {k: _int(hc.get(k), d) for k, d in DEFAULTS.items()}
        base = ("spec", "healthCheck")

        def at(*fields: str) -> tuple:
            for f in fields:
                if f in hc:
                    return base + (f,)
            return base

        interval, timeout = v["intervalSeconds"], v["timeoutSeconds"]
        if timeout > interval:
            yield Finding(pool, at("timeoutSeconds", "intervalSeconds"),
                          f"healthCheck timeoutSeconds {timeout}{_dflt(hc, 'timeoutSeconds')} is above "
                          f"intervalSeconds {interval}{_dflt(hc, 'intervalSeconds')}: checks would overlap; "
                          f"lower the timeout or raise the interval")
        for field, what in (("unhealthyThreshold", "a dead backend is taken out"),
                            ("healthyThreshold", "a recovered backend is brought back")):
            seconds = v[field] * interval
            if seconds > limit:
                yield Finding(pool, at(field, "intervalSeconds"),
                              f"{what} only after {field} {v[field]} x intervalSeconds {interval} = "
                              f"{seconds} s (more than {limit} s); lower {field} or intervalSeconds",
                              severity=Severity.WARNING)


def _dflt(hc: dict, field: str) -> str:
    return "" if field in hc else " (default)"


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _limit(opts: dict) -> int:
    return option(opts, OPTIONS, "max-detection-seconds")
