"""cilium-lb agent on the rebel-base lab: drift-repair times, idle cost, restart under load.

    sudo python bench/bench_agent.py [--runs 5] [--idle 30] [--modes events,poll1,poll5]

Modes, side by side (each on a fresh lab, an agent on all four nodes):
    events  event-driven detection (netlink + pidfds, the default) with the 30 s safety net
    pollN   no events, a full reconcile every N seconds (the agent before event detection)

Drift: time from the fault until the host is repaired, read from the host (pyroute2 in the node's
namespace, BIRD's and HAProxy's sockets): the tc filter deleted on a T1, BIRD killed on a T1
(until BIRD runs and its session is Established again), HAProxy killed on a T2 (until a new
master answers on the stats socket), the VIP removed from a T2's lo. Median of --runs.
Idle: CPU seconds per wall second of each agent process over --idle seconds after the start run
(/proc/PID/stat), and its RSS; the median and max over the four agents.
Restart under load (events mode): a request loop from the client (a new TLS connection per
request) while the agent of lb-t1-1 and then of lb-t2-1 is stopped (SIGTERM) and started
again: failed requests and FRR's established-session counters before/after (a flap counts up).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lbcli.lab.rebel import HOST, PASSWORD, T1, T2, USER, VIP, RebelLab  # noqa: E402
from lbcli.lab.seedlab import REQUEST_LOOP  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PORT = 9965
NODES = T1 + T2


def cpu(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def log(msg: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {msg}\n")


def until(cond, timeout: float = 60.0, step: float = 0.005) -> float:
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        try:
            if cond():
                return time.monotonic() - t0
        except Exception as e:  # a socket mid-restart: try again
            last = e
        time.sleep(step)
    raise RuntimeError(f"not repaired in {timeout:g} s (last probe error: {last!r})")


# A probe inside a node's namespace (netlink through lbcli's pyroute2 helpers): one line in
# ("filters" or "vip"), one JSON line out. Not pyroute2's `netns=` from this process: it forks
# a child of this process, which would run this process's cleanup on exit.
PROBE = r"""
import json, sys
from lbcli.agent.host import netlink as nl
vip = sys.argv[1]
for line in sys.stdin:
    cmd = line.strip()
    try:
        if cmd == "filters":
            out = len([f for f in nl.filters("eth0") if f.kind == "bpf"])
        else:
            out = vip + "/32" in nl.addresses("lo")
    except Exception as e:
        out = None
    sys.stdout.write(json.dumps(out) + "\n"); sys.stdout.flush()
