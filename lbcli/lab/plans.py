"""Node plans for a lab topology, built directly (format v1, docs/plan-format.md).

For tests and benchmarks of the node side before/without the manifest compiler: services on
VIPs, dispatched by tier 1 over a chosen set of tier-2 nodes with Maglev tables from
`lbcli.compile.maglev`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from lbcli.lab.topology import Topology
from lbcli.model.tunnel import tunnel_mac

T1_DEVICE, T2_DEVICE, VNI, PORT = "lb1vx", "lb2vx", 1, 4789


@dataclass(frozen=True)
class LabService:
    name: str  # "ns/name"
    vip: str
    port: int
    protocol: str = "TCP"


def maglev_table(t2_names: list[str], size: int, table_id: int = 0,
                 weights: list[int] | None = None) -> dict:
    from lbcli.compile.maglev import build_table

    names = sorted(t2_names)
    w = weights or [1] * len(names)
    table = build_table(list(zip(names, w)), size)
    raw = table.tobytes() if table.itemsize == 2 else _u16(table)
    return {"id": table_id, "size": size, "t2Nodes": names, "weights": w, "encoding": "u16le-base64",
            "table": base64.b64encode(raw).decode(), "sha256": hashlib.sha256(raw).hexdigest()}


def _u16(table) -> bytes:
    from array import array

    out = array("H", table)
    return out.tobytes()


def node_plans(topo: Topology, services: list[LabService], t2_names: list[str] | None = None,
               table_size: int = 251) -> dict[str, dict]:
    """One plan per lab node: tier-1 nodes dispatch every service over `t2_names` (default:
    all tier-2 nodes); tier-2 nodes receive for every VIP."""
    t2_all = topo.tier("t2")
    chosen = sorted(t2_names if t2_names is not None else [n.name for n in t2_all])
    tables = [maglev_table(chosen, table_size)] if chosen else []
    plans = {}
    for node in topo.nodes:
        plan = {
            "apiVersion": "cilium-lb.io/v1", "kind": "NodePlan",
            "node": {"name": node.name, "tiers": list(node.tiers), "internalIP": node.ip,
                     "podCIDRs": [], "labels": {}},
            "network": {"routingMode": "native", "tunnelProtocol": "vxlan", "tunnelPort": 8472},
            "tier1": None, "tier2": None, "bgp": None,
        }
        if "t1" in node.tiers:
            plan["tier1"] = {
                "dispatch": {"mode": "vxlan", "device": T1_DEVICE, "vni": VNI, "port": PORT},
                "t2Nodes": [{"name": n.name, "ip": n.ip, "tunnelMac": tunnel_mac(n.name)}
                            for n in sorted(t2_all, key=lambda n: n.name) if n.name in chosen],
                "maglevTables": tables,
                "services": [{"service": s.name, "vip": s.vip, "port": s.port, "protocol": s.protocol,
                              "t2Nodes": chosen, "maglevTable": 0 if chosen else None}
                             for s in sorted(services, key=lambda s: (s.vip, s.port, s.protocol))],
            }
        if "t2" in node.tiers:
            plan["tier2"] = {
                "dispatch": {"mode": "vxlan", "device": T2_DEVICE, "vni": VNI, "port": PORT,
                             "tunnelMac": tunnel_mac(node.name)},
                "vips": sorted({s.vip for s in services}),
                "listeners": [], "backendPools": [],
            }
        plans[node.name] = plan
    return plans
