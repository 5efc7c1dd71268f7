"""Pod networking across nodes, from `cilium-config`: tunnel (one peer entry per remote node and
its PodCIDRs) or native routing, masquerade, bandwidth manager."""

from __future__ import annotations

from ..manifest.index import ResourceIndex
from .nodes import NodeInfo

TUNNEL_PORTS = {"vxlan": 8472, "geneve": 6081}  # Cilium's defaults


def options(index: ResourceIndex) -> dict[str, str]:
    cm = index.cilium_config()
    data = (cm.body.get("data") or {}) if cm is not None else {}
    return {str(k): str(v) for k, v in data.items()}


def _bool(v: str | None, default: bool) -> bool:
    return default if v is None else v.strip().lower() == "true"


def network_section(node: NodeInfo, nodes: list[NodeInfo], opts: dict[str, str]) -> dict:
    mode = opts.get("routing-mode", "tunnel")
    proto = opts.get("tunnel-protocol", "vxlan") if mode == "tunnel" else None
    port = int(opts["tunnel-port"]) if opts.get("tunnel-port", "").isdigit() else TUNNEL_PORTS.get(proto or "", None)
    return {
        "routingMode": mode,
        "tunnelProtocol": proto,
        "tunnelPort": port if mode == "tunnel" else None,
        "autoDirectNodeRoutes": _bool(opts.get("auto-direct-node-routes"), False),
        "nativeRoutingCIDR": opts.get("ipv4-native-routing-cidr") or None,
        "masquerade": _bool(opts.get("enable-ipv4-masquerade"), True),
        "bandwidthManager": _bool(opts.get("enable-bandwidth-manager"), False),
        "peers": [{"node": n.name, "ip": n.internal_ip, "podCIDRs": list(n.pod_cidrs)}
                  for n in nodes if n.name != node.name and n.internal_ip],
    }
