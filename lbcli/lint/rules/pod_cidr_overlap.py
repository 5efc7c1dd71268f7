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

from bisect import bisect_left, bisect_right
from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._pods import node_pod_cidrs

ID = "pod-cidr-overlap"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    # CIDRs either nest or are disjoint, so what overlaps a CIDR is a supernet (found by one
    # lookup per shorter prefix length) or a CIDR starting inside it (a range of the sorted
    # starts): no comparison of every pair, which took seconds for 1,000 Nodes
    cidrs = [(node, path, net) for node in ctx.index.of_kind("Node") for path, net in node_pod_cidrs(node)]
    first: dict[tuple, int] = {}  # (version, prefixlen, network) -> first index in file order
    for i, (_, _, net) in enumerate(cidrs):
        first.setdefault((net.version, net.prefixlen, int(net.network_address)), i)
    lengths = {4: sorted({p for v, p, _ in first if v == 4}), 6: sorted({p for v, p, _ in first if v == 6})}
    starts = sorted((net.version, int(net.network_address), i) for i, (_, _, net) in enumerate(cidrs))
    for i, (node, path, net) in enumerate(cidrs):
        v, lo, hi = net.version, int(net.network_address), int(net.broadcast_address)
        width = net.max_prefixlen
        hits = [first.get((v, p, lo >> (width - p) << (width - p)), i) for p in lengths[v] if p <= net.prefixlen]
        a, b = bisect_left(starts, (v, lo, -1)), bisect_right(starts, (v, hi, len(cidrs)))
        hits += [j for _, _, j in starts[a:b]]
        j = min(hits, default=i)
        if j < i:
            other, opath, onet = cidrs[j]
            line, col = other.locate(opath)
            yield Finding(node, path, f"PodCIDR {net} of Node {node.name} overlaps {onet} of Node "
                          f"{other.name} ({other.doc.file}:{line}:{col})")
