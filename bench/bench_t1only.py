"""t1-only (tier-1 NAT straight to a backend) side by side with the two-tier datapath (root;
runs in a namespace lab, touches nothing else). Plans come from compile (lbcli.lab.plans).

Paths, client -> VIP, one tier-1 node (the router routes the VIP to t1-a only):
1. two-tier datapath: the tc program encapsulates to T2 (VXLAN), the server on T2 holds the VIP
   and answers the client directly (DSR). This is the tier-1 part of the two-tier path only: a
   real tier 2 adds HAProxy's own connection to the backend on top.
2. t1-only: the tc program NATs to the backend (source = T1, destination = backend), the backend
   answers T1, the tc program NATs the reply back to VIP -> client.
3. plain routing from the client to the backend's own address (the floor).

Measured: iperf3 UDP 64-byte datagrams (packets/s), iperf3 TCP (Gbit/s), and new TCP
connections/s from one client (connect, read a greeting, close; sequential, so latency-bound).

    python bench/bench_t1only.py [--runs 5] [--seconds 3] [--conns 300]

Prints medians of several runs as a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_datapath import iperf  # noqa: E402

VIP, IPERF, CONN = "100.64.0.101", 5201, 7000

GREETER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1024)
while True:
    c, _ = s.accept(); c.sendall(b"hi\n"); c.close()
"""

CONNECTOR = r"""
import socket, sys, time
target, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter(); ok = 0
for _ in range(n):
    s = socket.create_connection((target, port), timeout=3)
    ok += s.recv(16) == b"hi\n"; s.close()
print(ok / (time.perf_counter() - t0) if ok == n else -1)
"""


def run(runs: int, seconds: int, conns: int) -> dict[str, dict[str, float]]:
    from lbcli.lab import Lab
    from lbcli.lab.plans import LabService, node_plans
    from lbcli.lab.topology import Topology

    out: dict[str, dict[str, float]] = {}
    with Lab() as lab:
        lab.mount_bpffs()
        topo = lab.topology
        be = topo.node("be-a")
        lab.route_vip(VIP, [topo.node("t1-a").ip])

        def nodecmd(node: str, cmd: str, plan: dict | None = None) -> None:
            argv = [sys.executable, "-m", "lbcli.lab.nodecmd", cmd, "--node", node, "--state-dir",
                    str(lab.state_dir(node)), "--bpf-root", str(lab.bpf_root)]
            if plan is not None:
                p = lab.workdir / f"{node}.json"
                p.write_text(json.dumps(plan))
                argv += ["--plan", str(p)]
            lab.run_in(node, argv)

        def servers(node: str, bind: str) -> list:
            procs = [lab.popen(node, ["iperf3", "-s", "-B", bind]),
                     lab.popen(node, [sys.executable, "-c", GREETER, bind, str(CONN)])]
            time.sleep(0.7)
            return procs

        def measure(name: str, target: str) -> None:
            pps = [iperf(lab, target, True, seconds) for _ in range(runs)]
            bps = [iperf(lab, target, False, seconds) for _ in range(runs)]
            cps = [float(lab.run_in("client", [sys.executable, "-c", CONNECTOR, target, str(CONN), str(conns)],
                                    timeout=120).stdout) for _ in range(runs)]
            if min(cps) < 0:
                raise RuntimeError(f"{name}: a connection failed")
            out[name] = {"pps": statistics.median(pps), "gbps": statistics.median(bps) / 1e9,
                         "cps": statistics.median(cps)}

        def stop(procs: list) -> None:
            for p in procs:
                p.kill()
                p.wait()

        # 1. two-tier datapath: T1 -> VXLAN -> T2 (server holds the VIP), DSR
        two = node_plans(topo, [LabService("bench/iperf", VIP, IPERF), LabService("bench/iperf", VIP, IPERF, "UDP"),
                                LabService("bench/conn", VIP, CONN)], t2_names=["t2-a"])
        for node in ("t1-a", "t2-a"):
            nodecmd(node, "apply", two[node])
        procs = servers("t2-a", VIP)
        measure("two-tier datapath (VXLAN, DSR)", VIP)
        stop(procs)
        for node in ("t1-a", "t2-a"):
            nodecmd(node, "reset")

        # 2. t1-only: T1 NAT -> backend be-a (one backend, so iperf3's TCP control and UDP data
        #    flows reach the same server)
        one = node_plans(Topology(backends=(be,)), [
            LabService("bench/iperf", VIP, IPERF, mode="t1-only"),
            LabService("bench/iperf", VIP, IPERF, "UDP", mode="t1-only"),
            LabService("bench/conn", VIP, CONN, mode="t1-only")])
        nodecmd("t1-a", "apply", one["t1-a"])
        procs = servers("be-a", be.ip)
        measure("t1-only (tc NAT to backend)", VIP)

        # 3. plain routing to the backend's address
        measure("plain routing to backend", be.ip)
        stop(procs)
        nodecmd("t1-a", "reset")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=300)
    args = ap.parse_args()
    res = run(args.runs, args.seconds, args.conns)
    print(f"client -> VIP, one T1 (iperf3 {args.seconds}s runs, {args.conns} sequential connections; "
          f"medians of {args.runs})")
    print(f"  {'path':<34} {'UDP 64B pps':>12} {'TCP Gbit/s':>11} {'TCP conn/s':>11}")
    for name, v in res.items():
        print(f"  {name:<34} {v['pps']:>12,.0f} {v['gbps']:>11.2f} {v['cps']:>11,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
