"""cilium-lb agent on the rebel-base lab: idle cost and drift-repair time.

    sudo python bench/bench_agent.py [--runs 3] [--interval 1.0] [--idle 20]

Idle: CPU seconds per wall second of the agent process on a T1 and a T2 node (from
/proc/PID/stat, after the start run) and its RSS. Drift: time from the fault (tc filter deleted on
a T1, the VIP removed from a T2's lo, HAProxy killed) until the host is repaired, read from the
host (filter present, address back, new HAProxy pid alive); median of --runs. Not measured yet:
the T1->T2 health-check failover figures of issue 12 (tier-1 health checks are not built)."""

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

from lbcli.lab.rebel import VIP, RebelLab  # noqa: E402

FILTER = ("import json; from lbcli.agent.host import netlink as nl; "
          "print(json.dumps([f.prog_id for f in nl.all_filters() if f.kind == 'bpf']))")
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def until(cond, timeout: float = 30.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError("not repaired in time")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--idle", type=float, default=20.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rl = RebelLab(ROOT / "examples" / "rebel-base", Path(tmp))
        with rl.running():
            lab = rl.lab
            procs = {}
            for n in ("lb-t1-1", "lb-t2-1"):
                procs[n] = lab.popen(n, [sys.executable, "-m", "lbcli", "agent", str(rl.manifests), "--node", n,
                                         "--state-dir", str(lab.state_dir(n)), "--bpf-root", str(lab.bpf_root),
                                         "--interval", str(a.interval), "--log-format", "json"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(5)  # the start run (compile) is not idle
            c0 = {n: cpu(p.pid) for n, p in procs.items()}
            time.sleep(a.idle)
            out = {"interval_s": a.interval}
            for n, p in procs.items():
                out[f"idle_cpu_pct_{n}"] = round(100 * (cpu(p.pid) - c0[n]) / a.idle, 2)
                out[f"rss_mib_{n}"] = round(rss_mib(p.pid), 1)
            filt, vip, hap = [], [], []
            pidfile = lab.state_dir("lb-t2-1") / "lb-t2-1" / "haproxy" / "haproxy.pid"
            for _ in range(a.runs):
                lab.run_in("lb-t1-1", ["tc", "filter", "del", "dev", "eth0", "ingress"])
                filt.append(until(lambda: json.loads(lab.run_in("lb-t1-1", [sys.executable, "-c", FILTER]).stdout)))
                lab.run_in("lb-t2-1", ["ip", "addr", "del", f"{VIP}/32", "dev", "lo"])
                vip.append(until(lambda: f"{VIP}/32" in lab.run_in("lb-t2-1", ["ip", "-o", "addr", "show", "dev", "lo"]).stdout))
                old = int(pidfile.read_text().split()[0])
                os.kill(old, signal.SIGKILL)

                def back() -> bool:
                    try:
                        pid = int(pidfile.read_text().split()[0])
                    except (OSError, ValueError, IndexError):
                        return False
                    return pid != old and Path(f"/proc/{pid}").exists()

                hap.append(until(back))
                time.sleep(1)
            out["repair_tc_filter_s"] = round(statistics.median(filt), 3)
            out["repair_vip_on_lo_s"] = round(statistics.median(vip), 3)
            out["repair_haproxy_killed_s"] = round(statistics.median(hap), 3)
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
                p.wait(15)
            print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
