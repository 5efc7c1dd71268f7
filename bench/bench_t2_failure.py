"""Benchmark: a tier-2 node fails under a steady HTTPS request loop in the rebel-base lab, with
`cilium-lb agent` on both tier-1 nodes checking the tier-2 nodes (the agent's defaults: a probe
every 100 ms per T2, 200 ms timeout, fall 2, rise 3).

    python bench/bench_t2_failure.py [--runs 5]

Per failure of lb-t2-1 — its HAProxy killed (SIGKILL), its link down (its switch port), its
machine hung (every frame to and from it dropped at the switch) — in one lab, one run after the
other (the T2 recovers and both T1 nodes take it back between runs):

* stop: time from the failure until neither tier-1 node's live Maglev table (read from the
  kernel's maps) names lb-t2-1 any more: no new connection goes to it;
* failed requests, and failed requests that started after `stop` (target 0);
* the longest gap between two successful requests the client saw (target <= 1 s).

The client opens a new TLS connection per request (0.5 s timeout each), so ECMP spreads it over
both tier-1 nodes and Maglev over both tier-2 nodes. The peer is the same failure with the
checks off (`--no-t2-health`, what a node did before): lb-t2-1 keeps its share until someone
edits the Nodes and re-applies.

Then all tier-2 nodes fail (both HAProxies killed): time until the router (FRR) no longer has a
route for the VIP: both tier-1 nodes withdrew it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lbcli.lab.rebel import HOST, PASSWORD, T1, T2, USER, VIP, RebelLab  # noqa: E402
from lbcli.lab.rebel import TLS_REQUEST_LOOP as LOOP  # noqa: E402
from lbcli.lab.testbed import SEGMENT  # noqa: E402

VICTIM = T2[0]
LOOP_SECONDS = 7.0
BEFORE = 2.0  # seconds of the loop before the failure
PORT = 9967


class Bench:
    def __init__(self, rl: RebelLab, logdir: Path, health: bool) -> None:
        self.rl, self.lab = rl, rl.lab
        self.procs: list[subprocess.Popen] = []
        for node in T1:
            argv = [sys.executable, "-m", "lbcli", "agent", str(rl.manifests), "--node", node,
                    "--state-dir", str(self.lab.state_dir(node)), "--bpf-root", str(self.lab.bpf_root),
                    "--log-format", "json", "--listen", f"{self.lab.ip_of(node)}:{PORT}"]
            if not health:
                argv.append("--no-t2-health")
            self.procs.append(self.lab.popen(node, argv, stdout=open(logdir / f"{node}.log", "a"),
                                             stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)

    def started(self, node: str) -> bool:
        p = self.lab.run_in("client", ["curl", "-s", "--max-time", "1", f"http://{self.lab.ip_of(node)}:{PORT}/status"],
                            check=False)
        return p.returncode == 0 and bool(p.stdout) and json.loads(p.stdout).get("lastRun") is not None

    def live_t2(self, node: str) -> set[str]:
        from lbcli.agent.datapath.maps import PinnedMaps

        with PinnedMaps(self.lab.bpf_root / node) as maps:
            k = next(v[0] for key, v in maps.read_services().items() if key[0] == VIP)
            raw = maps.read_table(k) or b""
        return {socket.inet_ntoa(raw[i:i + 4]) for i in range(0, len(raw), 4)}

    def wait(self, what: str, cond, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise SystemExit(f"not within {timeout} s: {what}")

    def all_t2_taken(self) -> bool:
        want = {self.lab.ip_of(n) for n in T2}
        return all(self.live_t2(n) == want for n in T1)

    # -- failures ---------------------------------------------------------------------------
    def fail(self, how: str, node: str = VICTIM) -> None:
        if how == "HAProxy killed":
            pid = int((self.lab.state_dir(node) / node / "haproxy" / "haproxy.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        elif how == "link down":
            self.lab.run_in(SEGMENT, ["ip", "link", "set", f"p-{node}"[:15], "down"])
        elif how == "hung":
            port = f"p-{node}"[:15]
            self.lab.run_in(SEGMENT, ["nft", "-f", "-"], input=(
                "add table bridge hang\n"
                "add chain bridge hang frozen { type filter hook forward priority 0; }\n"
                f'add rule bridge hang frozen iifname "{port}" drop\n'
                f'add rule bridge hang frozen oifname "{port}" drop\n'))
        else:
            raise ValueError(how)

    def recover(self, how: str, node: str = VICTIM) -> None:
        if how == "HAProxy killed":
            self.rl.apply(node)
        elif how == "link down":
            self.lab.run_in(SEGMENT, ["ip", "link", "set", f"p-{node}"[:15], "up"])
        elif how == "hung":
            self.lab.run_in(SEGMENT, ["nft", "delete", "table", "bridge", "hang"])

    def loop(self) -> subprocess.Popen:
        return self.lab.popen("client", [sys.executable, "-c", LOOP, str(self.rl.ca), HOST, VIP,
                                         f"{USER}:{PASSWORD}", str(LOOP_SECONDS)], stdout=subprocess.PIPE, text=True)


def t2_run(b: Bench, how: str, health: bool) -> dict:
    victim = b.lab.ip_of(VICTIM)
    proc = b.loop()
    time.sleep(BEFORE)
    t_fail = time.time()
    b.fail(how)
    stop = None
    while time.time() - t_fail < LOOP_SECONDS - BEFORE - 0.5:
        if all(victim not in b.live_t2(n) for n in T1):
            stop = time.time() - t_fail
            break
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=60)
    samples = json.loads(out)
    b.recover(how)
    if health:
        b.wait("both T1 nodes take the T2 back", b.all_t2_taken)
    ok_times = [end for _, end, ok in samples if ok]
    gaps = [y - x for x, y in zip(ok_times, ok_times[1:])]
    cut = t_fail + (stop if stop is not None else 1e9)
    return {"stop_ms": None if stop is None else stop * 1000, "requests": len(samples),
            "failed": sum(1 for *_, ok in samples if not ok),
            "failed_after": sum(1 for start, _, ok in samples if not ok and start > cut),
            "max_gap_ms": max(gaps) * 1000 if gaps else None}


def all_t2_run(b: Bench) -> float | None:
    router = b.rl.router
    t_fail = time.time()
    for node in T2:
        b.fail("HAProxy killed", node)
    gone = None
    while time.time() - t_fail < 10:
        if router.kernel_nexthops(f"{VIP}/32") == []:
            gone = time.time() - t_fail
            break
        time.sleep(0.005)
    for node in T2:
        b.recover("HAProxy killed", node)
    if not b.rl.wait_for_nexthops(len(T1), timeout=60):
        raise SystemExit("the router never got the VIP back")
    b.wait("both T1 nodes take both T2 back", b.all_t2_taken)
    return None if gone is None else gone * 1000


def _med(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--logs", type=Path, help="keep the agents' logs here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for health in (True, False):
            rl = RebelLab(ROOT / "examples" / "rebel-base", Path(tmp) / f"lab-{health}")
            with rl.running():
                logs = (args.logs or Path(tmp)) / f"logs-{health}"
                logs.mkdir(parents=True, exist_ok=True)
                b = Bench(rl, logs, health)
                try:
                    b.wait("both T1 agents finished their first run", lambda: all(b.started(n) for n in T1))
                    b.wait("both T1 nodes use both T2", b.all_t2_taken)
                    time.sleep(1.0)
                    for how in (("HAProxy killed", "link down", "hung") if health else ("HAProxy killed",)):
                        runs = [t2_run(b, how, health) for _ in range(args.runs if health else 1)]
                        rows.append((f"T2 {how}" + ("" if health else ", no T1->T2 checks (peer)"), runs))
                    if health:
                        gone = [all_t2_run(b) for _ in range(args.runs)]
                finally:
                    b.stop()
    print(f"{'scenario':<44} {'stop sending':>13} {'failed/requests':>16} {'after stop':>11} {'max gap':>9}")
    for name, runs in rows:
        print(f"{name:<44} {_med(r['stop_ms'] for r in runs):>10.0f} ms"
              f" {_med(r['failed'] for r in runs):>8.0f}/{_med(r['requests'] for r in runs):<7.0f}"
              f" {_med(r['failed_after'] for r in runs):>11.0f} {_med(r['max_gap_ms'] for r in runs):>6.0f} ms"
              f"   (median of {len(runs)})")
    print(f"{'all T2 HAProxy killed: router drops the VIP':<44} {_med(gone):>10.0f} ms   (median of {len(gone)})")
    print(json.dumps({"rows": {n: r for n, r in rows}, "all_t2_ms": gone}), file=sys.stderr)


if __name__ == "__main__":
    main()
