"""Tier-1 programming side by side: this checkout's datapath and another's (e.g. main's
worktree) on the same compiled plans, alternating (root; namespace labs).

    python bench/bench_datapath_peer.py --peer /path/to/other/checkout [--rounds 4] [--runs 2]

Each round runs bench/bench_datapath.py's programming worker of both checkouts (the order
swapped every round, each in a fresh lab); prints the medians of every figure side by side and
the load average at the start of each worker.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIGURES = (("full", "1,000 VIPs (observe+diff+apply), ms"), ("full_apply", "  of which diff+apply, ms"),
           ("change", "one backend change, ms"), ("change_apply", "  of which diff+apply, ms"),
           ("delete", "delete 1,000 VIPs, ms"), ("slots", "slots written"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", type=Path, required=True, help="another checkout of the project")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--runs", type=int, default=2, help="reconcile rounds per worker")
    args = ap.parse_args()
    from bench_datapath import big_plan

    from lbcli.lab import DEFAULT, Lab

    sides = {"this": ROOT, "peer": args.peer.resolve()}
    got: dict[str, dict[str, list[float]]] = {k: {} for k in sides}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lbbench-") as tmp:
        plans = Path(tmp)
        ip = DEFAULT.node("t1-a").ip  # the lab's tier-1 node
        for name, plan in (("empty", big_plan(ip, n_vips=0)), ("full", big_plan(ip)), ("changed", big_plan(ip, 1))):
            (plans / f"{name}.json").write_text(json.dumps(plan))
        for r in range(args.rounds):
            for side, root in (list(sides.items()) if r % 2 == 0 else list(sides.items())[::-1]):
                with Lab() as lab:
                    lab.mount_bpffs()
                    loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
                    proc = lab.run_in("t1-a", ["env", f"PYTHONPATH={root}", sys.executable,
                                               str(root / "bench" / "bench_datapath.py"), "--runs", str(args.runs),
                                               "--program-worker", str(plans), str(lab.state_dir("t1-a")),
                                               str(lab.bpf_root)], timeout=900, cwd=str(root))
                for k, v in json.loads(proc.stdout).items():
                    got[side].setdefault(k, []).extend(v)
    print(f"Programming side by side ({args.rounds} alternating rounds of --runs {args.runs}; medians)")
    print(f"  {'':38} {'this':>10} {'peer':>10}   ({args.peer})")
    for key, label in FIGURES:
        scale = 1 if key == "slots" else 1000
        vals = [statistics.median(got[s][key]) * scale for s in sides]
        print(f"  {label:38} {vals[0]:>10.1f} {vals[1]:>10.1f}")
    print(f"  load average at the starts: {min(loads):.2f}-{max(loads):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
