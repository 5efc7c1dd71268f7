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

N_VIPS, M, N_T2 = 1000, 16381, 8


# -- plan for the programming benchmark -------------------------------------------------------
def big_plan(node_ip: str, variant: int = 0) -> dict:
    """1000 services, each with its own table over 8 T2 nodes with service-specific weights.
    `variant` changes one T2's weight in service 0's table only (the one-change case)."""
    from lbcli.compile.maglev import build_table

    names = [f"t2-{j:02d}" for j in range(N_T2)]
    t2 = [{"name": n, "ip": f"10.200.{j // 250}.{j % 250 + 1}", "tunnelMac": f"02:00:00:00:01:{j:02x}"}
          for j, n in enumerate(names)]
    tables, services = [], []
    for i in range(N_VIPS):
        # distinct, pairwise non-proportional weight vectors (proportional weights give the same
        # table): i's bits 0-6 on T2 0-6, bits 7-9 add 2 on T2 0-2, T2 7 is fixed at 5
        weights = [1 + ((i >> j) & 1) + 2 * (j < 3 and (i >> (7 + j)) & 1) for j in range(N_T2 - 1)] + [5]
        if i == 0 and variant:
            weights[3] += 2 * variant  # one backend's weight changes in one loaded table
        raw = build_table(list(zip(names, weights)), M)
        from array import array

        raw16 = array("H", raw).tobytes()
        counts = Counter(raw)
        slots = [counts[j] for j in range(N_T2)]
        tables.append({"id": i, "size": M, "t2Nodes": names, "weights": weights, "slots": slots,
                       "encoding": "u16le-base64",
                       "table": base64.b64encode(raw16).decode(), "sha256": hashlib.sha256(raw16).hexdigest()})
        services.append({"service": f"bench/svc{i}", "vip": f"100.64.{i // 250}.{i % 250 + 1}", "port": 80,
                         "protocol": "TCP", "t2Nodes": names, "maglevTable": i})
    # the tables are built here (1,000 distinct weight vectors over one T2 set are not a
    # manifest set compile would produce); the plan is checked by the plan types all the same
    return {"apiVersion": "cilium-lb.io/v1", "kind": "NodePlan",
            "node": {"name": "bench", "tiers": ["t1"], "internalIP": node_ip, "podCIDRs": [], "labels": {}},
            "ipam": {"assignments": [], "conditions": []},
            "network": {"routingMode": "native", "tunnelProtocol": None, "tunnelPort": None, "tunnelDevice": None,
                        "tunnelVNI": None, "tunnelMac": None, "autoDirectNodeRoutes": False, "nativeRoutingCIDR": None,
                        "masquerade": False, "bandwidthManager": False, "peers": [], "bandwidth": []},
            "tier1": {"dispatch": {"mode": "vxlan", "device": "lb1vx", "vni": 1, "port": 4789},
                      "t2Nodes": t2, "maglevTables": tables, "services": services}, "tier2": None, "bgp": None}


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
        empty = json.loads(json.dumps(full))
        empty["tier1"]["services"], empty["tier1"]["maglevTables"] = [], []
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
        ("(plan: building 1,000 tables)", f"{build_s * 1000:.0f} ms", "compiler side"),
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
