"""Assemble one plan per node from a validated manifest set: a pure function of its input.

Everything the agent needs is decided here (see docs/plan-format.md); plans hold secret
references and digests only, the material travels beside them in memory. Each plan is built
as a typed NodePlan (lbcli/plan/types.py) from the compiler's own JSON without re-checking each
value (`PlanObject.trusted`: the input was linted, and checking 100,000 backends again cost 2.5x
the compile); tests check that every compiled plan passes the node's checked `from_json`. Addresses allocated before come from the allocation lock
(`locked`, lbcli/compile/allocations.py), never from a node's history.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from ..manifest.index import ResourceIndex
from ..manifest.loader import paused_gc
from ..manifest.selectors import matches
from ..model import lbservices
from ..model.apps import T1_ONLY, deployment_mode
from ..model.maglev import t1_table_size
from ..model.tunnel import tunnel_mac
from ..plan.spec import PlanFormatError
from ..plan.types import API_VERSION, BackendPool, Ipam, Listener, NodePlan
from .bgp import bgp_section, no_advertisement
from .ipam import allocate
from .network import network_section, options
from .nodes import NodeInfo, node_infos
from .secrets import SecretStore
from .t1only import add_direct, service_backends
from .tier1 import tier1_section
from .tier2 import pools_for, protocol_of, service_listener, shared_listener

class PlanBuildError(RuntimeError):
    """The compiler built a plan its own types refuse: a bug in cilium-lb, never the input's
    fault (lint refuses bad input first). The message names the node and the JSON path."""


@dataclass
class Compiled:
    plans: dict[str, NodePlan]  # node name -> plan
    secrets: dict[str, dict[str, dict[str, bytes]]] = field(default_factory=dict)  # node -> ref -> key -> bytes
    conditions: list[dict] = field(default_factory=list)
    allocations: dict[str, str] = field(default_factory=dict)  # ref -> IPv4: what the lock keeps


def compile_plans(index: ResourceIndex, locked: dict[str, str] | None = None,
                  maglev_cache: dict | None = None) -> Compiled:
    """Plans for every node; `locked` (ref -> IPv4, from the allocation lock) keeps addresses
    allocated before."""
    with paused_gc():  # ~160,000 acyclic plan objects for 100,000 backends: rescans cost 40 %
        return _compile(index, locked, maglev_cache)


def _compile(index: ResourceIndex, locked: dict[str, str] | None, maglev_cache: dict | None) -> Compiled:
    nodes = node_infos(index)
    ipam = allocate(index, locked)
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
            conditions.append(_vip_condition(svc, vip_name, index, ipam.conditions))
            continue
        t1, t2 = _tier_nodes(svc, deployments, index, nodes)
        entry = {"res": svc, "key": svc.key, "vip": vip, "port": svc.spec.get("port"),
                 "protocol": protocol_of(svc), "t1": t1, "t2": t2}
        if deployment_mode(svc) == T1_ONLY:  # straight to the backends: no tier-2 node serves it
            entry.update(t2=[], direct=service_backends(svc, index))
        services.append(entry)
    services += _v1_services(index, ipam, nodes)
    services.sort(key=lambda s: (int(ipaddress.IPv4Address(s["vip"])), s["port"] or 0, s["protocol"], s["key"]))

    announced = [{"service": s["key"], "vip": s["vip"], "labels": index.service_labels(s["res"]),
                  "noAdvertisement": no_advertisement(s["res"])} for s in services if _serves(s)]
    plans, secrets = {}, {}
    pool_cache: dict = {}
    listener_cache: dict = {}
    typed_shared: dict = {}  # id(dict) -> (dict, typed): listeners and pools are shared between nodes
    typed_ipam = None  # the same on every node
    for node in nodes:
        store = SecretStore(index)
        plan = {
            "apiVersion": API_VERSION,
            "kind": "NodePlan",
            "node": {"name": node.name, "tiers": list(node.tiers), "internalIP": node.internal_ip,
                     "podCIDRs": list(node.pod_cidrs), "labels": dict(sorted(node.labels.items()))},
            "ipam": {"assignments": [ipam.assignments[k] for k in sorted(ipam.assignments)],
                     "conditions": conditions},
            "network": network_section(node, nodes, opts, index),
            "tier1": None, "tier2": None, "bgp": None,
        }
        if "t1" in node.tiers:
            entries = [{"service": s["key"], "vip": s["vip"], "port": s["port"],
                        "protocol": s["protocol"], "t2Nodes": s["t2"]}
                       for s in services if node.name in s["t1"] and "direct" not in s]
            plan["tier1"] = tier1_section(entries, [n for n in nodes if "t2" in n.tiers], t1_size, cache)
            add_direct(plan["tier1"], _direct_entries(services, node.name), t1_size, cache)
            bgp_services = [a for a, s in zip(announced, [s for s in services if _serves(s)]) if node.name in s["t1"]]
            plan["bgp"] = bgp_section(node, index, bgp_services, store)
        elif node.pod_cidrs:  # not tier 1: BGP only to announce its PodCIDR, if asked to
            plan["bgp"] = bgp_section(node, index, [], store, pod_cidr_only=True)
        if "t2" in node.tiers:
            mine = [s for s in services if node.name in s["t2"]]
            listeners = [shared_listener(s["res"], s["vip"], store, listener_cache) if s["res"].kind == "LBService"
                         else service_listener(s["res"], s["port"], s["vip"]) for s in mine]
            plan["tier2"] = {
                "dispatch": {"mode": "vxlan", "device": "lb2vx", "vni": 1, "port": 4789, "tunnelMac": tunnel_mac(node.name)},
                "vips": list(dict.fromkeys(s["vip"] for s in mine)),  # in address order, as `services` is
                "listeners": listeners,
                "backendPools": pools_for(listeners, index, pool_cache, store),
            }
        try:
            if typed_ipam is None:
                typed_ipam = Ipam.trusted(plan["ipam"], ("ipam",))
            plans[node.name] = _typed(plan, typed_shared, typed_ipam)
        except PlanFormatError as e:
            raise PlanBuildError(f"internal error: the plan compiled for node {node.name} is not valid "
                                 f"at {e.located()}; please report it") from None
        secrets[node.name] = store.material
    return Compiled(plans, secrets, conditions, {r: a["ipv4"] for r, a in sorted(ipam.assignments.items())})


def _serves(s: dict) -> bool:
    """A service some tier can serve: it has T2 nodes, or (t1-only) active backends. Only those
    get a tier-1 entry and a BGP announcement (a node never announces what it cannot serve)."""
    return bool(s["direct"][0]) if "direct" in s else bool(s["t2"])


def _direct_entries(services: list[dict], node: str) -> list[dict]:
    """The t1-only services `node` dispatches, with their backends (compile/t1only.py)."""
    return [{"service": s["key"], "vip": s["vip"], "port": s["port"],
             "protocol": s["protocol"], "backends": s["direct"][0], "size": s["direct"][1],
             "hash": s["direct"][2]}
            for s in services if "direct" in s and s["direct"][0] and node in s["t1"]]


def _typed(plan: dict, shared: dict, ipam: Ipam) -> NodePlan:
    """`plan` as a NodePlan; what every node shares (the IPAM section; the listeners and backend
    pools of tier-2 nodes, one dict each) is built once (PlanFormatError names the JSON path of
    a missing field)."""
    plan = {**plan, "ipam": {"assignments": [], "conditions": []}}
    t2 = plan["tier2"]
    if t2 is None:
        return replace(NodePlan.trusted(plan), ipam=ipam)
    listeners = _shared(t2["listeners"], Listener, shared, ("tier2", "listeners"))
    pools = _shared(t2["backendPools"], BackendPool, shared, ("tier2", "backendPools"))
    typed = NodePlan.trusted({**plan, "tier2": {**t2, "listeners": [], "backendPools": []}})
    return replace(typed, ipam=ipam, tier2=replace(typed.tier2, listeners=listeners, backend_pools=pools))


def _shared(items: list[dict], cls, shared: dict, path: tuple) -> tuple:
    """`items` as `cls` objects, each dict built once however many plans hold it."""
    out = []
    for i, d in enumerate(items):
        hit = shared.get(id(d))
        if hit is None or hit[0] is not d:
            hit = shared[id(d)] = (d, cls.trusted(d, (*path, i)))
        out.append(hit[1])
    return tuple(out)


def _v1_services(index: ResourceIndex, ipam, nodes: list[NodeInfo]) -> list[dict]:
    """Each TCP port of each v1 Service of type LoadBalancer that LB-IPAM gave an address
    (lbcli/model/lbservices.py), served by every tier node; a Service without an address
    (sharing refused, no pool, ...) has its IPAM condition already and is not served."""
    t1 = [n.name for n in nodes if "t1" in n.tiers]
    t2 = [n.name for n in nodes if "t2" in n.tiers]
    out = []
    for svc in sorted(lbservices.served(index), key=lambda r: r.ref):
        vip = ipam.address(svc.ref)
        if vip is None:
            continue
        for port in lbservices.ports(svc):
            out.append({"res": svc, "key": lbservices.key(svc, port), "vip": vip, "port": port,
                        "protocol": "TCP", "t1": t1, "t2": t2})
    return out


def _vip_condition(svc, vip_name, index: ResourceIndex, ipam_conditions: list[dict]) -> dict:
    """Why `svc` has no VIP, with the fact status shows: when LB-IPAM gave the LBVIP no address,
    its reason (NoPool, AddressAlreadyInUse, ...) and message, so no reader parses messages."""
    vip_ref = f"LBVIP/{svc.namespace}/{vip_name}"
    msg = f"LBVIP {svc.namespace}/{vip_name} has no address"
    if index.get("LBVIP", svc.namespace, vip_name) is None:
        return _cond(svc.ref, "lb.cilium.io/VIPExist", "VIPNotFound", msg)
    why = next((c for c in ipam_conditions if c["ref"] == vip_ref), None)
    if why is None:
        return _cond(svc.ref, "lb.cilium.io/VIPExist", "VIPNotAllocated", msg)
    return _cond(svc.ref, "lb.cilium.io/VIPExist", why["reason"], f"{msg}: {why['message']}")


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


def dumps(plan: NodePlan | dict) -> bytes:
    """Canonical bytes of a plan: sorted keys, 2-space indent, trailing newline."""
    return b"".join(dump_parts(plan))


def dump_parts(plan: NodePlan | dict) -> list[bytes]:
    """`dumps(plan)` in pieces to write one after the other: each backend pool is a piece of
    its own, serialised once however many tier-2 plans hold it (a tier-2 plan is ~90 % pools,
    the same ones on every tier-2 node), so writing 20 plans does not copy them 20 times."""
    import orjson

    canonical = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    if not isinstance(plan, NodePlan):
        return [orjson.dumps(plan, option=canonical)]
    # a Fragment is copied as it is: the IPAM section, the same on every node, is serialised once
    doc = {**plan.to_json(), "ipam": orjson.Fragment(_indented(plan.ipam, 1))}
    pools = plan.tier2.backend_pools if plan.tier2 is not None else ()
    if not pools:
        return [orjson.dumps(doc, option=canonical)]
    # each pool's place is marked by a NUL byte, which orjson never writes (it escapes one in a
    # string as \u0000): the text splits there and the pools' own bytes go in between
    doc["tier2"] = {**doc["tier2"], "backendPools": [orjson.Fragment(b"\0")] * len(pools)}
    around = orjson.dumps(doc, option=canonical).split(b"\0")
    if len(around) != len(pools) + 1:
        raise RuntimeError("internal error: a NUL byte in a serialised plan")
    parts = [around[0]]
    for p, after in zip(pools, around[1:]):
        parts += (_indented(p, 3), after)
    return parts


def _indented(obj, depth: int) -> bytes:
    """`obj`'s canonical JSON as it appears `depth` levels down (orjson indents 2 spaces a
    level), built once per object like its to_json."""
    import orjson

    hit = obj.__dict__.get("_indented")
    if hit is None or hit[0] != depth:
        text = orjson.dumps(obj.to_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
        # JSON strings hold no raw newline: each one starts a line to indent
        hit = obj.__dict__["_indented"] = (depth, text.replace(b"\n", b"\n" + b"  " * depth))
    return hit[1]
