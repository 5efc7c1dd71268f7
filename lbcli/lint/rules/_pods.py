"""Shared reading of Pods and Nodes for the pod networking rules (not a rule: underscore module)."""

from __future__ import annotations

import ipaddress
from typing import Iterator

from ...manifest.addr import parse_network
from ...manifest.resource import Resource

EGRESS, INGRESS = "kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth"


def node_pod_cidrs(node: Resource) -> list[tuple[tuple, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """(path, network) of each PodCIDR of a Node: spec.podCIDRs, else spec.podCIDR (as kubelet)."""
    spec = node.body.get("spec") if isinstance(node.body.get("spec"), dict) else {}
    out = []
    many = spec.get("podCIDRs")
    items = ([(("spec", "podCIDRs", i), c) for i, c in enumerate(many)] if isinstance(many, list) and many
             else [(("spec", "podCIDR"), spec.get("podCIDR"))] if spec.get("podCIDR") else [])
    for path, text in items:
        net = parse_network(str(text))
        if net is not None:  # else the schema reports it
            out.append((path, net))
    return out


def pod_ips(pod: Resource) -> Iterator[tuple[tuple, ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    """(path, address) of status.podIP and each status.podIPs[].ip."""
    status = pod.body.get("status") if isinstance(pod.body.get("status"), dict) else {}
    items = [(("status", "podIP"), status.get("podIP"))] if status.get("podIP") else []
    for i, entry in enumerate(status.get("podIPs") or []):
        if isinstance(entry, dict) and entry.get("ip"):
            items.append((("status", "podIPs", i, "ip"), entry["ip"]))
    for path, text in items:
        try:
            yield path, ipaddress.ip_address(str(text))
        except ValueError:
            continue


def node_name(pod: Resource) -> str | None:
    spec = pod.body.get("spec") if isinstance(pod.body.get("spec"), dict) else {}
    name = spec.get("nodeName")
    return name if isinstance(name, str) and name else None
