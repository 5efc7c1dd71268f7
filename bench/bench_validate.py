"""Benchmark: `cilium-lb validate` end to end (one process, schemas + semantic rules) against
check-jsonschema on the same 10,000-resource corpus with the same schemas, plus the wall time of
one small file including interpreter start (what a pre-commit hook pays).

    python bench/bench_validate.py [--files 1000] [--runs 5]

The same corpus is also validated with a third of its resources carrying a finding (schema and
semantic, each located), which must not cost twice the all-valid run.

check-jsonschema reads one document per file and one schema per run, so it gets the same
documents split into one file each and is run once per kind (the times are summed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_corpus import generate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(argv: list[str], ok=(0,)) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    dt = time.perf_counter() - t
    if p.returncode not in ok:
        raise SystemExit(f"{argv[0]} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-runs", type=int, default=3)
    args = ap.parse_args()
    cli = str(BIN / "cilium-lb")
    peer = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    with tempfile.TemporaryDirectory() as tmp:
        corpus, single = Path(tmp) / "corpus", Path(tmp) / "single"
        n = generate(corpus, args.files, single)
        bad = Path(tmp) / "findings"
        generate(bad, args.files, findings=True)
        ours, ours_bad = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            ours.append(timed([cli, "validate", "-o", "json", str(corpus)]))
            ours_bad.append(timed([cli, "validate", "-o", "json", str(bad)], ok=(1,)))
        one = [timed([cli, "validate", str(ROOT / "examples/rebel-base/vip-service.yaml")], ok=(0, 1)) for _ in range(10)]
        theirs = []
        if peer:
            for _ in range(args.peer_runs):
                total = 0.0
                for kind_dir in sorted(single.iterdir()):
                    files = sorted(str(p) for p in kind_dir.glob("*.yaml"))
                    schema = ROOT / "schemas" / f"{kind_dir.name}.schema.json"
                    total += timed([peer, "--schemafile", str(schema), *files])
                theirs.append(total)
    o, t = statistics.median(ours), statistics.median(theirs) if theirs else float("nan")
    print(f"corpus: {n} resources in {args.files + 1} files; medians of {args.runs} (ours) / {args.peer_runs} (peer) runs")
    print(f"{'tool':<34} {'wall s':>8} {'resources/s':>12}")
    b = statistics.median(ours_bad)
    print(f"{'cilium-lb validate (schema+rules)':<34} {o:>8.3f} {n / o:>12.0f}")
    print(f"{'  same, a third with findings':<34} {b:>8.3f} {n / b:>12.0f}   ({b / o:.2f}x the valid set)")
    if theirs:
        print(f"{'check-jsonschema (schema only)':<34} {t:>8.3f} {n / t:>12.0f}")
        print(f"speed-up: {t / o:.1f}x")
    print(f"one small file, wall incl. interpreter start: median {statistics.median(one) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
