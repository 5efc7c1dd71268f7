"""Tier-1 datapath benchmarks (root; runs in a namespace lab, touches nothing else).

1. Programming: 1,000 VIPs with distinct M=16381 Maglev tables into the pinned maps (worst
   case: no table shared), then one backend change in one loaded table (time, slots written).
   Targets: 1,000 VIPs < 1 s; one change < 50 ms.
2. Forwarding, client -> VIP in the same lab: the tier-1 eBPF program (VXLAN to T2, DSR) side by
   side with nftables DNAT on T1 (VIP -> T2 address, replies back through T1) and plain routing
   to the T2 address. iperf3: UDP 64-byte datagrams for packets/s, TCP for throughput.

    python bench/bench_datapath.py [--runs 5] [--seconds 3] [--skip-forwarding]

Prints medians of several runs as a table.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import statistics
from collections import Counter
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_VIPS, M, N_T2 = 1000, 16381, 10


# -- plan for the programming benchmark -------------------------------------------------------
def big_plan(node_ip: str, variant: int = 0, n_vips: int = N_VIPS) -> dict:
    """The bench node's plan, compiled from a manifest set (lbcli/lab/plans.py): 1,000 TCP
    services on tier-1 node `bench`, each placed by its own LBDeployment on a distinct subset
    of the 10 T2 nodes (service i > 0 on the subset with bit mask i+1, service 0 on t2-01..09),
    so every service has a table of its own. `variant` adds t2-00 to service 0's set (a subset
    no other service uses): one backend change in one loaded table."""
    import yaml

    from lbcli.compile.plan import compile_plans
    from lbcli.lab.plans import LabService, manifests
    from lbcli.lab.topology import LabNode, Topology
    from lbcli.lint.engine import lint
    from lbcli.lint.problem import Severity
    from lbcli.manifest.loader import LoadResult, load_text

    names = [f"t2-{j:02d}" for j in range(N_T2)]
    topo = Topology(nodes=(LabNode("bench", node_ip, ("t1",)),
                           *(LabNode(n, f"10.200.0.{j + 1}", ("t2",)) for j, n in enumerate(names))),
                    backends=(LabNode("be", "10.201.0.1"),), vips=())
    services = [LabService(f"bench/svc{i}", f"100.64.{i // 250}.{i % 250 + 1}", 80) for i in range(n_vips)]
    docs = manifests(topo, services, table_size=M)
    for d in docs:
        if d["kind"] == "LBService":
            d["metadata"]["labels"]["bench-svc"] = d["metadata"]["name"]
    for i in range(n_vips):
        # service 0: 9 T2 nodes, + the tenth in the variant; the others: masks 2..1000
        mask = (1022 | (1 if variant else 0)) if i == 0 else i + 1
        chosen = [n for j, n in enumerate(names) if mask >> j & 1]
        docs.append({"apiVersion": "isovalent.com/v1alpha1", "kind": "LBDeployment",
                     "metadata": {"namespace": "bench", "name": f"svc{i}"},
                     "spec": {"services": {"labelSelector": {"matchLabels": {"bench-svc": f"svc{i}"}}},
                              "nodes": {"labelSelectors": {
                                  "t1": {"matchLabels": {"service.cilium.io/node": "t1"}},
                                  "t2": {"matchExpressions": [{"key": "kubernetes.io/hostname",
                                                               "operator": "In", "values": chosen}]}}}}})
    text = yaml.safe_dump_all(docs, sort_keys=False)
    loaded = LoadResult()
    loaded.files.append("bench.yaml")
    loaded.texts["bench.yaml"] = text
    load_text("bench.yaml", text, loaded)
    report = lint(loaded)
    errors = [f"{p.line}:{p.column} {p.rule} {p.message}" for p in report.problems if p.severity >= Severity.ERROR]
    if errors:
        raise ValueError("the bench manifest set has errors:\n" + "\n".join(errors[:5]))
    plan = compile_plans(report.index).plans["bench"]
    assert len(plan.tier1.maglev_tables) == n_vips, "every service has a table of its own"
    return plan.to_json()


def program_worker(plan_dir: Path, state_dir: Path, bpf_root: Path, runs: int) -> dict:
    """Runs inside the node namespace: times reconciles of the plans written by the parent."""
    from lbcli.agent.datapath.reconciler import DatapathReconciler
    from lbcli.agent.engine import execute
    from lbcli.agent.reconciler import NodeContext
    from lbcli.plan.types import NodePlan

    rec = DatapathReconciler(NodeContext("bench", state_dir, bpf_root))
    empty, full, changed = (NodePlan.from_json(json.loads((plan_dir / f"{n}.json").read_text()))
                            for n in ("empty", "full", "changed"))

    def reconcile(plan: NodePlan) -> tuple[float, float, list]:
        t0 = time.perf_counter()
        obs = rec.observe()
        t1 = time.perf_counter()
        res = execute(rec, rec.diff(rec.desired(plan, None), obs))
        t2 = time.perf_counter()
        assert res.ok, ([r.error for r in res.results if not r.ok] or [res.error])[:3]
        return t2 - t0, t2 - t1, res.results

    reconcile(empty)  # device, program load, filter: not part of map programming
    out: dict[str, list] = {"full": [], "full_apply": [], "change": [], "change_apply": [], "slots": [],
                            "delete": []}
    for _ in range(runs):
        total, apply_only, _ = reconcile(full)
        out["full"].append(total)
        out["full_apply"].append(apply_only)
        for plan in (changed, full):
            total, apply_only, results = reconcile(plan)
            tables = [r for r in results if r.change.object.startswith("table")]
            assert len(tables) == 1 and tables[0].change.action == "update", [
                (r.change.action, r.change.object, r.change.detail) for r in results]
            out["change"].append(total)
            out["change_apply"].append(apply_only)
            out["slots"].append(int(tables[0].change.detail.split(":")[1]))
        total, _, _ = reconcile(empty)
        out["delete"].append(total)
    rec.reset()
    return out


# -- forwarding ----------------------------------------------------------------------------------
def iperf(lab, target: str, udp: bool, seconds: int) -> float:
    argv = ["iperf3", "-c", target, "-t", str(seconds), "-J"]
    if udp:
        argv += ["-u", "-l", "64", "-b", "0"]
    out = json.loads(lab.run_in("client", argv, timeout=seconds + 30, check=False).stdout)
    if "error" in out:
        raise RuntimeError(f"iperf3 to {target}: {out['error']}")
    s = out["end"]["sum"] if udp else out["end"]["sum_received"]
    if udp:
        return (s["packets"] - s["lost_packets"]) / s["seconds"]
    return s["bits_per_second"]


def forwarding(runs: int, seconds: int) -> dict[str, dict[str, float]]:
    from lbcli.lab import Lab
    from lbcli.lab.plans import LabService, node_plans

    results: dict[str, dict[str, float]] = {}
    vip = "100.64.0.101"
    with Lab() as lab:
        lab.mount_bpffs()
        t1, t2 = lab.topology.node("t1-a"), lab.topology.node("t2-a")
        lab.route_vip(vip, [t1.ip])  # one path, so the three modes compare the same hops
        plans = node_plans(lab.topology, [LabService("bench/iperf", vip, 5201, "TCP"),
                                          LabService("bench/iperf", vip, 5201, "UDP")], t2_names=["t2-a"])

        def nodecmd(node: str, cmd: str, plan: dict | None = None) -> None:
            argv = [sys.executable, "-m", "lbcli.lab.nodecmd", cmd, "--node", node, "--state-dir",
                    str(lab.state_dir(node)), "--bpf-root", str(lab.bpf_root)]
            if plan is not None:
                p = lab.workdir / f"{node}.json"
                p.write_text(json.dumps(plan))
                argv += ["--plan", str(p)]
            lab.run_in(node, argv)

        def server(bind: str):
            # bound to the address clients target: a UDP reply must come from that address
            proc = lab.popen("t2-a", ["iperf3", "-s", "-B", bind])
            time.sleep(0.5)
            return proc

        def measure(name: str, target: str) -> None:
            pps = [iperf(lab, target, True, seconds) for _ in range(runs)]
            bps = [iperf(lab, target, False, seconds) for _ in range(runs)]
            results[name] = {"pps": statistics.median(pps), "gbps": statistics.median(bps) / 1e9}

        # 1. tier-1 eBPF: VXLAN to T2, DSR
        for node in ("t1-a", "t2-a"):
            nodecmd(node, "apply", plans[node])
        srv = server(vip)
        measure("tier-1 eBPF (tc, VXLAN, DSR)", vip)
        srv.kill()
        srv.wait()
        for node in ("t1-a", "t2-a"):
            nodecmd(node, "reset")

        # 2. nftables DNAT on T1: VIP -> T2 address; T2 answers back through T1 (conntrack)
        lab.sysctl("t1-a", "net.ipv4.ip_forward", "1")
        lab.run_in("t1-a", ["nft", "-f", "-"], input=(
            "table ip bench {\n chain pre {\n  type nat hook prerouting priority dstnat;\n"
            f"  ip daddr {vip} dnat to {t2.ip}\n }}\n}}\n"))
        lab.run_in("t2-a", ["ip", "route", "add", "172.30.0.0/24", "via", t1.ip])
        server(t2.ip)
        measure("nftables DNAT on T1", vip)
        lab.run_in("t2-a", ["ip", "route", "del", "172.30.0.0/24", "via", t1.ip])
        lab.run_in("t1-a", ["nft", "delete", "table", "ip", "bench"])

        # 3. plain routing to the T2 address
        measure("plain routing to T2", t2.ip)
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--skip-forwarding", action="store_true")
    ap.add_argument("--program-worker", nargs=3, metavar=("PLANS", "STATE", "BPFROOT"))
    args = ap.parse_args()
    if args.program_worker:
        plans, state, root = map(Path, args.program_worker)
        print(json.dumps(program_worker(plans, state, root, args.runs)))
        return 0

    from lbcli.lab import Lab

    print(f"Programming: {N_VIPS} VIPs, distinct M={M} tables over {N_T2} T2 nodes (medians of {args.runs})")
    with Lab() as lab:
        lab.mount_bpffs()
        node = lab.topology.node("t1-a")
        plan_dir = lab.workdir / "bench-plans"
        plan_dir.mkdir()
        t0 = time.perf_counter()
        full = big_plan(node.ip)
        build_s = time.perf_counter() - t0
        empty = big_plan(node.ip, n_vips=0)  # the node's tier-1 role without services
        for name, plan in (("empty", empty), ("full", full), ("changed", big_plan(node.ip, 1))):
            (plan_dir / f"{name}.json").write_text(json.dumps(plan))
        proc = lab.run_in("t1-a", [sys.executable, str(Path(__file__).resolve()), "--runs", str(args.runs),
                                   "--program-worker", str(plan_dir), str(lab.state_dir("t1-a")),
                                   str(lab.bpf_root)], timeout=600)
        r = json.loads(proc.stdout)
    med = {k: statistics.median(v) for k, v in r.items()}
    rows = [
        ("1,000 VIPs (observe+diff+apply)", f"{med['full'] * 1000:.0f} ms", "< 1000 ms"),
        ("  of which diff+apply (maps written)", f"{med['full_apply'] * 1000:.0f} ms", ""),
        ("one backend change, one table", f"{med['change'] * 1000:.1f} ms", "< 50 ms"),
        ("  of which diff+apply", f"{med['change_apply'] * 1000:.1f} ms", ""),
        ("  slots written (standby buffer)", f"{med['slots']:.0f} of {M}", ""),
        ("delete 1,000 VIPs", f"{med['delete'] * 1000:.0f} ms", ""),
        ("(plan: lint + compile of the 1,000-service set)", f"{build_s * 1000:.0f} ms", "compiler side"),
    ]
    w = max(len(a) for a, _, _ in rows)
    for a, b, c in rows:
        print(f"  {a:<{w}}  {b:>16}  {c}")
    if args.skip_forwarding:
        return 0
    print(f"\nForwarding client -> VIP (iperf3, {args.seconds}s runs, medians of {args.runs})")
    fwd = forwarding(args.runs, args.seconds)
    base_pps = fwd["nftables DNAT on T1"]["pps"]
    plain_pps = fwd["plain routing to T2"]["pps"]
    print(f"  {'path':<32} {'UDP 64B pps':>12} {'TCP Gbit/s':>11} {'pps vs DNAT':>12} {'pps vs routing':>15}")
    for name, v in fwd.items():
        print(f"  {name:<32} {v['pps']:>12,.0f} {v['gbps']:>11.2f} {v['pps'] / base_pps:>11.2f}x "
              f"{v['pps'] / plain_pps:>14.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
