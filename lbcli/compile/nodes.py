"""Nodes and their tiers, from v1 Node objects (what `kubectl get nodes -o yaml` prints).

A node is tier 1 / tier 2 by its `service.cilium.io/node` label (`t1-t2`: both, as Isovalent's
default selectors `in (t1, t1-t2)` / `in (t2, t1-t2)`), unless LBDeployment node selectors say
otherwise (then a node is in a tier when any deployment's selector matches it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..manifest.index import TIER_LABEL, TIER_VALUES, ResourceIndex
from ..manifest.selectors import matches
from ..plan.names import node_name_problem


class IdentityError(ValueError):
    """A node name that cannot become a file name; lint reports it first (and no suppression
    hides that), so this is the compiler's own second check. The message is located."""


@dataclass(frozen=True)
class NodeInfo:
    name: str
    internal_ip: str | None
    pod_cidrs: tuple[str, ...]
    labels: dict = field(hash=False, compare=False)
    tiers: tuple[str, ...] = ()


def node_infos(index: ResourceIndex) -> list[NodeInfo]:
    sels = index.lb_deployment_selectors()
    out = []
    for n in sorted(index.of_kind("Node"), key=lambda r: r.name):
        why = node_name_problem(n.name)
        if why is not None:
            line, col = n.locate(("metadata", "name"))
            raise IdentityError(f"{f'{n.doc.file}:{line}:{col}' if n.doc.file else n.ref}: node name {why}")
        labels = n.labels
        tiers = []
        for tier in ("t1", "t2"):
            if sels[tier]:
                if any(matches(s, labels) for s in sels[tier]):
                    tiers.append(tier)
            elif labels.get(TIER_LABEL) in TIER_VALUES[tier]:
                tiers.append(tier)
        addrs = (n.body.get("status") or {}).get("addresses") or []
        ip = next((a.get("address") for a in addrs if isinstance(a, dict) and a.get("type") == "InternalIP"), None)
        spec = n.body.get("spec") or {}
        cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        out.append(NodeInfo(n.name, ip, tuple(cidrs), labels, tuple(tiers)))
    return out
