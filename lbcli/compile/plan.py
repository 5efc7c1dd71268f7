"""Assemble one plan per node from a validated manifest set: a pure function of its input.

Everything the agent needs is decided here (see docs/plan-format.md); plans hold secret
references and digests only, the material travels beside them in memory.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..manifest.index import ResourceIndex
from ..manifest.selectors import matches
from ..model.maglev import t1_table_size
from ..model.tunnel import tunnel_mac
from .bgp import bgp_section, no_advertisement
from .ipam import allocate
from .network import network_section, options
from .nodes import NodeInfo, node_infos
from .secrets import SecretStore
from .tier1 import tier1_section
from .tier2 import listener, pools_for, protocol_of

API_VERSION = "cilium-lb.io/v1"


@dataclass
class Compiled:
    plans: dict[str, dict]  # node name -> plan
    secrets: dict[str, dict[str, dict[str, bytes]]] = field(default_factory=dict)  # node -> ref -> key -> bytes
    conditions: list[dict] = field(default_factory=list)


def compile_plans(index: ResourceIndex, previous_ipam: dict[str, str] | None = None,
                  maglev_cache: dict | None = None) -> Compiled:
    nodes = node_infos(index)
    ipam = allocate(index, previous_ipam)
    opts = options(index)
    t1_size = t1_table_size(opts)
    cache = maglev_cache if maglev_cache is not None else {}
    conditions = list(ipam.conditions)

    # services with their VIP and the tier nodes that serve them
    deployments = sorted(index.valid("LBDeployment"), key=lambda r: r.ref)
    services = []
    for svc in sorted(index.valid("LBService"), key=lambda r: r.ref):
        vip_name = (svc.spec.get("vipRef") or {}).get("name")
        vip = ipam.address(f"LBVIP/{svc.namespace}/{vip_name}")
        if vip is None:
            conditions.append(_cond(svc.ref, "lb.cilium.io/VIPExist", "VIPNotFound" if index.get("LBVIP", svc.namespace, vip_name) is None else "VIPNotAllocated",
                                    f"LBVIP {svc.namespace}/{vip_name} has no address"))
            continue
        t1, t2 = _tier_nodes(svc, deployments, index, nodes)
        services.append({"res": svc, "vip": vip, "t1": t1, "t2": t2})
    services.sort(key=lambda s: (int(ipaddress.IPv4Address(s["vip"])), s["res"].spec.get("port") or 0, protocol_of(s["res"]), s["res"].key))

    announced = [{"service": s["res"].key, "vip": s["vip"], "labels": index.service_labels(s["res"]),
                  "noAdvertisement": no_advertisement(s["res"])} for s in services if s["t2"]]
    plans, secrets = {}, {}
    pool_cache: dict = {}
    for node in nodes:
        store = SecretStore(index)
        plan = {
            "apiVersion": API_VERSION,
            "kind": "NodePlan",
            "node": {"name": node.name, "tiers": list(node.tiers), "internalIP": node.internal_ip,
                     "podCIDRs": list(node.pod_cidrs), "labels": dict(sorted(node.labels.items()))},
            "ipam": {"assignments": [ipam.assignments[k] for k in sorted(ipam.assignments)],
                     "conditions": conditions},
            "network": network_section(node, nodes, opts),
            "tier1": None, "tier2": None, "bgp": None,
        }
        if "t1" in node.tiers:
            entries = [{"service": s["res"].key, "vip": s["vip"], "port": s["res"].spec.get("port"),
                        "protocol": protocol_of(s["res"]), "t2Nodes": s["t2"]}
                       for s in services if node.name in s["t1"]]
            plan["tier1"] = tier1_section(entries, [n for n in nodes if "t2" in n.tiers], t1_size, cache)
            bgp_services = [a for a, s in zip(announced, [s for s in services if s["t2"]]) if node.name in s["t1"]]
            plan["bgp"] = bgp_section(node, index, bgp_services, store)
        if "t2" in node.tiers:
            mine = [s for s in services if node.name in s["t2"]]
            listeners = [listener(s["res"], s["vip"], store) for s in mine]
            plan["tier2"] = {
                "dispatch": {"mode": "vxlan", "device": "lb2vx", "vni": 1, "port": 4789, "tunnelMac": tunnel_mac(node.name)},
                "vips": sorted({s["vip"] for s in mine}, key=lambda v: int(ipaddress.IPv4Address(v))),
                "listeners": listeners,
                "backendPools": pools_for(listeners, index, pool_cache),
            }
        plans[node.name] = plan
        secrets[node.name] = store.material
    return Compiled(plans, secrets, conditions)


def _tier_nodes(svc, deployments, index: ResourceIndex, nodes: list[NodeInfo]) -> tuple[list[str], list[str]]:
    """T1 and T2 node names serving `svc`: those of the LBDeployments selecting it, else every
    node of each tier."""
    labels = index.service_labels(svc)
    chosen = [d for d in deployments if matches((d.spec.get("services") or {}).get("labelSelector"), labels)]
    if not chosen:
        return ([n.name for n in nodes if "t1" in n.tiers], [n.name for n in nodes if "t2" in n.tiers])
    t1, t2 = set(), set()
    for d in chosen:
        sels = (d.spec.get("nodes") or {}).get("labelSelectors") or {}
        for n in nodes:
            if "t1" in n.tiers and matches(sels.get("t1"), n.labels):
                t1.add(n.name)
            if "t2" in n.tiers and matches(sels.get("t2"), n.labels):
                t2.add(n.name)
    return sorted(t1), sorted(t2)


def _cond(ref: str, type_: str, reason: str, message: str) -> dict:
    return {"ref": ref, "type": type_, "status": "False", "reason": reason, "message": message}


def dumps(plan: dict) -> bytes:
    """Canonical bytes of a plan: sorted keys, 2-space indent, trailing newline."""
    import orjson

    return orjson.dumps(plan, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
