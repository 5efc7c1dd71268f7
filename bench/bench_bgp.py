"""BGP benchmarks against a real FRR router in namespaces (needs root, bird2, frr).

  python bench/bench_bgp.py [--runs 5] [--vips 1000]

1. Failover: tier-1 node t1-a fails; time until the router's kernel FIB (FRR/zebra installs
   it) drops that node's next hop for the VIP. Failures: its link goes down (the node is gone),
   its BIRD hangs (SIGSTOP: socket open, no keepalives, no BFD), its BIRD is SIGKILLed (the
   node's kernel closes the TCP session at once: FRR reacts to the FIN, not to BFD).
   With BFD 300 ms x 3, and without BFD at hold 3 s / keepalive 1 s.
2. Scale: announce N VIPs from one node; time from apply() until the router's FIB holds all of
   them, from a cold start (BIRD not running) and by reload of a running BIRD; and withdrawing.

Anchors (DESIGN.md): BFD 300 ms x 3 ~0.9 s detection; BGP hold timers alone 9-180 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lbcli.agent.bgp import daemon  # noqa: E402
from tests.e2e.bgp_topology import (BFD_300x3, NODE_IPS, bgp_lab, have_tools, plan_for,  # noqa: E402
                                    wait_for)

VIP = "100.64.0.101/32"
BOTH = sorted(NODE_IPS.values())


def ad(prefix: str) -> dict:
    return {"prefix": prefix, "service": "default/bench", "communities": ["64512:100"],
            "largeCommunities": [], "localPreference": None}


def vips(n: int) -> list[dict]:
    return [ad(f"100.{64 + i // 65536}.{(i // 256) % 256}.{i % 256}/32") for i in range(1, n + 1)]


def frr_bfd_up(lab) -> bool:
    peers = {p["peer"]: p.get("status") for p in lab.router.bfd_peers()}
    return all(peers.get(a) == "up" for a in NODE_IPS.values())


def time_until(cond, timeout: float, interval: float = 0.005) -> float:
    t0 = time.monotonic()
    wait_for(cond, timeout, interval)
    return time.monotonic() - t0


def failover(bfd: bool, runs: int, how: str) -> list[float]:
    """Seconds from the failure of t1-a until the router forwards the VIP only to t1-b."""
    kw = {} if bfd else {"bfd": None, "keepalive": 1, "hold": 3}
    pk = {"bfd": BFD_300x3} if bfd else {"bfd": None, "hold": 3, "keepalive": 1}
    out = []
    plans = {node: plan_for(node, [ad(VIP)], **pk) for node in NODE_IPS}
    with bgp_lab(**kw) as lab:
        for node in NODE_IPS:
            lab.apply(node, plans[node])
        for _ in range(runs):
            wait_for(lambda: lab.router.kernel_nexthops(VIP) == BOTH, 30)
            if bfd:
                wait_for(lambda: frr_bfd_up(lab), 30)
            time.sleep(0.5)
            pid = daemon.read_pid(lab.nodes["t1-a"].paths)
            if how == "sigkill":
                os.kill(pid, signal.SIGKILL)
            elif how == "sigstop":
                os.kill(pid, signal.SIGSTOP)
            else:
                lab.link("t1-a", up=False)
            out.append(time_until(lambda: lab.router.kernel_nexthops(VIP) == [NODE_IPS["t1-b"]], 30))
            if how == "sigkill":
                res = lab.apply("t1-a", plans["t1-a"])
                assert res.ok, res
            elif how == "sigstop":
                os.kill(pid, signal.SIGCONT)
            else:
                lab.link("t1-a", up=True)
    return out


def scale(n: int, runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"cold": [], "reload": [], "withdraw": [], "apply_reload": []}
    # compiled once, outside the timed parts (compile runs in CI, not on the node)
    many = plan_for("t1-a", vips(n), bfd=BFD_300x3)
    one = plan_for("t1-a", vips(1), bfd=BFD_300x3)
    with bgp_lab() as lab:
        rec = lab.nodes["t1-a"]
        for _ in range(runs):
            t0 = time.monotonic()
            res = lab.apply("t1-a", many)
            assert res.ok and not res.degraded, res
            wait_for(lambda: lab.router.kernel_bgp_routes() >= n, 60, 0.01)
            out["cold"].append(time.monotonic() - t0)

            t0 = time.monotonic()
            lab.apply("t1-a", one)
            wait_for(lambda: lab.router.kernel_bgp_routes() == 1, 60, 0.01)
            out["withdraw"].append(time.monotonic() - t0)

            t0 = time.monotonic()
            lab.apply("t1-a", many)
            out["apply_reload"].append(time.monotonic() - t0)
            wait_for(lambda: lab.router.kernel_bgp_routes() >= n, 60, 0.01)
            out["reload"].append(time.monotonic() - t0)
            rec.reset()
            wait_for(lambda: lab.router.kernel_bgp_routes() == 0, 30, 0.01)
    return out


def row(name: str, xs: list[float], anchor: str) -> str:
    return (f"| {name:<52} | {statistics.median(xs) * 1000:>9.0f} | {min(xs) * 1000:>6.0f} | "
            f"{max(xs) * 1000:>6.0f} | {len(xs):>4} | {anchor:<28} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--vips", type=int, default=1000)
    args = ap.parse_args()
    why = have_tools()
    if why:
        print(f"skipped: {why}", file=sys.stderr)
        return 2
    few = max(3, args.runs // 2)
    rows = [
        ("failover, BFD 300ms x3, link down", failover(True, args.runs, "link"), "~900 ms (BFD 300x3)"),
        ("failover, BFD 300ms x3, BIRD hung (SIGSTOP)", failover(True, args.runs, "sigstop"), "~900 ms (BFD 300x3)"),
        ("failover, BFD 300ms x3, BIRD SIGKILL (TCP FIN)", failover(True, args.runs, "sigkill"), "-"),
        ("failover, no BFD, hold 3s/keepalive 1s, link down", failover(False, few, "link"), "hold timers: 9-180 s"),
        ("failover, no BFD, hold 3s/keepalive 1s, BIRD hung", failover(False, few, "sigstop"), "hold timers: 9-180 s"),
        ("failover, no BFD, hold 3s/keepalive 1s, SIGKILL", failover(False, few, "sigkill"), "-"),
    ]
    s = scale(args.vips, max(3, args.runs // 2))
    rows += [
        (f"{args.vips} VIPs: cold apply (start BIRD) -> all in FIB", s["cold"], "target < 5 s"),
        (f"{args.vips} VIPs: reload of running BIRD -> all in FIB", s["reload"], "target < 5 s"),
        (f"{args.vips} VIPs: apply() call itself (reload)", s["apply_reload"], "-"),
        (f"{args.vips} VIPs -> 1: withdraw until gone from FIB", s["withdraw"], "-"),
    ]
    print("router: FRR 8.4 (kernel FIB of its netns, polled every 5 ms); tier-1: BIRD 2.0.12")
    print(f"| {'scenario':<52} | {'median ms':>9} | {'min ms':>6} | {'max ms':>6} | {'runs':>4} | {'anchor':<28} |")
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 8}|{'-' * 8}|{'-' * 6}|{'-' * 30}|")
    for name, xs, anchor in rows:
        print(row(name, xs, anchor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
