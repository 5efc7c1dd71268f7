"""Tier 2 (L7): HAProxy plays the part Envoy plays in Isovalent LB.

model (plan tier2 -> dataclasses) -> render (haproxy.cfg, userlist, PEM files) ->
process (master-worker start / seamless reload / stop) + runtime (stats socket API) ->
reconciler (observe, diff, apply, reset, status).
"""

from lbcli.agent.l7.reconciler import L7Reconciler, L7Status, ServiceHealth
from lbcli.agent.l7.render import DEFAULT_HEALTH_PORT

__all__ = ["DEFAULT_HEALTH_PORT", "L7Reconciler", "L7Status", "ServiceHealth"]
