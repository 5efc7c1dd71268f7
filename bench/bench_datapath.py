"""Tier-1 datapath benchmarks (root; runs in a namespace lab, touches nothing else).

1. Programming: 1,000 VIPs with distinct M=16381 Maglev tables into the pinned maps (worst
   case: no table shared), then one backend change in one loaded table (time, slots written).
   Targets: 1,000 VIPs < 0.5 s; one change < 50 ms.
2. Forwarding, client -> VIP in the same lab: packet rates of the tier-1 programs (tc, and XDP
   with `--datapath xdp`; VXLAN to T2, DSR) side by side with nftables DNAT on T1 (VIP -> T2
   address) and plain routing through T1 to the T2 address. trafgen (netsniff-ng) sends 64-byte
   UDP frames over 256 flows; T2 counts what arrives with an nft ingress counter (see
   lbcli.lab.trafgen).

    python bench/bench_datapath.py [--runs 5] [--seconds 3] [--source client|router] [--skip-forwarding]

   In that lab everything (sender, bridge, T1, T2) runs in one softirq on the sender's CPU, since
   a veth delivers in its sender's context: each rate is 1/(the whole chain), and T1's own cost is
   diluted by the lab's.
3. T1 alone (`--isolate`, bench/t1_alone.py): T1's own packet rate and CPU cost per packet, as on
   a NIC-fed node. trafgen (CPU 0, real-time priority 1) sends straight out of T1's switch port;
   T1's uplink is polled by a NAPI thread pinned to CPU 1 (GRO gives the veth NAPI when no XDP
   program does), so all of T1's work runs there and nothing else of the lab does; the far end
   of T1's uplink counts (and drops) what T1 sent to the T2 node, on CPU 0 (RPS for skbs, a NAPI
   thread with an XDP counter where T1's XDP_TX needs one). Per path and window it reports the
   delivered rate, T1's ns per packet (CPU time of its NAPI thread, from schedstat, over the
   frames counted), the NAPI thread's share of CPU 1, both CPUs' busy share (/proc/stat), NET_RX
   softirqs per CPU (/proc/softirqs) and what T1's ring dropped (offered but not taken).
   `--feed frames` hands T1 XDP frames instead of skbs (as a NIC's ring holds pages; the copy
   happens on CPU 0, which then limits the rate); `--feed live` hands it XDP frames made in the
   kernel on CPU 0 with no per-packet copy (BPF_PROG_TEST_RUN with live frames, bench/live_feed.py:
   as a NIC's RX ring is fed); `--perf DIR` records CPU 1 with perf per window.
   Everything it changes is on the lab's own devices and namespaces and is undone at the end, also
   on failure (the namespaces go with the lab).

    python bench/bench_datapath.py --skip-programming --isolate [--runs 5] [--seconds 2] [--perf DIR]

Prints medians of several runs as a table.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import statistics
from collections import Counter
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # t1_alone

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
PATHS = ("plain routing through T1", "nftables DNAT on T1", "tier-1 eBPF, tc", "tier-1 eBPF, XDP",
         "straight to T2 (no T1)")
DIRECT = PATHS[-1]  # the lab's fixed cost: sender, bridge, T2's counter (every path pays it)


def forwarding(runs: int, seconds: float, source: str, cpus: int, isolate: bool = False,
               perf_dir: Path | None = None, feed: str = "skbs"):
    """Packet rates client -> VIP through T1 on one lab, the four paths interleaved in each round
    and their order rotated from round to round (so load from other jobs hits them alike). trafgen sends 64-byte UDP frames over 256 flows
    from `source` ("client": through the router, as a client's packets come; "router": straight
    onto the segment at T1, the router's forwarding left out); T2 counts what reaches its uplink
    (nft ingress counter) and drops it there."""
    from lbcli.lab import Lab
    from lbcli.lab import trafgen as tg
    from lbcli.lab.plans import LabService, node_plans

    vip, port = "100.64.0.101", 9999
    paths = PATHS if source == "router" and not isolate else PATHS[:-1]  # from the client everything passes T1
    out: dict[str, list[float]] = {p: [] for p in paths}
    offered: dict[str, list[float]] = {p: [] for p in paths}
    windows: dict[str, list[dict]] = {p: [] for p in paths}
    alone = None
    with Lab() as lab, contextlib.ExitStack() as undo:  # (undo runs first, also on failure)
        lab.mount_bpffs()
        t1, t2 = lab.topology.node("t1-a"), lab.topology.node("t2-a")
        lab.route_vip(vip, [t1.ip])  # one path: T1 a
        lab.run_in("router", ["ip", "route", "replace", f"{t2.ip}/32", "via", t1.ip])  # routing through T1
        lab.sysctl("t1-a", "net.ipv4.ip_forward", "1")
        lab.sysctl("t1-a", "net.ipv4.conf.all.send_redirects", "0")
        lab.sysctl("t1-a", "net.ipv4.conf.eth0.send_redirects", "0")
        if isolate:  # T1 alone on CPU 1 (bench/t1_alone.py); its far end is counted, not T2
            from t1_alone import Alone, rate as alone_rate

            undo.callback(lambda: alone and alone.restore())
            alone = Alone(lab, t2.ip, port, feed)
            lab.run_in("t1-a", ["ping", "-c", "1", "-W", "1", t2.ip], check=False)
            alone.t1_mode(xdp=False)
        else:
            lab.enable_xdp_tx("t1-a")
        # the segment is a switch: no netfilter on bridged frames (br_netfilter, when loaded)
        for fam in ("iptables", "ip6tables", "arptables"):
            lab.run_in("seg", ["sysctl", "-qw", f"net.bridge.bridge-nf-call-{fam}=0"], check=False)
        plans = node_plans(lab.topology, [LabService("bench/udp", vip, port, "UDP")], t2_names=["t2-a"])
        plan = lab.workdir / "t1-a.json"
        plan.write_text(json.dumps(plans["t1-a"]))

        def nodecmd(cmd: str, mode: str = "tc") -> None:
            argv = [sys.executable, "-m", "lbcli.lab.nodecmd", cmd, "--node", "t1-a", "--state-dir",
                    str(lab.state_dir("t1-a")), "--bpf-root", str(lab.bpf_root), "--component", "datapath",
                    "--datapath", mode]
            if cmd == "apply":
                argv += ["--plan", str(plan)]
            lab.run_in("t1-a", argv, timeout=600)  # (clang builds both objects once per lab)
            if alone is not None:  # T1's uplink changed (XDP on or off): its NAPI thread to CPU 1 again
                alone.t1_mode(xdp=cmd == "apply" and mode == "xdp")

        def mac(node: str, dev: str) -> str:
            return lab.run_in(node, ["cat", f"/sys/class/net/{dev}/address"]).stdout.strip()

        if source == "router":
            sender, dev, dst_mac, src_mac = "router", "eth0", mac("t1-a", "eth0"), mac("router", "eth0")
        else:
            sender, dev, dst_mac, src_mac = "client", "eth0", mac("router", "eth1"), mac("client", "eth0")
        client = lab.topology.client_ip
        # trafgen configs, or with the live feed the same frames as templates for its generator
        if feed == "live":
            from live_feed import frame as make_frame
        else:
            make_frame = tg.frame
        # each path its own 256 flows (source ports), so no state one path left (conntrack, flow
        # table) meets another path's packets
        to_t2 = make_frame(dst_mac, src_mac, client, t2.ip, port, sport_hi=0x9A)
        to_vip = {p: make_frame(dst_mac, src_mac, client, vip, port, sport_hi=0x9B + i) for i, p in enumerate(PATHS[1:4])}
        # the same frames, sent to T2's own MAC and address on the segment (T1 not on the way)
        direct = make_frame(mac("t2-a", "eth0"), src_mac, client, t2.ip, port, sport_hi=0x9F)
        tg.counter_setup(lab, "t2-a", "eth0", 4789, port)
        dnat = {"nftables": [
            {"add": {"table": {"family": "ip", "name": "bench"}}},
            {"add": {"chain": {"family": "ip", "table": "bench", "name": "pre", "type": "nat",
                               "hook": "prerouting", "prio": -100, "policy": "accept"}}},
            {"add": {"rule": {"family": "ip", "table": "bench", "chain": "pre", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": vip}},
                {"dnat": {"addr": t2.ip}}]}}}]}

        def measure(path: str, pkt: str) -> None:
            # the bridge must know where T1 and T2 are, or it floods every frame to every port
            for node in ("t1-a", "t2-a"):
                lab.run_in(node, ["ping", "-c", "1", "-W", "1", lab.topology.router_ip], check=False)
            if alone is not None:
                w = alone_rate(alone, lab, pkt, seconds, perf=perf_dir and perf_dir / (
                    f"{path.split(',')[-1].strip().split()[0].lower()}-{len(windows[path])}.data"))
                windows[path].append(w)
                got, sent = w["pps"], w["offered"]
                print(f"  ({path}: CPU 1 busy {w['cpu1_busy']:.0%}, T1's NAPI thread {w['t1_thread']:.0%} of a CPU, "
                      f"{w['t1_ns']:,.0f} ns/packet; CPU 0 busy {w['cpu0_busy']:.0%}, far end thread "
                      f"{w['far_thread']:.0%}; NET_RX softirqs per CPU {w['net_rx']}; dropped at T1's ring "
                      f"{w['ring_drop']:,.0f}/s, T1 tx drops {w['t1_tx_drop']:,.0f}/s"
                      + (f"; generated {w['generated']:,.0f}/s, of them on pages that came back rewritten "
                         f"{w['dirty']:,.0f}/s" if feed == "live" else "") + ")", file=sys.stderr, flush=True)
                acc = w["account"]
                print(f"  ({path}, the sender's whole run: " + (f"generated {acc['generated']:,} = taken into T1's "
                      f"ring {acc['sent']:,} + dropped there {acc['ring_drop']:,} + unaccounted {acc['gen_lost']:,}; "
                      if feed == "live" else f"taken into T1's ring {acc['sent']:,}, dropped there "
                      f"{acc['ring_drop']:,}; ") + f"taken = counted at the far end {acc['got']:,} + T1 tx drops "
                      f"{acc['t1_tx_drop']:,} + unaccounted {acc['t1_lost']:,})", file=sys.stderr, flush=True)
            else:
                got, sent = tg.rate(lab, sender, dev, pkt, "t2-a", seconds, cpus=cpus)
            out[path].append(got)
            offered[path].append(sent)
            print(f"  ({path}: {got:,.0f} of {sent:,.0f} pps sent)", file=sys.stderr, flush=True)

        loaded = False
        for r in range(runs):
            for path in paths[r % len(paths):] + paths[:r % len(paths)]:  # each path in each position
                if path in ("plain routing through T1", "nftables DNAT on T1", DIRECT) and loaded:
                    nodecmd("reset")
                    loaded = False
                if path == "plain routing through T1":
                    measure(path, to_t2)
                elif path == DIRECT:
                    measure(path, direct)
                elif path == "nftables DNAT on T1":
                    lab.run_in("t1-a", ["nft", "-j", "-f", "-"], input=json.dumps(dnat))
                    measure(path, to_vip[path])
                    lab.run_in("t1-a", ["nft", "-j", "-f", "-"], input=json.dumps(
                        {"nftables": [{"delete": {"table": {"family": "ip", "name": "bench"}}}]}))
                else:
                    nodecmd("apply", "xdp" if "XDP" in path else "tc")
                    loaded = True
                    measure(path, to_vip[path])
        tg.counter_teardown(lab, "t2-a")
    return out, offered, windows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--source", choices=["client", "router"], default="client")
    ap.add_argument("--cpus", type=int, default=1, help="trafgen processes")
    ap.add_argument("--skip-forwarding", action="store_true")
    ap.add_argument("--isolate", action="store_true",
                    help="forwarding with T1 alone on CPU 1 (bench/t1_alone.py): T1's own packet rate and ns/packet")
    ap.add_argument("--skip-programming", action="store_true")
    ap.add_argument("--feed", choices=["frames", "live", "skbs"], default="skbs",
                    help="with --isolate: how frames reach T1's uplink (see bench/t1_alone.py)")
    ap.add_argument("--perf", type=Path, metavar="DIR",
                    help="with --isolate: `perf record -C 1 -g` of every window into DIR/<path>-<round>.data")
    ap.add_argument("--program-worker", nargs=3, metavar=("PLANS", "STATE", "BPFROOT"))
    args = ap.parse_args()
    if args.feed != "skbs" and not args.isolate:
        ap.error(f"--feed {args.feed}: only with --isolate (T1 alone)")
    if args.program_worker:
        plans, state, root = map(Path, args.program_worker)
        print(json.dumps(program_worker(plans, state, root, args.runs)))
        return 0

    from lbcli.lab import Lab

    if not args.skip_programming:
        programming(args)
    if args.skip_forwarding:
        return 0
    forwarding_report(args)
    return 0


def programming(args) -> None:
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
        ("1,000 VIPs (observe+diff+apply)", f"{med['full'] * 1000:.0f} ms", "< 500 ms"),
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


def alone_report(args) -> None:
    sender = {"skbs": "trafgen on CPU 0 out of T1's switch port",
              "frames": "trafgen on CPU 0, its frames redirected into T1's ring as XDP frames (copied)",
              "live": "XDP frames made in the kernel on CPU 0 (BPF_PROG_TEST_RUN, live frames), redirected into "
                      "T1's ring"}[args.feed]
    print(f"\nT1 alone on CPU 1 ({sender}; T1's uplink polled by a NAPI thread on CPU 1, counted at the far end "
          f"of T1's uplink; 64-byte UDP frames, 256 flows; {args.seconds:g} s windows, medians of {args.runs} "
          f"interleaved rounds)")
    if args.perf:
        args.perf.mkdir(parents=True, exist_ok=True)
    # source "router": the frames are addressed as the router would send them, to T1's MAC
    fwd, offered, win = forwarding(args.runs, args.seconds, "router", args.cpus, isolate=True, perf_dir=args.perf,
                                   feed=args.feed)
    dnat, tc, routing = "nftables DNAT on T1", "tier-1 eBPF, tc", "plain routing through T1"

    def med(p: str, key: str) -> float:
        return statistics.median(w[key] for w in win[p])

    def ratio(p: str, base: str, key: str = "pps", inverse: bool = False) -> float:  # per round, then median
        pairs = [(b[key] / a[key] if inverse else a[key] / b[key]) for a, b in zip(win[p], win[base])
                 if a[key] and b[key]]
        return statistics.median(pairs) if pairs else float("nan")

    print(f"  {'path':<26} {'pps':>9} {'vs DNAT':>8} {'vs tc':>6} {'vs routing':>10} {'T1 ns/pkt':>10} {'cost: DNAT/':>11} {'tc/':>5} "
          f"{'CPU1 busy':>9} {'T1 thread':>9} {'CPU0 busy':>9} {'offered':>9} {'ring drops':>10}   pps per round")
    for p in fwd:
        print(f"  {p:<26} {med(p, 'pps'):>9,.0f} {ratio(p, dnat):>7.2f}x {ratio(p, tc):>5.2f}x "
              f"{ratio(p, routing):>9.2f}x {med(p, 't1_ns'):>10,.0f} "
              f"{ratio(p, dnat, 't1_ns', True):>10.2f}x {ratio(p, tc, 't1_ns', True):>4.2f}x "
              f"{med(p, 'cpu1_busy'):>9.0%} {med(p, 't1_thread'):>9.0%} {med(p, 'cpu0_busy'):>9.0%} "
              f"{med(p, 'offered'):>9,.0f} {med(p, 'ring_drop'):>10,.0f}   " + " ".join(f"{w['pps']:,.0f}" for w in win[p]))
    rx = {p: [statistics.median(w["net_rx"][i] for w in win[p]) for i in range(len(win[p][0]["net_rx"]))] for p in fwd}
    print("  (T1 ns/pkt: CPU time of T1's NAPI thread over the frames counted at its far end; cost ratios: the "
          "other path's ns/packet over this one's; T1 thread: share of a CPU; ring drops/s: what T1 could not "
          "take, dropped at its uplink's ring)")
    print("  NET_RX softirqs per CPU (median per window): " + "; ".join(f"{p.split(',')[-1].strip()} {v}"
                                                                      for p, v in rx.items())
          + f"; load average {open('/proc/loadavg').read().split()[0]}")
    if args.feed == "live":
        print("  live feed, medians per window: generated/s " + "; ".join(
            f"{p.split(',')[-1].strip()} {med(p, 'generated'):,.0f}" for p in fwd)
            + "; of them on pages that came back rewritten by T1's path/s " + "; ".join(
            f"{p.split(',')[-1].strip()} {med(p, 'dirty'):,.0f}" for p in fwd))
    lost = {p: (sum(w["account"]["gen_lost"] for w in win[p]), sum(w["account"]["t1_lost"] for w in win[p]))
            for p in fwd}
    if args.feed == "live":
        print("  unaccounted frames over all runs (generated - taken - dropped at T1's ring; taken - counted - T1 tx "
              "drops): " + "; ".join(f"{p.split(',')[-1].strip()} {g:,} / {t:,}" for p, (g, t) in lost.items()))
    else:  # what the switch port sent T1 also holds the bridge's own frames (ARP, the pings before a window)
        print("  taken into T1's ring - counted - T1 tx drops, over all runs (the switch port's count also holds "
              "frames the bridge sent T1): "
              + "; ".join(f"{p.split(',')[-1].strip()} {t:,}" for p, (_, t) in lost.items()))
    if any(med(p, "t1_thread") < 0.9 for p in fwd):
        print("  ! a path's T1 thread ran < 90 % of CPU 1: there the sender or the shared CPUs, not T1, set the rate "
              "(its ns/packet still is T1's own cost)")


def forwarding_report(args) -> None:
    if args.isolate:
        return alone_report(args)
    print(f"\nForwarding client -> VIP (trafgen from {args.source}, 64-byte UDP frames, 256 flows, counted at "
          f"T2's ingress; {args.seconds:g} s windows, medians of {args.runs} interleaved rounds)")
    fwd, offered, _ = forwarding(args.runs, args.seconds, args.source, args.cpus)
    med = {p: statistics.median(v) for p, v in fwd.items()}

    def ratio(p: str, base: str) -> float:  # median of the per-round ratios (load drifts between rounds)
        pairs = [a / b for a, b in zip(fwd[p], fwd[base]) if b]
        return statistics.median(pairs) if pairs else float("nan")

    dnat, tc, routing = "nftables DNAT on T1", "tier-1 eBPF, tc", "plain routing through T1"

    paths = list(fwd)

    def t1_ns(p: str) -> float:  # per packet, what passing T1 adds to the lab's fixed cost (per round)
        if DIRECT not in fwd:
            return float("nan")
        pairs = [1e9 / a - 1e9 / d for a, d in zip(fwd[p], fwd[DIRECT]) if a and d]
        return statistics.median(pairs) if pairs else float("nan")

    def ns_ratio(p: str, base: str) -> float:  # base's T1 cost over p's, median of the rounds
        if DIRECT not in fwd:
            return float("nan")
        pairs = [(1e9 / b - 1e9 / d) / (1e9 / a - 1e9 / d)
                 for a, b, d in zip(fwd[p], fwd[base], fwd[DIRECT]) if a and b and d and a < d]
        return statistics.median(pairs) if pairs else float("nan")

    print(f"  {'path':<28} {'pps':>10} {'vs DNAT':>8} {'vs tc':>7} {'vs routing':>11} {'delivered':>10} "
          f"{'T1 ns/pkt':>10} {'T1 vs DNAT':>10} {'T1 vs tc':>9}   runs")
    for p in paths:
        share = statistics.median(a / b for a, b in zip(fwd[p], offered[p]) if b)
        t1 = (f"{t1_ns(p):>10,.0f} {ns_ratio(p, dnat):>9.2f}x {ns_ratio(p, tc):>8.2f}x" if p != DIRECT
              else f"{'':>10} {'':>10} {'':>9}")
        print(f"  {p:<28} {med[p]:>10,.0f} {ratio(p, dnat):>7.2f}x {ratio(p, tc):>6.2f}x {ratio(p, routing):>10.2f}x "
              f"{share:>9.0%} {t1}   " + " ".join(f"{v:,.0f}" for v in fwd[p]))
    print("  (ratios: medians of the ratios within each round; delivered: counted at T2 / left the sender; "
          "T1 ns/pkt: 1/pps less 1/pps of the straight path, i.e. what crossing T1 adds per packet)")
    offered_max = max(statistics.median(v) for v in offered.values())
    print(f"  offered (left the sender, median per path): "
          + ", ".join(f"{p.split(',')[-1].strip()} {statistics.median(offered[p]):,.0f}" for p in paths)
          + f"; load average {open('/proc/loadavg').read().split()[0]}")
    if offered_max and all(statistics.median(a / b for a, b in zip(fwd[p], offered[p]) if b) > 0.95 for p in paths):
        print("  every path delivered > 95 % of what was sent: the sender (and the shared CPU the whole path runs "
              "on) sets these rates, not a loss on T1")


if __name__ == "__main__":
    sys.exit(main())
