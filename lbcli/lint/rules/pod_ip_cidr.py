"""A Pod's address lies in a PodCIDR of the Node it runs on.

Pods across nodes reach each other through one route (native routing) or tunnel entry per
peer node and PodCIDR: an address outside its node's PodCIDRs is routed to another node, or
nowhere. Checked for status.podIP and every status.podIPs[].ip of a Pod whose spec.nodeName is a
Node of the set (pod-node reports the others); a Node without a PodCIDR of the address's family
is reported too. podIPs[0] must equal podIP, as the API server requires.

Example (error):

    pods.yaml:12:10: error: Pod default/web has address 10.0.7.5, outside the PodCIDRs of its
    node worker-1 (10.0.1.0/24) [pod-ip-cidr]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._pods import node_name, node_pod_cidrs, pod_ips

ID = "pod-ip-cidr"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    nodes = {n.name: n for n in ctx.index.of_kind("Node")}
    for pod in ctx.index.valid("Pod"):
        ips = list(pod_ips(pod))
        status = pod.body.get("status") or {}
        first = (status.get("podIPs") or [None])[0]
        if status.get("podIP") and isinstance(first, dict) and first.get("ip") not in (None, status["podIP"]):
            yield Finding(pod, ("status", "podIPs", 0, "ip"), f"podIPs[0] {first.get('ip')} differs from "
                          f"podIP {status['podIP']} (the API server requires them equal)")
        node = nodes.get(node_name(pod) or "")
        if node is None:
            continue
        cidrs = [net for _, net in node_pod_cidrs(node)]
        for path, ip in ips:
            same_family = [n for n in cidrs if n.version == ip.version]
            if not same_family:
                yield Finding(pod, path, f"Pod {pod.key} has IPv{ip.version} address {ip}, but its node "
                              f"{node.name} has no IPv{ip.version} PodCIDR")
            elif not any(ip in n for n in same_family):
                yield Finding(pod, path, f"Pod {pod.key} has address {ip}, outside the PodCIDRs of its node "
                              f"{node.name} ({', '.join(str(n) for n in same_family)})")
