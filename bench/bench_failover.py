"""Benchmark: a tier-1 node fails under a steady HTTPS request loop in the rebel-base lab.

    python bench/bench_failover.py [--runs 3]

For BFD 300 ms x 3 and for plain BGP (hold 3 s, keepalive 1 s), in one run: the time from a T1
node failing to the router dropping its next hop, and what the client saw — failed requests and
the longest gap between two successful requests. The client opens a new TLS connection per
request (0.5 s timeout each), so the router's ECMP spreads it over both T1 nodes.

Two failures: `link down` (the node's port goes dark: the segment's bridge then floods frames
for its MAC, and the other T1's tc program, which sees them before the stack drops them, carries
those flows) and `hung` (the node drops everything in and out, as a frozen host would).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lbcli.lab.rebel import HOST, PASSWORD, T1, USER, VIP, RebelLab  # noqa: E402
from lbcli.lab.rebel import TLS_REQUEST_LOOP as LOOP  # noqa: E402
from lbcli.lab.testbed import SEGMENT  # noqa: E402



def hang(lab, node: str) -> None:
    """Drop everything to and from the node at its switch port (the port stays up, so the
    bridge keeps delivering its frames there): a frozen host."""
    port = f"p-{node}"[:15]
    rules = (f"add table bridge hang\n"
             f"add chain bridge hang frozen {{ type filter hook forward priority 0; }}\n"
             f'add rule bridge hang frozen iifname "{port}" drop\n'
             f'add rule bridge hang frozen oifname "{port}" drop\n')
    lab.run_in(SEGMENT, ["nft", "-f", "-"], input=rules)


def one_run(bfd: bool, failure: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rl = RebelLab(ROOT / "examples" / "rebel-base", Path(tmp), bfd=bfd, hold=3)
        with rl.running() as lab:
            if not lab.wait_for_nexthops(2):
                raise SystemExit("the router never learned the VIP from both T1 nodes")
            time.sleep(1.0)  # sessions settled
            proc = lab.lab.popen("client", [sys.executable, "-c", LOOP, str(lab.ca), HOST, VIP, f"{USER}:{PASSWORD}", "8"])
            time.sleep(2.0)
            victim = T1[0]
            t_fail = time.time()
            if failure == "link down":
                lab.lab.run_in(victim, ["ip", "link", "set", "eth0", "down"])
            else:
                hang(lab.lab, victim)
            converged = None
            while time.time() - t_fail < 6:
                if len(lab.router.kernel_nexthops(f"{VIP}/32")) == 1:
                    converged = time.time() - t_fail
                    break
                time.sleep(0.005)
            out, _ = proc.communicate(timeout=30)
            samples = json.loads(out)
    ok_times = [end for _, end, ok in samples if ok]
    gaps = [b - a for a, b in zip(ok_times, ok_times[1:])]
    return {"converged_ms": None if converged is None else converged * 1000, "requests": len(samples),
            "failed": sum(1 for *_, ok in samples if not ok), "max_gap_ms": max(gaps) * 1000 if gaps else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"{'scenario':<46} {'router drops hop':>17} {'client max gap':>15} {'failed/requests':>16}")
    for bfd, failure in ((True, "link down"), (True, "hung"), (False, "link down"), (False, "hung")):
        runs = [one_run(bfd, failure) for _ in range(args.runs)]
        conv = [r["converged_ms"] for r in runs if r["converged_ms"] is not None]
        gap = [r["max_gap_ms"] for r in runs if r["max_gap_ms"] is not None]
        name = ("BFD 300 ms x 3" if bfd else "no BFD, hold 3 s / keepalive 1 s") + f", {failure}"
        print(f"{name:<46} {statistics.median(conv) if conv else float('nan'):>14.0f} ms"
              f" {statistics.median(gap) if gap else float('nan'):>12.0f} ms"
              f" {statistics.median(r['failed'] for r in runs):>7.0f}/{statistics.median(r['requests'] for r in runs):.0f}"
              f"   (medians of {args.runs})")


if __name__ == "__main__":
    main()
