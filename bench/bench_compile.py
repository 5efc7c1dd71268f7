"""Benchmark: compile 1,000 LBServices with 100 backends each on 100 nodes (10 T1, 20 T2),
plus Maglev table builds for M=65537 with 100 and 1,000 backends.

    python bench/bench_compile.py [--runs 5] [--baseline DIR]

Each run is two fresh processes: one times load + lint, `compile_plans` for all nodes and the
first serialisation of every plan (wall and CPU seconds of each step); the other is the whole
`cilium-lb compile SET -o DIR` into an empty DIR (wall, and CPU from the child's rusage). Prints
medians, the load average, and whether every run wrote byte-identical plans (digests).

With --baseline DIR (another checkout, e.g. `git worktree add --detach DIR <commit>`), the same
runs from both checkouts, interleaved, side by side with the CPU ratio; both lbcli trees are
byte-compiled first, as an install has them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lbcli.compile.maglev import accelerated, build_table  # noqa: E402

HEAD = """apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: bench}
spec:
  blocks: [{cidr: 100.64.0.0/16}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-config, namespace: kube-system}
data: {routing-mode: tunnel, tunnel-protocol: vxlan}
"""


def generate(d: Path, services: int = 1000, backends: int = 100, nodes: int = 100) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "000-cluster.yaml").write_text(HEAD)
    out = []
    for n in range(nodes):
        tier = "t1" if n < 10 else ("t2" if n < 30 else "worker")
        out.append(f"---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-{n:03d}\n  labels: {{service.cilium.io/node: {tier}}}\n"
                   f"spec: {{podCIDRs: [10.{200 + n // 256}.{n % 256}.0/24]}}\n"
                   f"status:\n  addresses: [{{type: InternalIP, address: 192.168.{n // 200}.{n % 200 + 10}}}]\n")
    (d / "001-nodes.yaml").write_text("".join(out))
    for s in range(services):
        bl = "".join(f"    - {{ip: 10.{s // 256}.{s % 256}.{b + 1}, port: 8080}}\n" for b in range(backends))
        (d / f"svc-{s:04d}.yaml").write_text(
            f"apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata: {{name: v{s}, namespace: default}}\nspec: {{}}\n---\n"
            f"apiVersion: isovalent.com/v1alpha1\nkind: LBService\nmetadata: {{name: s{s}, namespace: default}}\n"
            f"spec:\n  vipRef: {{name: v{s}}}\n  port: 80\n  applications:\n    httpProxy:\n      routes:\n"
            f"        - backendRef: {{name: p{s}}}\n---\n"
            f"apiVersion: isovalent.com/v1alpha1\nkind: LBBackendPool\nmetadata: {{name: p{s}, namespace: default}}\n"
            f"spec:\n  backendType: IP\n  healthCheck: {{tcp: {{}}}}\n  backends:\n{bl}")


CHILD = r"""
import hashlib, json, sys, time
from lbcli.compile.plan import compile_plans, dumps
from lbcli.lint.engine import lint
from lbcli.manifest.loader import load

def step(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c

report, *load_t = step(lambda: lint(load([sys.argv[1]])))
compiled, *compile_t = step(lambda: compile_plans(report.index))
blobs, *dump_t = step(lambda: [dumps(p) for _, p in sorted(compiled.plans.items())])
print(json.dumps({"load": load_t, "compile": compile_t, "dump": dump_t, "plans": len(blobs),
                  "bytes": sum(map(len, blobs)), "sha256": hashlib.sha256(b"".join(blobs)).hexdigest()}))
"""

STEPS = (("load", "load + lint (3,102 resources, 100,000 backends)"), ("compile", "compile_plans, all 100 nodes"),
         ("dump", "serialise all plans (first time)"), ("cli", "cilium-lb compile, whole process"))


def run_tree(tree: Path, d: Path, out: Path) -> dict:
    """One fresh process of each kind from checkout `tree`: the steps in one process (wall and
    CPU seconds of each), then the whole `cilium-lb compile` writing every plan to an empty DIR."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    r = json.loads(subprocess.run([sys.executable, "-c", CHILD, str(d)], cwd=tree, env=env, check=True,
                                  capture_output=True, text=True).stdout)
    shutil.rmtree(out, ignore_errors=True)
    r0, w = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "-m", "lbcli", "compile", str(d), "-o", str(out)], cwd=tree, env=env, check=True,
                   capture_output=True)
    w, r1 = time.perf_counter() - w, resource.getrusage(resource.RUSAGE_CHILDREN)
    r["cli"] = [w, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)]
    r["files"] = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(out.iterdir()))).hexdigest()
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", metavar="DIR", help="another checkout, measured interleaved with this one")
    args = ap.parse_args()
    trees = {"this": ROOT} if not args.baseline else {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    for tree in trees.values():  # as an install has it (PYTHONDONTWRITEBYTECODE may be set)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "lbcli")], check=True, stdout=subprocess.DEVNULL)
    load0 = os.getloadavg()[0]
    res: dict[str, list[dict]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "set"
        generate(d)
        # the allocation lock beside the manifests is written once, before anything is timed
        subprocess.run([sys.executable, "-m", "lbcli", "compile", str(d), "-o", str(Path(tmp) / "warm")], cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True)
        for _ in range(args.runs):
            for name, tree in trees.items():
                res[name].append(run_tree(tree, d, Path(tmp) / f"out-{name}"))
    load1 = os.getloadavg()[0]
    first = res["this"][0]
    print(f"set: 1,000 LBServices x 100 backends, 100 nodes (10 T1, 20 T2); {first['plans']} plans, "
          f"{first['bytes'] / 1e6:.1f} MB; medians of {args.runs} fresh processes per checkout"
          + (", interleaved" if args.baseline else "") + f"; load average {load0:.1f} -> {load1:.1f}")
    cols = list(trees)
    print(f"{'step':<50}" + "".join(f" {c + ' wall':>14} {c + ' CPU':>13}" for c in cols)
          + (f" {'CPU ratio':>10}" if args.baseline else ""))
    for key, label in STEPS:
        med = {c: [statistics.median(r[key][i] for r in res[c]) for i in (0, 1)] for c in cols}
        line = f"{label:<50}" + "".join(f" {med[c][0]:>12.2f} s {med[c][1]:>11.2f} s" for c in cols)
        if args.baseline:
            line += f" {med['this'][1] / med['baseline'][1]:>9.2f}x"
        print(line)
    plans = {r["sha256"] for v in res.values() for r in v}
    files = {r["files"] for v in res.values() for r in v}
    print(f"plans byte-identical across {'checkouts and ' if args.baseline else ''}runs: "
          f"{len(plans) == 1} (serialised), {len(files) == 1} (files written by the CLI)")
    print(f"Maglev (C extension: {accelerated()}):")
    for n in (100, 1000):
        backends = [(f"10.0.{i // 256}.{i % 256}:8080", 1) for i in range(n)]
        t, _ = median_time(lambda: build_table(backends, 65537), 15)
        print(f"  M=65537, {n:>5} backends: {t * 1000:6.2f} ms")


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


if __name__ == "__main__":
    main()
