"""The pod networking lab: manifests (Nodes with PodCIDRs, Pods, cilium-config) for a topology
with pods, and `cilium-lb apply` / `reset` / `diff --live` run in each node like a user would.
Used by tests/e2e/test_podnet.py and bench/bench_podnet.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .testbed import Lab
from .topology import Topology

ROOT = Path(__file__).resolve().parents[2]


def manifests(topo: Topology, config: dict[str, str], bandwidth: dict[str, dict[str, str]] | None = None) -> str:
    """One YAML stream: the Nodes, the Pods (with `bandwidth`: pod -> annotations) and cilium-config."""
    docs = []
    for n in topo.nodes:
        cidrs = f"  podCIDRs: [{n.pod_cidr}]\n" if n.pod_cidr else ""
        docs.append(f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {n.name}\nspec:\n{cidrs or '  {}'}\n"
                    f"status:\n  addresses:\n  - {{type: InternalIP, address: {n.ip}}}\n")
    for p in topo.pods:
        ann = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in sorted((bandwidth or {}).get(p.name, {}).items()))
        docs.append(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {p.name}\n  namespace: default\n"
                    + (f"  annotations:\n{ann}" if ann else "")
                    + f"spec:\n  nodeName: {p.node}\nstatus:\n  podIP: {p.ip}\n  podIPs:\n  - ip: {p.ip}\n")
    data = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in sorted(config.items()))
    docs.append(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cilium-config\n  namespace: kube-system\n"
                f"data:\n{data or '  {}'}\n")
    return "---\n" + "---\n".join(docs)


class PodnetDriver:
    def __init__(self, lab: Lab):
        self.lab = lab
        self.dir = lab.workdir / "manifests"
        self.dir.mkdir(parents=True, exist_ok=True)

    def write(self, config: dict[str, str], bandwidth: dict[str, dict[str, str]] | None = None) -> Path:
        path = self.dir / "podnet.yaml"
        path.write_text(manifests(self.lab.topology, config, bandwidth))
        return path

    def cli(self, node: str, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "lbcli", *args]
        return self.lab.run_in(node, argv, check=check, cwd=str(ROOT), timeout=120)

    def apply(self, node: str) -> dict:
        proc = self.cli(node, "apply", str(self.dir), "--node", node, "--state-dir", str(self.lab.state_dir(node)),
                        "--bpf-root", str(self.lab.bpf_root), "-o", "json")
        doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
        doc["exit"], doc["stderr"] = proc.returncode, proc.stderr
        return doc

    def apply_all(self) -> dict[str, dict]:
        return {n.name: self.apply(n.name) for n in self.lab.topology.nodes}

    def diff_live(self, node: str) -> tuple[int, dict]:
        proc = self.cli(node, "diff", str(self.dir), "--live", "--node", node, "--state-dir",
                        str(self.lab.state_dir(node)), "--bpf-root", str(self.lab.bpf_root), "-o", "json")
        return proc.returncode, (json.loads(proc.stdout) if proc.stdout.strip() else {"stderr": proc.stderr})

    def reset(self, node: str) -> dict:
        proc = self.cli(node, "reset", "--node", node, "--state-dir", str(self.lab.state_dir(node)),
                        "--bpf-root", str(self.lab.bpf_root), "-o", "json")
        doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
        doc["exit"], doc["stderr"] = proc.returncode, proc.stderr
        return doc
