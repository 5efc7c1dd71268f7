"""Maglev table build time: C accelerator vs pure-Python reference, plus removal disruption.

    python bench/bench_maglev.py [--runs 7] [--py-runs 5] [--no-disruption]

Build time is the whole ``build_table`` call (validate, sort, hash, fill) with backend keys
like "10.1.2.3:8080", equal weights. Reference points: the NSDI'16 paper builds M=65537 in
1.8 ms; Cilium builds M=16381 for 1,000 backends in ~8 ms. Target here: < 5 ms for M=65537.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from array import array
from pathlib import Path

try:
    from lbcli.compile import maglev
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lbcli.compile import maglev

CASES = [(65537, 100), (65537, 1000), (16381, 1000)]


def backends(n: int, seed: int, weighted: bool = False) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    keys: set[str] = set()
    while len(keys) < n:
        keys.add(f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}:8080")
    return [(k, rng.randint(1, 10) if weighted else 1) for k in sorted(keys)]


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up (imports, allocator)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def removal_ratio(keys: list[str], gone: int, m: int) -> float:
    before = maglev.build_table([(k, 1) for k in keys], m)
    after = maglev.build_table([(k, 1) for i, k in enumerate(keys) if i != gone], m)
    back = [i if i < gone else i + 1 for i in range(len(keys) - 1)]
    after = array("i", [back[i] for i in after])
    return len(maglev.changed_slots(before, after)) / before.count(gone)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="runs per C measurement")
    ap.add_argument("--py-runs", type=int, default=5, help="runs per pure-Python measurement")
    ap.add_argument("--no-disruption", action="store_true")
    args = ap.parse_args()

    accel = maglev.accelerated()
    print(f"python {sys.version.split()[0]}, C accelerator: {'yes' if accel else 'NOT BUILT'}")
    print(f"build_table, median ms ({args.runs} C runs, {args.py_runs} Python runs)")
    print(f"{'M':>7} {'N':>6} {'weights':>8} {'C':>9} {'Python':>9} {'speed-up':>9}")
    for m, n in CASES:
        for weighted in (False, True):
            bs = backends(n, m + n, weighted)
            c_ms = median_ms(lambda: maglev.build_table(bs, m), args.runs) if accel else float("nan")
            py_ms = median_ms(lambda: maglev.build_table_reference(bs, m), args.py_runs)
            print(f"{m:>7} {n:>6} {'1..10' if weighted else 'equal':>8} {c_ms:>9.2f} {py_ms:>9.1f}"
                  f" {py_ms / c_ms:>8.0f}x")

    if not args.no_disruption:
        print("\nremove 1 of N backends: changed slots / removed backend's slots (ideal 1.0)")
        print(f"{'M':>7} {'N':>6} {'mean':>7} {'max':>7}  (20 random removals)")
        rng = random.Random(5)
        for m, n in [(65537, 10), (65537, 20), (65537, 100), (65537, 1000), (16381, 1000)]:
            ratios = []
            for _ in range(20):
                keys = [k for k, _ in backends(n, rng.randrange(1 << 30))]
                ratios.append(removal_ratio(keys, rng.randrange(n), m))
            print(f"{m:>7} {n:>6} {statistics.mean(ratios):>7.3f} {max(ratios):>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
