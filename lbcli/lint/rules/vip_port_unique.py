"""No two LBServices listen on the same VIP, port and protocol.

Tier 1 dispatches on VIP:port/protocol, so two LBServices with the same triple would fight over
every packet: one of them silently never sees traffic. The VIP is the LBVIP's requested address
(`ipv4Request`), so two LBVIPs pinned to one address count as one VIP; an LBVIP without a
requested address is identified by its namespace/name. The protocol is UDP for udpProxy and
TCP for every other application. Different ports (or TCP and UDP on the same port) on one VIP
are the normal way to serve several applications.

The finding is on the later LBService's `spec.port` and names the earlier one.

Example of a finding:

    b.yaml:8:9: error: 443/TCP on VIP 100.64.0.101 is already served by LBService
    default/https-proxy (a.yaml:3) [vip-port-unique]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import Resource
from ..finding import Context, Finding
from ..problem import Severity
from ._refs import protocol, ref_name, where

ID = "vip-port-unique"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    first: dict[tuple, Resource] = {}
    for svc in ctx.index.valid("LBService"):
        port = svc.spec.get("port")
        vip = ref_name(svc.spec, "vipRef", "name")
        if not isinstance(port, int) or vip is None:
            continue
        label, key = _vip(ctx, svc.namespace, vip)
        proto = protocol(svc)
        seen = first.setdefault((key, port, proto), svc)
        if seen is not svc:
            yield Finding(svc, ("spec", "port"),
                          f"{port}/{proto} on VIP {label} is already served by LBService "
                          f"{seen.key} ({where(seen)})")


def _vip(ctx: Context, namespace: str | None, name: str) -> tuple[str, tuple]:
    """(how to name the VIP, identity): its requested address, else the LBVIP itself."""
    lbvip = ctx.index.get("LBVIP", namespace, name)
    addr = lbvip.spec.get("ipv4Request") if lbvip is not None else None
    if isinstance(addr, str) and addr:
        return addr, ("address", addr)
    return f"LBVIP {namespace}/{name}", ("lbvip", namespace, name)