"""


class Probe:
    """Reads one node's state: netlink from a helper in its namespace, daemons by their sockets."""

    def __init__(self, lab, node: str) -> None:
        self.lab, self.node = lab, node
        self.proc = lab.popen(node, [sys.executable, "-c", PROBE, VIP], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.state = lab.state_dir(node) / node

    def _ask(self, cmd: str):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def filters(self) -> int:
        return self._ask("filters") or 0

    def vip_on_lo(self) -> bool:
        return bool(self._ask("vip"))

    def pid(self, daemon: str) -> int | None:
        path = self.state / daemon / ("bird.pid" if daemon == "bird" else "haproxy.pid")
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def bird_established(self) -> bool:
        from lbcli.agent.bgp.control import BirdControl
        from lbcli.agent.bgp.status import parse_protocols_all

        reply = BirdControl(self.state / "bird" / "bird.ctl", timeout=1).check("show protocols all")
        peers = parse_protocols_all(reply.text())
        return bool(peers) and all(p.established for p in peers)

    def haproxy_answers(self) -> bool:
        from lbcli.agent.l7.runtime import send_command

        return "Pid:" in send_command(self.state / "haproxy" / "stats.sock", "show info", timeout=1)


def start_agents(rl: RebelLab, mode: str, logdir: Path) -> dict[str, subprocess.Popen]:
    lab = rl.lab
    opts = ["--interval", "30"] if mode == "events" else ["--no-events", "--interval", mode.removeprefix("poll")]
    procs = {}
    for n in NODES:
        log = open(logdir / f"{mode}-{n}.log", "w")
        procs[n] = lab.popen(n, [sys.executable, "-m", "lbcli", "agent", str(rl.manifests), "--node", n,
                                 "--state-dir", str(lab.state_dir(n)), "--bpf-root", str(lab.bpf_root),
                                 *opts, "--log-format", "json", "--listen", f"{lab.ip_of(n)}:{PORT}"],
                        stdout=log, stderr=subprocess.STDOUT)
    return procs


def wait_started(rl: RebelLab, nodes, timeout: float = 300.0) -> None:
    """Until every agent finished its start run (its /status has a last run)."""
    lab = rl.lab
    deadline = time.monotonic() + timeout
    for n in nodes:
        while True:
            p = lab.run_in("client", ["curl", "-sf", "--max-time", "2", f"http://{lab.ip_of(n)}:{PORT}/status"], check=False)
            if p.returncode == 0 and json.loads(p.stdout).get("lastRun"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent on {n} did not finish its start run")
            time.sleep(0.2)


def established(rl: RebelLab) -> dict[str, int]:
    return {a: n.get("connectionsEstablished", 0) for a, n in rl.router.bgp_neighbors().items()}


def drift(rl: RebelLab, runs: int) -> dict[str, list[float]]:
    lab = rl.lab
    t1, t2 = Probe(lab, "lb-t1-1"), Probe(lab, "lb-t2-1")
    out: dict[str, list[float]] = {"tc_filter_deleted": [], "bird_killed": [], "haproxy_killed": [],
                                   "vip_removed_from_lo": []}
    for _ in range(runs):
        log("tc filter deleted")
        t0 = time.monotonic()
        lab.run_in("lb-t1-1", ["tc", "filter", "del", "dev", "eth0", "ingress"])
        until(lambda: t1.filters() > 0)
        out["tc_filter_deleted"].append(time.monotonic() - t0)
        time.sleep(1)

        old = t1.pid("bird")
        log("BIRD killed")
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        until(lambda: (t1.pid("bird") or old) != old and t1.bird_established())
        out["bird_killed"].append(time.monotonic() - t0)
        rl.wait_for_nexthops(len(T1), timeout=60)
        time.sleep(1)

        old = t2.pid("haproxy")
        log("HAProxy killed")
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        until(lambda: (t2.pid("haproxy") or old) != old and t2.haproxy_answers())
        out["haproxy_killed"].append(time.monotonic() - t0)
        time.sleep(1)

        log("VIP removed from lo")
        t0 = time.monotonic()
        lab.run_in("lb-t2-1", ["ip", "addr", "del", f"{VIP}/32", "dev", "lo"])
        until(t2.vip_on_lo)
        out["vip_removed_from_lo"].append(time.monotonic() - t0)
        time.sleep(1)
    return out


def restart_under_load(rl: RebelLab, procs: dict, logdir: Path, seconds: float = 40.0) -> dict:
    lab = rl.lab
    before = established(rl)
    loop = lab.popen("client", [sys.executable, "-c", REQUEST_LOOP, str(seconds), str(rl.ca), HOST, VIP, USER, PASSWORD],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    # the loop must outlast both restarts (a restart's start run compiles the manifests)
    for node in ("lb-t1-1", "lb-t2-1"):
        procs[node].send_signal(signal.SIGTERM)
        procs[node].wait(30)
        procs[node] = start_agents_one(rl, node, logdir)
        wait_started(rl, [node])
    out, _ = loop.communicate(timeout=seconds + 60)
    summary = json.loads(out)
    summary["bgp_sessions_reset"] = sum(established(rl).get(a, 0) - n for a, n in before.items())
    return summary


def start_agents_one(rl: RebelLab, node: str, logdir: Path) -> subprocess.Popen:
    lab = rl.lab
    log = open(logdir / f"restart-{node}.log", "w")
    return lab.popen(node, [sys.executable, "-m", "lbcli", "agent", str(rl.manifests), "--node", node,
                            "--state-dir", str(lab.state_dir(node)), "--bpf-root", str(lab.bpf_root),
                            "--interval", "30", "--log-format", "json", "--listen", f"{lab.ip_of(node)}:{PORT}"],
                     stdout=log, stderr=subprocess.STDOUT)


def bench_mode(mode: str, runs: int, idle: float, logdir: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rl = RebelLab(ROOT / "examples" / "rebel-base", Path(tmp))
        with rl.running():
            log(f"{mode}: agents started")
            procs = start_agents(rl, mode, logdir)
            wait_started(rl, NODES)  # the start run (compile, adopt) is not idle
            time.sleep(2)
            c0 = {n: cpu(p.pid) for n, p in procs.items()}
            time.sleep(idle)
            pct = {n: 100 * (cpu(p.pid) - c0[n]) / idle for n, p in procs.items()}
            rss = {n: rss_mib(p.pid) for n, p in procs.items()}
            res = {"mode": mode,
                   "idle_cpu_pct_median": round(statistics.median(pct.values()), 2),
                   "idle_cpu_pct_max": round(max(pct.values()), 2),
                   "idle_cpu_pct": {n: round(v, 2) for n, v in pct.items()},
                   "rss_mib_median": round(statistics.median(rss.values()), 1)}
            times = drift(rl, runs)
            for k, v in times.items():
                res[f"repair_{k}_s"] = round(statistics.median(v), 3)
                res[f"repair_{k}_s_max"] = round(max(v), 3)
            if mode == "events":
                log("restart under load")
                res["restart_under_load"] = restart_under_load(rl, procs, logdir)
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
                p.wait(30)
            return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--modes", default="events,poll1,poll5")
    ap.add_argument("--logs", default=None, help="keep the agents' logs here")
    a = ap.parse_args()
    logdir = Path(a.logs or tempfile.mkdtemp(prefix="bench-agent-"))
    logdir.mkdir(parents=True, exist_ok=True)
    results = [bench_mode(m, a.runs, a.idle, logdir) for m in a.modes.split(",")]
    print(json.dumps({"runs": a.runs, "idle_s": a.idle, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
