"""Generate a valid manifest corpus for benchmarks: N files x 10 resources (LBVIP, LBService,
LBBackendPool triples plus a Node), all references resolving, one shared IP pool."""

from __future__ import annotations

import ipaddress
from pathlib import Path

VIP = """---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata:
  name: vip-{i}
  namespace: ns-{f}
spec:
  ipv4Request: "{ip}"
"""
SVC = """---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata:
  name: svc-{i}
  namespace: ns-{f}
  labels:
    app: app-{i}
spec:
  vipRef:
    name: vip-{i}
  port: 80
  applications:
    httpProxy:
      routes:
        - match:
            hostNames: ["app-{i}.example.com"]
            path: {{prefix: /}}
          backendRef:
            name: pool-{i}
"""
POOL = """---
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata:
  name: pool-{i}
  namespace: ns-{f}
spec:
  backendType: IP
  healthCheck:
    intervalSeconds: 5
    timeoutSeconds: 2
    http:
      path: /health
  backends:
    - ip: 10.{a}.{b}.10
      port: 8080
    - ip: 10.{a}.{b}.11
      port: 8080
      weight: 2
  loadbalancing:
    algorithm:
      roundRobin: {{}}
"""
NODE = """---
apiVersion: v1
kind: Node
metadata:
  name: node-{f}
  labels:
    service.cilium.io/node: {tier}
spec:
  podCIDRs: ["10.{m}.{n}.0/24"]
status:
  addresses:
    - type: InternalIP
      address: 192.168.{h}.{l}
"""
IPPOOL = """apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata:
  name: bench-pool
spec:
  blocks:
    - cidr: 100.64.0.0/14
"""


# With findings=True one triple in three and one Node in three get a finding (a third of the
# resources): schema errors (an unknown field with a suggestion, a port out of range, a CIDR
# pattern) and a semantic one (an address outside every pool), each located to line:col.
FAULTS = (
    ("LBVIP", 'ipv4Request: "{ip}"', 'ipv4Request: "198.51.{a}.{b}"'),
    ("LBService", "port: 80", "port: 70000"),
    ("LBBackendPool", "healthCheck:", "helthCheck:"),
    ("Node", '/24"]', '/33"]'),
)


def _fault(kind: str, text: str, **kw) -> str:
    for k, good, bad in FAULTS:
        if k == kind:
            return text.replace(good.format(**kw), bad.format(**kw), 1)
    return text


def generate(root: Path, files: int = 1000, single_docs: Path | None = None, findings: bool = False) -> int:
    """Write the corpus under `root`; with `single_docs`, also one document per file grouped by
    kind (for validators without multi-document support); with `findings`, a third of the
    resources have a finding (see FAULTS). Returns the resource count."""
    root.mkdir(parents=True, exist_ok=True)
    base = int(ipaddress.IPv4Address("100.64.0.1"))
    count = 0
    docs_by_kind: dict[str, list[str]] = {}
    for f in range(files):
        parts = []
        for j in range(3):
            i = f * 3 + j
            ip = ipaddress.IPv4Address(base + i)
            triple = [("LBVIP", VIP.format(i=i, f=f, ip=ip)), ("LBService", SVC.format(i=i, f=f)),
                      ("LBBackendPool", POOL.format(i=i, f=f, a=i // 256 % 256, b=i % 256))]
            if findings and j == f % 3:
                triple = [(k, _fault(k, t, ip=ip, a=i // 256 % 256, b=i % 256)) for k, t in triple]
            parts += triple
        node = NODE.format(f=f, tier="t1" if f % 2 else "t2", m=244 + f // 256, n=f % 256, h=f // 250, l=f % 250 + 1)
        parts.append(("Node", _fault("Node", node) if findings and f % 3 == 0 else node))
        (root / f"set-{f:04d}.yaml").write_text("".join(p for _, p in parts))
        count += len(parts)
        for kind, text in parts:
            docs_by_kind.setdefault(kind, []).append(text.removeprefix("---\n"))
    (root / "pool.yaml").write_text(IPPOOL)
    count += 1
    if single_docs is not None:
        for kind, docs in docs_by_kind.items():
            d = single_docs / kind
            d.mkdir(parents=True, exist_ok=True)
            for n, text in enumerate(docs):
                (d / f"{n:05d}.yaml").write_text(text)
        (single_docs / "CiliumLoadBalancerIPPool").mkdir(exist_ok=True)
        (single_docs / "CiliumLoadBalancerIPPool" / "pool.yaml").write_text(IPPOOL)
    return count
