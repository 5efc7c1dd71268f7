"""Pod bandwidth annotations are quantities the node can shape.

`kubernetes.io/egress-bandwidth` and `kubernetes.io/ingress-bandwidth` are Kubernetes
quantities in bits per second ("10M" is 10 Mbit/s, "1Gi" 2^30 bit/s). Reported (error): a value
that is not a quantity, one below 1k or above 1P (kubelet refuses both as unreasonable), and one
above what the kernel's HTB/TBF rate can hold (34,359 Mbit/s: a 32-bit count of bytes per
second). With the annotations set but `enable-bandwidth-manager` not "true" in cilium-config,
nothing shapes them (warning), as in Cilium.

Example (error):

    pods.yaml:6:39: error: kubernetes.io/egress-bandwidth '10 Mbps' is not a Kubernetes
    quantity (e.g. 10M, 1Gi, 500k) [pod-bandwidth]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._pods import EGRESS, INGRESS

ID = "pod-bandwidth"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    cm = ctx.index.cilium_config()
    data = (cm.body.get("data") or {}) if cm is not None and isinstance(cm.body.get("data"), dict) else {}
    manager = str(data.get("enable-bandwidth-manager", "false")).strip() == "true"
    for pod in ctx.index.valid("Pod"):
        ann = pod.annotations
        for key in (EGRESS, INGRESS):
            if key not in ann:
                continue
            from ...model.quantity import bandwidth_problem  # (fractions, decimal): only with such Pods

            path = ("metadata", "annotations", key)
            why = bandwidth_problem(str(ann[key]))
            if why:
                yield Finding(pod, path, f"{key} {why}")
            elif not manager:
                yield Finding(pod, path, f"{key} is not shaped: enable-bandwidth-manager is not \"true\" in "
                              "cilium-config", severity=Severity.WARNING)
