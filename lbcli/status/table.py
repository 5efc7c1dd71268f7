"""The `cilium lb status` table as strings: what renderers (rich or plain) lay out.

Unknown facts print as UNKNOWN ("?"), consistently; "-" means "does not apply" (no VIP, no
tier-1 node).
"""

from __future__ import annotations

from .model import Count, ServiceStatus, Status

UNKNOWN = "?"
NONE = "-"
COLUMNS = ["Namespace", "Name", "VIP", "Port", "Type", "D-Mode", "BGP Peers", "BGP Routes", "T1",
           "HC T1->T2", "T2", "HC T2->B", "Backendpools", "Status"]
TYPES = {"httpProxy": "HTTP", "httpsProxy": "HTTPS", "tlsPassthrough": "TLS-passthrough",
         "tlsProxy": "TLS-proxy", "tcpProxy": "TCP", "udpProxy": "UDP"}


def summary_rows(st: Status) -> list[tuple[str, str]]:
    return [("T1 nodes", str(len(st.t1_nodes))), ("T2 nodes", str(len(st.t2_nodes))),
            ("Services", str(len(st.services))), ("VIPs", str(len(st.vips))),
            ("Mode", "live (observed on the nodes)" if st.observed else "offline (plans only: live columns show ?)")]


def _of(c: Count) -> str:
    """"2/2" observed, "?/2" planned only."""
    return f"{UNKNOWN if c.actual is None else c.actual}/{c.total}"


def _planned(c: Count, planned: str, actual: str) -> str:
    return f"{c.total} {planned}" if c.actual is None else f"{c.actual}/{c.total} {actual}"


def service_row(s: ServiceStatus) -> list[str]:
    if s.vip is None:  # not programmed anywhere: only the reason is known
        return [s.namespace, s.name, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, s.status]
    port = f"{s.port}" if s.protocol in (None, "TCP") else f"{s.port}/{s.protocol}"
    backends = s.hc_t2_b.total
    return [
        s.namespace, s.name, s.vip, port, TYPES.get(s.type or "", s.type or NONE),
        ", ".join(s.dispatch_modes) or NONE,
        _planned(s.bgp_peers, "configured", "established"),
        _planned(s.bgp_routes, "planned", "advertised"),
        str(s.t1.total) if s.t1.actual is None else _of(s.t1),
        _of(s.hc_t1_t2),
        str(s.t2.total),
        _of(s.hc_t2_b),
        f"{s.pools} ({backends} backend{'' if backends == 1 else 's'})",
        s.status,
    ]


def service_rows(st: Status) -> list[list[str]]:
    return [service_row(s) for s in st.services]
