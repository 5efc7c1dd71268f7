"""A Pod's spec.nodeName names a Node of the set.

The node a Pod runs on programs its address (the PodCIDR route, masquerade) and shapes its
bandwidth annotations; a Pod on a Node the set does not have is carried out nowhere. Pods
without spec.nodeName (not scheduled yet) are not checked, nor any Pod when the set has no
v1 Node at all (most repositories keep Nodes out of git; pass them with --nodes).

Example (error):

    pods.yaml:7:13: error: Pod default/web runs on node worker-9, which is not a Node of the
    set (nodes: worker-1, worker-2) [pod-node]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._pods import node_name

ID = "pod-node"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    nodes = sorted(n.name for n in ctx.index.of_kind("Node"))
    if not nodes:
        return
    known = set(nodes)
    for pod in ctx.index.valid("Pod"):
        name = node_name(pod)
        if name is not None and name not in known:
            shown = ", ".join(nodes[:5]) + (", ..." if len(nodes) > 5 else "")
            yield Finding(pod, ("spec", "nodeName"), f"Pod {pod.key} runs on node {name}, which is not a "
                          f"Node of the set (nodes: {shown})")
