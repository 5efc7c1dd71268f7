"""Benchmark: compile 1,000 LBServices with 100 backends each on 100 nodes (10 T1, 20 T2),
plus Maglev table builds for M=65537 with 100 and 1,000 backends.

    python bench/bench_compile.py [--runs 5]

Reports medians: loading+lint of the generated set, `compile_plans` for all nodes, serialising
every plan, and the whole `cilium-lb compile` process.

With --baseline DIR (another checkout), `compile_plans` runs from each checkout in turn, in
fresh processes, interleaved; prints the CPU seconds of each (steadier than wall time on a
shared machine) and whether both compiled byte-identical plans (a digest of all of them).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lbcli.compile.maglev import accelerated, build_table  # noqa: E402
from lbcli.compile.plan import compile_plans, dumps  # noqa: E402
from lbcli.lint.engine import lint  # noqa: E402
from lbcli.manifest.loader import load  # noqa: E402

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


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", metavar="DIR", help="another checkout to compare compile_plans with")
    args = ap.parse_args()
    if args.baseline:
        return baseline(args)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "set"
        generate(d)
        t_load, report = median_time(lambda: lint(load([str(d)])), max(1, args.runs // 2))
        assert not report.count(report.problems[0].severity) if report.problems else True
        t_compile, compiled = median_time(lambda: compile_plans(report.index), args.runs)
        t_dump, blobs = median_time(lambda: [dumps(p) for p in compiled.plans.values()], args.runs)
        t_cli, _ = median_time(lambda: subprocess.run([sys.executable, "-m", "lbcli", "compile", str(d), "-o", str(Path(tmp) / "out")],
                                                      check=True, capture_output=True), max(1, args.runs // 2))
    sizes = sum(len(b) for b in blobs)
    print(f"set: 1,000 LBServices x 100 backends, 100 nodes (10 T1, 20 T2); {len(compiled.plans)} plans, {sizes / 1e6:.1f} MB")
    print(f"{'step':<44} {'median':>10}")
    print(f"{'load + lint (3,102 resources, 100,000 backends)':<44} {t_load * 1000:>8.0f} ms")
    print(f"{'compile_plans, all nodes':<44} {t_compile * 1000:>8.0f} ms")
    print(f"{'serialise all plans (orjson, sorted keys)':<44} {t_dump * 1000:>8.0f} ms")
    print(f"{'cilium-lb compile, whole process':<44} {t_cli * 1000:>8.0f} ms")
    print(f"Maglev (C extension: {accelerated()}):")
    for n in (100, 1000):
        backends = [(f"10.0.{i // 256}.{i % 256}:8080", 1) for i in range(n)]
        t, _ = median_time(lambda: build_table(backends, 65537), 15)
        print(f"  M=65537, {n:>5} backends: {t * 1000:6.2f} ms")


CHILD = r"""
import hashlib, json, statistics, sys, time
from lbcli.compile.plan import compile_plans, dumps
from lbcli.lint.engine import lint
from lbcli.manifest.loader import load
report = lint(load([sys.argv[1]]))
cpu = []
for _ in range(3):
    t = time.process_time()
    out = compile_plans(report.index)
    cpu.append(time.process_time() - t)
digest = hashlib.sha256(b"".join(dumps(p) for _, p in sorted(out.plans.items()))).hexdigest()
print(json.dumps({"cpu": statistics.median(cpu), "sha256": digest}))
"""


def baseline(args) -> None:
    import json
    import os

    trees = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    res: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "set"
        generate(d)
        for _ in range(max(1, args.runs // 2)):
            for name, tree in trees.items():
                out = subprocess.run([sys.executable, "-c", CHILD, str(d)], cwd=tree, capture_output=True, text=True,
                                     check=True, env={**os.environ, "PYTHONPATH": str(tree)}).stdout
                res.setdefault(name, []).append(json.loads(out))
    cpu = {name: statistics.median(r["cpu"] for r in v) for name, v in res.items()}
    same = len({r["sha256"] for v in res.values() for r in v}) == 1
    print(f"compile_plans CPU s (median of 3 in each of {len(res['this'])} processes per checkout): "
          f"baseline {cpu['baseline']:.3f}, this {cpu['this']:.3f} ({cpu['this'] / cpu['baseline']:.2f}x); "
          f"plans byte-identical: {same}")


if __name__ == "__main__":
    main()
