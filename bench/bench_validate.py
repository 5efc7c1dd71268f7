"""Benchmark: `cilium-lb validate` end to end (one process, schemas + semantic rules) against
check-jsonschema on the same 10,000-resource corpus with the same schemas, plus the wall time of
one small file including interpreter start (what a pre-commit hook pays).

    python bench/bench_validate.py [--files 1000] [--runs 5]

The same corpus is also validated with a third of its resources carrying a finding (schema and
semantic, each located), which must not cost twice the all-valid run.

check-jsonschema reads one document per file and one schema per run, so it gets the same
documents split into one file each and is run once per kind (the times are summed).

With --baseline DIR (another checkout of this repository, e.g. `git worktree add /tmp/base
main`), the same three cases also run from that checkout, interleaved with this one, both as
`python -m lbcli` byte-compiled, and the CPU ratios are printed: before/after on one machine.
"""

from __future__ import annotations

import argparse
import os
import resource
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


CPU: dict[str, list[float]] = {}  # label -> CPU seconds (user + system) per run


def timed(argv: list[str], ok=(0,), label: str | None = None) -> float:
    """Wall seconds of one run; its CPU seconds go to CPU[label] (steadier on a shared machine)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in ok:
        raise SystemExit(f"{argv[0]} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    if label:
        CPU.setdefault(label, []).append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return dt


def compile_bytecode() -> str:
    """Byte-compile the lbcli the CLI will import, as `pip install` does: a development setup
    with PYTHONDONTWRITEBYTECODE (this machine's) otherwise compiles every module from source
    at each start (~100 ms), which no installed copy does (check-jsonschema's has its .pyc)."""
    where = subprocess.run([sys.executable, "-c", "import lbcli; print(lbcli.__path__[0])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", where], check=True, stdout=subprocess.DEVNULL)
    return where


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-runs", type=int, default=3)
    ap.add_argument("--baseline", metavar="DIR", help="another checkout to compare with, run interleaved")
    args = ap.parse_args()
    if args.baseline:
        return baseline(args)
    cli = str(BIN / "cilium-lb")
    peer = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    pkg = compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, single = Path(tmp) / "corpus", Path(tmp) / "single"
        n = generate(corpus, args.files, single)
        bad = Path(tmp) / "findings"
        generate(bad, args.files, findings=True)
        ours, ours_bad = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            ours.append(timed([cli, "validate", "-o", "json", str(corpus)], label="ours"))
            ours_bad.append(timed([cli, "validate", "-o", "json", str(bad)], ok=(1,), label="bad"))
        one = [timed([cli, "validate", str(ROOT / "examples/rebel-base/vip-service.yaml")], ok=(0, 1), label="one")
               for _ in range(10)]
        theirs = []
        if peer:
            for _ in range(args.peer_runs):
                total = 0.0
                for kind_dir in sorted(single.iterdir()):
                    files = sorted(str(p) for p in kind_dir.glob("*.yaml"))
                    schema = ROOT / "schemas" / f"{kind_dir.name}.schema.json"
                    total += timed([peer, "--schemafile", str(schema), *files], label="peer")
                theirs.append(total)
    o, t = statistics.median(ours), statistics.median(theirs) if theirs else float("nan")
    b = statistics.median(ours_bad)
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    peer_cpu = sum(CPU.get("peer", [])) / max(1, args.peer_runs)  # summed over kinds, per run
    print(f"lbcli from {pkg} (byte-compiled)")
    print(f"corpus: {n} resources in {args.files + 1} files; medians of {args.runs} (ours) / {args.peer_runs} (peer) runs")
    print(f"{'tool':<34} {'wall s':>8} {'resources/s':>12} {'CPU s':>8} {'res/CPU s':>10}")
    print(f"{'cilium-lb validate (schema+rules)':<34} {o:>8.3f} {n / o:>12.0f} {cpu['ours']:>8.3f} {n / cpu['ours']:>10.0f}")
    print(f"{'  same, a third with findings':<34} {b:>8.3f} {n / b:>12.0f} {cpu['bad']:>8.3f} {n / cpu['bad']:>10.0f}"
          f"   ({b / o:.2f}x wall, {cpu['bad'] / cpu['ours']:.2f}x CPU of the valid set)")
    if theirs:
        print(f"{'check-jsonschema (schema only)':<34} {t:>8.3f} {n / t:>12.0f} {peer_cpu:>8.3f} {n / peer_cpu:>10.0f}")
        print(f"speed-up: {t / o:.1f}x wall, {peer_cpu / cpu['ours']:.1f}x CPU")
    print(f"one small file, incl. interpreter start: median {statistics.median(one) * 1000:.0f} ms wall, "
          f"{cpu['one'] * 1000:.0f} ms CPU")

def baseline(args) -> None:
    """CPU seconds of the three cases from this checkout and from --baseline, interleaved."""
    trees = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    for tree in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "lbcli")], check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        corpus, bad = Path(tmp) / "corpus", Path(tmp) / "findings"
        n = generate(corpus, args.files)
        generate(bad, args.files, findings=True)
        cases = {"valid set": ([str(corpus)], (0,)), "a third with findings": ([str(bad)], (1,)),
                 "one small file": ([str(ROOT / "examples/rebel-base/vip-service.yaml")], (0, 1))}
        for _ in range(args.runs):
            for case, (paths, ok) in cases.items():
                for name, tree in trees.items():
                    label = f"{name}:{case}"
                    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    p = subprocess.run([sys.executable, "-m", "lbcli", "validate", "-o", "json", *paths], cwd=tree,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       env={**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"})
                    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    if p.returncode not in ok:
                        raise SystemExit(f"{name} {case}: exit {p.returncode}: {p.stderr.decode()[-2000:]}")
                    CPU.setdefault(label, []).append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    print(f"{n} resources; medians of {args.runs} interleaved runs; baseline {trees['baseline']}")
    print(f"{'case':<24} {'baseline CPU s':>15} {'this CPU s':>11} {'ratio':>7} {'res/CPU-s':>10}")
    for case in cases:
        b, t = (statistics.median(CPU[f"{name}:{case}"]) for name in ("baseline", "this"))
        rate = f"{n / t:>10.0f}" if case != "one small file" else f"{'':>10}"
        print(f"{case:<24} {b:>15.3f} {t:>11.3f} {t / b:>7.2f} {rate}")


if __name__ == "__main__":
    main()
