"""Per-packet cost of the tier-1 programs with BPF_PROG_TEST_RUN (root; namespace lab).

The program the reconciler loaded and pinned (tc, and XDP with `--datapath xdp`), with the maps
it filled from a compiled lab plan, is run by the kernel on crafted 64-byte frames:

* miss: UDP to a non-VIP address (passes untouched), repeat N;
* miss / established / new flow, one run per call: K calls with repeat=1 each (both programs
  encapsulate in place, and the kernel reruns a program on the frame it left behind, so repeat
  N cannot measure a VIP packet); new flow: a distinct source port each call, so each call
  creates a flow entry (Maglev lookup + LRU insert). One-run calls include the kernel's timing
  overhead (the one-run miss shows it); the differences to the one-run miss are the costs.

    python bench/bench_bpf_run.py [--runs 5] [--repeat 200000] [--calls 2000] [--modes tc,xdp]

Prints medians of `--runs` measurements (ns per packet, as the kernel reports it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VIP, UDP_PORT, CLIENT = "100.64.0.101", 5201, "172.30.0.2"


def measure(pin_dir: Path, prefix: str, runs: int, repeat: int, calls: int, first_port: int) -> dict[str, list]:
    from lbcli.lab import testrun as tr

    fd = tr.program_fd(pin_dir, prefix)
    out: dict[str, list] = {"miss": [], "miss, 1 run/call": [], "established, 1 run/call": [],
                            "new flow, 1 run/call": []}
    try:
        miss = tr.packet(CLIENT, "192.168.121.21", 40000, 9)
        est = tr.packet(CLIENT, VIP, 40000, UDP_PORT)
        tr.run(fd, est)  # the flow exists from here on
        port = first_port
        for _ in range(runs):
            out["miss"].append(tr.run(fd, miss, repeat)[2])
            # a VIP packet leaves encapsulated and the kernel reruns the program on the frame it
            # left behind (a miss then): VIP cases are measured with one run per call
            one, new, miss1 = [], [], []
            for _ in range(calls):
                miss1.append(tr.run(fd, miss)[2])
                one.append(tr.run(fd, est)[2])
                new.append(tr.run(fd, tr.packet(CLIENT, VIP, port % 65536, UDP_PORT))[2])
                port += 1
            out["miss, 1 run/call"].append(statistics.median(miss1))
            out["established, 1 run/call"].append(statistics.median(one))
            out["new flow, 1 run/call"].append(statistics.median(new))
    finally:
        tr.close(fd)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=200000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--modes", default="tc,xdp")
    args = ap.parse_args()

    from lbcli.lab import Lab
    from lbcli.lab.plans import LabService, node_plans

    modes = [m for m in args.modes.split(",") if m]
    results: dict[str, dict[str, list]] = {}
    with Lab() as lab:
        lab.mount_bpffs()
        plans = node_plans(lab.topology, [LabService("bench/udp", VIP, UDP_PORT, "UDP")])
        plan = lab.workdir / "t1-a.json"
        plan.write_text(json.dumps(plans["t1-a"]))
        for i, mode in enumerate(modes):
            argv = [sys.executable, "-m", "lbcli.lab.nodecmd", "apply", "--plan", str(plan), "--node", "t1-a",
                    "--state-dir", str(lab.state_dir("t1-a")), "--bpf-root", str(lab.bpf_root),
                    "--component", "datapath", "--datapath", mode]
            proc = lab.run_in("t1-a", argv, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"apply --datapath {mode} failed: {proc.stdout}{proc.stderr}")
            prefix = "xdp_" if mode == "xdp" else "prog_"
            results[mode] = measure(lab.bpf_root / "t1-a", prefix, args.runs, args.repeat, args.calls,
                                    1024 + i * 20000)
    print(f"BPF_PROG_TEST_RUN, 64-byte frames, ns/packet (medians of {args.runs}; repeat {args.repeat:,}, "
          f"one-run calls: median of {args.calls:,})")
    cases = list(next(iter(results.values())))
    print(f"  {'case':<26}" + "".join(f"{m:>10}" for m in modes))
    for case in cases:
        print(f"  {case:<26}" + "".join(f"{statistics.median(results[m][case]):>10.0f}" if results[m][case]
                                         else f"{'n/a':>10}" for m in modes))
    for m in modes:
        r = {c: statistics.median(v) for c, v in results[m].items() if v}
        print(f"  {m}: over a miss, an established packet costs "
              f"~{r['established, 1 run/call'] - r['miss, 1 run/call']:.0f} ns, a new flow "
              f"~{r['new flow, 1 run/call'] - r['miss, 1 run/call']:.0f} ns (one-run calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
