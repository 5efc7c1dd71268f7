"""Tier 1 checks tier 2, per service (issue 12 item 2).

    config.py   probe settings: plan `tier1.healthCheck`, else the agent's options, else defaults
    state.py    the rise/fall state machine per (service, T2 node), pure
    probe.py    one asyncio loop in one thread: GET the T2 health endpoint, non-blocking, bounded
    table.py    the health-adjusted plan: failed T2 slots refilled by Maglev over the healthy
                ones, VIPs without a healthy T2 left out of BGP
    monitor.py  ties them to the agent: asks for a reconcile on a transition, purges flows pinned
                to a failed T2, reports facts and metrics
"""
