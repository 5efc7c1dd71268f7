"""Pod networking across nodes, from `cilium-config`: tunnel (one peer entry per remote node and
its PodCIDRs) or native routing, masquerade, bandwidth manager (this node's Pods with a
bandwidth annotation)."""

from __future__ import annotations

import ipaddress

from ..manifest.index import ResourceIndex
from ..model.cilium_config import option_bool, tunnel_port
from ..model.quantity import bits_per_second
from ..model.tunnel import pod_tunnel_mac
from .nodes import NodeInfo

TUNNEL_DEVICE = "lbpod_vxlan"  # not Cilium's cilium_vxlan: both may exist on one host
TUNNEL_VNI = 2  # one VNI for all pod traffic (Cilium puts the source identity there)
EGRESS, INGRESS = "kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth"


def options(index: ResourceIndex) -> dict[str, str]:
    cm = index.cilium_config()
    data = (cm.body.get("data") or {}) if cm is not None else {}
    return {str(k): str(v) for k, v in data.items()}


def network_section(node: NodeInfo, nodes: list[NodeInfo], opts: dict[str, str],
                    index: ResourceIndex | None = None) -> dict:
    mode = opts.get("routing-mode", "tunnel")
    tunnel = mode == "tunnel"
    proto = opts.get("tunnel-protocol", "vxlan") if tunnel else None
    port = tunnel_port(opts, proto)
    bandwidth_manager = option_bool(opts, "enable-bandwidth-manager", False)
    return {
        "routingMode": mode,
        "tunnelProtocol": proto,
        "tunnelPort": port if tunnel else None,
        "tunnelDevice": TUNNEL_DEVICE if tunnel else None,
        "tunnelVNI": TUNNEL_VNI if tunnel else None,
        "tunnelMac": pod_tunnel_mac(node.name) if tunnel else None,
        "autoDirectNodeRoutes": option_bool(opts, "auto-direct-node-routes", False),
        "nativeRoutingCIDR": opts.get("ipv4-native-routing-cidr") or None,
        "masquerade": option_bool(opts, "enable-ipv4-masquerade", True),
        "bandwidthManager": bandwidth_manager,
        "peers": [{"node": n.name, "ip": n.internal_ip, "podCIDRs": list(n.pod_cidrs),
                   "tunnelMac": pod_tunnel_mac(n.name)}
                  for n in nodes if n.name != node.name and n.internal_ip],
        "bandwidth": _bandwidth(node, index) if bandwidth_manager and index is not None else [],
    }


def _bandwidth(node: NodeInfo, index: ResourceIndex) -> list[dict]:
    """This node's Pods with a bandwidth annotation. Values lint refused (pod-bandwidth) are
    left out here, so compile never builds a plan the node could not carry out."""
    out = []
    for pod in index.valid("Pod"):
        if (pod.body.get("spec") or {}).get("nodeName") != node.name:
            continue
        ip = _ipv4((pod.body.get("status") or {}).get("podIP"))
        ann = pod.annotations
        rates = {}
        for key, field in ((EGRESS, "egressBitsPerSecond"), (INGRESS, "ingressBitsPerSecond")):
            try:
                rates[field] = bits_per_second(str(ann[key])) if key in ann else None
            except ValueError:
                rates[field] = None
        if ip is None or not any(rates.values()):
            continue
        out.append({"pod": f"{pod.namespace or 'default'}/{pod.name}", "ip": ip, **rates})
    return sorted(out, key=lambda b: b["pod"])


def _ipv4(text) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(text)))
    except ValueError:
        return None
