"""Node plans for a lab topology, made by `compile` from a small manifest set (never by hand):
Nodes with the tier labels and InternalIPs of the topology, one LBVIP (ipv4Request) and
LBService per lab service with a TCP (or UDP) proxy over the lab backends, and, when only some
tier-2 nodes are to serve, an LBDeployment that selects them by hostname. The set must lint
clean of errors, as any set a user compiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from lbcli.lab.topology import Topology

T1_DEVICE, T2_DEVICE, VNI, PORT = "lb1vx", "lb2vx", 1, 4789  # what compile names them (compile/tier1, plan)
LAB_TABLE_SIZE = 251  # a Cilium table size (bpf-lb-maglev-table-size): small and quick to build


@dataclass(frozen=True)
class LabService:
    name: str  # "ns/name"
    vip: str
    port: int
    protocol: str = "TCP"
    # forceDeploymentMode: None = left out (auto: UDP services are then t1-only). A UDP service
    # is t1-t2 unless it says otherwise: the datapath benches serve it with iperf3 on tier 2.
    mode: str | None = None


def manifests(topo: Topology, services: list[LabService], t2_names: list[str] | None = None,
              table_size: int = LAB_TABLE_SIZE) -> list[dict]:
    """The manifest set the lab's plans are compiled from."""
    docs: list[dict] = [{
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cilium-config", "namespace": "kube-system"},
        "data": {"routing-mode": "tunnel", "tunnel-protocol": "vxlan", "bpf-lb-algorithm": "maglev",
                 "bpf-lb-maglev-table-size": str(table_size)},
    }]
    for n in topo.nodes:
        tier = "t1-t2" if set(n.tiers) == {"t1", "t2"} else n.tiers[0]
        docs.append({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": n.name, "labels": {"service.cilium.io/node": tier,
                                                             "kubernetes.io/hostname": n.name}},
                     "status": {"addresses": [{"type": "InternalIP", "address": n.ip}]}})
    vips = sorted({s.vip for s in services})
    docs.append({"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool", "metadata": {"name": "lab"},
                 "spec": {"blocks": [{"cidr": f"{v}/32"} for v in vips]}})
    for ns, v in sorted({(s.name.split("/", 1)[0], s.vip) for s in services}):  # vipRef is namespaced
        docs.append({"apiVersion": "isovalent.com/v1alpha1", "kind": "LBVIP",
                     "metadata": {"namespace": ns, "name": f"vip{vips.index(v)}"}, "spec": {"ipv4Request": v}})
    seen: set[tuple[str, str]] = set()
    for s in sorted(services, key=lambda s: (s.vip, s.port, s.protocol)):
        ns, name = s.name.split("/", 1)
        if (ns, name) in seen:  # one name for a TCP and a UDP service on one port
            name = f"{name}-{s.protocol.lower()}"
        seen.add((ns, name))
        app = "udpProxy" if s.protocol == "UDP" else "tcpProxy"
        mode = s.mode or ("t1-t2" if s.protocol == "UDP" else None)
        t1_only = mode == "t1-only" or (mode is None and app == "udpProxy")
        pool = {"backendType": "IP", "backends": [{"ip": b.ip, "port": s.port} for b in topo.backends],
                "healthCheck": {"intervalSeconds": 5, "timeoutSeconds": 2, "tcp": {}},
                # tier 1 balances t1-only services with Maglev (another algorithm is refused)
                "loadbalancing": {"algorithm": {"consistentHashing": {"algorithm": {"maglev": {"tableSize": table_size}}}}
                                  if t1_only else {"roundRobin": {}}}}
        docs.append({"apiVersion": "isovalent.com/v1alpha1", "kind": "LBBackendPool",
                     "metadata": {"namespace": ns, "name": name}, "spec": pool})
        body: dict = {"routes": [{"backendRef": {"name": name}}]}
        if mode is not None:
            body["forceDeploymentMode"] = mode
        docs.append({"apiVersion": "isovalent.com/v1alpha1", "kind": "LBService",
                     "metadata": {"namespace": ns, "name": name, "labels": {"lab.cilium-lb/service": "yes"}},
                     "spec": {"vipRef": {"name": f"vip{vips.index(s.vip)}"}, "port": s.port,
                              "applications": {app: body}}})
    if t2_names is not None:
        docs.append({"apiVersion": "isovalent.com/v1alpha1", "kind": "LBDeployment",
                     "metadata": {"namespace": "lab", "name": "lab"},
                     "spec": {"services": {"labelSelector": {"matchLabels": {"lab.cilium-lb/service": "yes"}}},
                              "nodes": {"labelSelectors": {
                                  "t1": {"matchLabels": {"service.cilium.io/node": "t1"}},
                                  "t2": {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                                               "values": sorted(t2_names)}]}}}}})
    return docs


def node_plans(topo: Topology, services: list[LabService], t2_names: list[str] | None = None,
               table_size: int = LAB_TABLE_SIZE) -> dict[str, dict]:
    """One compiled plan (its JSON form) per lab node: tier-1 nodes dispatch every service over
    `t2_names` (default: all tier-2 nodes), which hold its VIP."""
    from lbcli.compile.plan import compile_plans
    from lbcli.lint.engine import lint
    from lbcli.lint.problem import Severity
    from lbcli.manifest.loader import LoadResult, load_text

    text = yaml.safe_dump_all(manifests(topo, services, t2_names, table_size), sort_keys=False)
    loaded = LoadResult()
    loaded.files.append("lab.yaml")
    loaded.texts["lab.yaml"] = text
    load_text("lab.yaml", text, loaded)
    report = lint(loaded)
    # A two-tier UDP lab service exercises the tier-1 datapath only (iperf3 answers on the T2
    # node itself): the refusal of udpProxy on tier 2, right for users since tier 2 proxies TCP
    # only, is the one finding the lab accepts.
    udp = any(s.protocol == "UDP" for s in services)
    errors = [f"{p.line}:{p.column} {p.rule} {p.message}" for p in report.problems if p.severity >= Severity.ERROR
              and not (udp and p.rule == "not-implemented" and "udpProxy.forceDeploymentMode" in p.message)]
    if errors:
        raise ValueError("the lab's manifest set has errors:\n" + "\n".join(errors) + "\n" + text)
    compiled = compile_plans(report.index)
    return {name: plan.to_json() for name, plan in sorted(compiled.plans.items())}
