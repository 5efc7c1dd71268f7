"""Nodes' PodCIDRs do not overlap.

Each node routes its peers' PodCIDRs to them (a tunnel entry or a direct route per peer and
CIDR) and owns its own: two nodes with overlapping PodCIDRs make the same pod addresses
reachable at two places, and one of the routes wins silently. Checked across Nodes and within
one Node's spec.podCIDRs; reported at the later CIDR in file order.

Example (error):

    nodes.yaml:21:7: error: PodCIDR 10.0.1.128/25 of Node worker-2 overlaps 10.0.1.0/24 of
    Node worker-1 (nodes.yaml:9:7) [pod-cidr-overlap]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._pods import node_pod_cidrs

ID = "pod-cidr-overlap"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    seen: list = []  # (node, path, network)
    for node in ctx.index.of_kind("Node"):
        for path, net in node_pod_cidrs(node):
            for other, opath, onet in seen:
                if onet.version == net.version and onet.overlaps(net):
                    line, col = other.locate(opath)
                    yield Finding(node, path, f"PodCIDR {net} of Node {node.name} overlaps {onet} of Node "
                                  f"{other.name} ({other.doc.file}:{line}:{col})")
                    break
            seen.append((node, path, net))
