"""Benchmark: time and peak memory of `cilium-lb validate` on a ~50 MB manifest, in two shapes,
next to plain parsers on the same bytes.

    python bench/bench_parse_limits.py [--mb 50] [--runs 3]

- many: ~170,000 small documents in one file (the bench corpus concatenated, names made unique)
- clash: the same with VIP addresses repeating every 3,000 VIPs: ~80,000 findings, each located
  in two documents
- huge: one LBBackendPool document with ~1.2 million backends, one of them missing its port
  (so one finding is located at the far end of the document)

Peers on the same file: yaml_rs parse only (what our loader starts from), PyYAML's C loader
(`yaml.load_all`, CSafeLoader), and check-jsonschema with the LBBackendPool schema for the
single document (it reads one document per file). Each run is a fresh process; peak RSS is the
child's own ru_maxrss (os.wait4). Medians of --runs runs.
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
from gen_corpus import IPPOOL, NODE, POOL, SVC, VIP  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def many(path: Path, size: int, clash: int | None = None) -> int:
    """Valid small documents (VIP, service, pool triples and a node per set) up to `size` bytes;
    with `clash`, VIP addresses repeat every `clash` VIPs (a finding per repeat, each pointing
    at two documents: the worst case for positions)."""
    import ipaddress

    base = int(ipaddress.IPv4Address("100.64.0.1"))
    with path.open("w") as out:
        out.write(IPPOOL)
        written, docs, f = len(IPPOOL), 1, 0
        while written < size:
            parts = []
            for j in range(3):
                i = f * 3 + j
                ip = ipaddress.IPv4Address(base + (i % clash if clash else i))
                parts += [VIP.format(i=i, f=f, ip=ip), SVC.format(i=i, f=f),
                          POOL.format(i=i, f=f, a=i // 256 % 256, b=i % 256)]
            parts.append(NODE.format(f=f, tier="t1" if f % 2 else "t2", n=f % 256, h=f // 250 % 256, l=f % 250 + 1))
            text = "".join(parts)
            out.write(text)
            written += len(text)
            docs += len(parts)
            f += 1
    return docs


def huge(path: Path, size: int) -> int:
    head = ("apiVersion: isovalent.com/v1alpha1\nkind: LBBackendPool\nmetadata:\n  name: huge\nspec:\n"
            "  backendType: IP\n  healthCheck:\n    intervalSeconds: 5\n    timeoutSeconds: 2\n"
            "    http:\n      path: /health\n  backends:\n")
    with path.open("w") as out:
        out.write(head)
        written, i = len(head), 0
        while written < size:
            item = f"    - ip: 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}\n      port: 8080\n"
            out.write(item)
            written += len(item)
            i += 1
        out.write("    - ip: 10.255.255.255\n")  # no port: one finding, located at the very end
    return i + 1


def measure(argv: list[str], timeout: float, ok=(0, 1)) -> tuple[float, int] | None:
    """(wall seconds, peak RSS in MiB) of one fresh process; None when it ran past `timeout`."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t > timeout:
            p.kill()
            os.wait4(p.pid, 0)
            return None
        time.sleep(0.05)
    dt = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"{argv[:3]} exited {code}")
    return dt, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-runs", type=int, default=1)
    ap.add_argument("--peer-timeout", type=float, default=300, help="give up on a peer run after this many seconds")
    args = ap.parse_args()
    size = args.mb * 1_000_000
    cli = str(BIN / "cilium-lb")
    py = sys.executable
    peer = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {"many": Path(tmp) / "many.yaml", "clash": Path(tmp) / "clash.yaml", "huge": Path(tmp) / "huge.yaml"}
        counts = {"many": many(inputs["many"], size), "clash": many(inputs["clash"], size, clash=3000),
                  "huge": huge(inputs["huge"], size)}
        for shape, f in inputs.items():
            limit = f"{f.stat().st_size // (1 << 20) + 1}M"
            tools = {
                "cilium-lb validate": [cli, "validate", "-o", "json", "--max-file-size", limit, str(f)],
                "yaml_rs parse only": [py, "-c", f"import yaml_rs; yaml_rs.loads(open({str(f)!r}).read(), parse_datetime=False)"],
                "PyYAML CSafeLoader load_all": [py, "-c", f"import yaml; list(yaml.load_all(open({str(f)!r}), Loader=yaml.CSafeLoader))"],
            }
            if shape == "clash":
                tools = {k: v for k, v in tools.items() if k.startswith("cilium-lb")}  # peers: as many
            if shape == "huge" and peer:
                tools["check-jsonschema (schema only)"] = [peer, "--schemafile", str(ROOT / "schemas" / "LBBackendPool.schema.json"), str(f)]
            for tool, argv in tools.items():
                ours = tool.startswith("cilium-lb")
                runs = []
                for _ in range(args.runs if ours else args.peer_runs):
                    r = measure(argv, 3600 if ours else args.peer_timeout)
                    runs.append(r)
                    if r is None:
                        break
                done = [r for r in runs if r is not None]
                if len(done) < len(runs):
                    rows.append((shape, f.stat().st_size, counts[shape], tool, None, None, len(runs)))
                else:
                    rows.append((shape, f.stat().st_size, counts[shape], tool, statistics.median(r[0] for r in done),
                                 int(statistics.median(r[1] for r in done)), len(done)))
    print("medians of N runs, one fresh process each; peak RSS = the process's own ru_maxrss")
    print(f"{'input':<6} {'MB':>5} {'docs/items':>10}  {'tool':<32} {'N':>2} {'wall s':>8} {'peak MiB':>9}")
    for shape, nbytes, count, tool, wall, rss, n in rows:
        w = f"{wall:>8.2f}" if wall is not None else f">{args.peer_timeout:>7.0f}"
        m = f"{rss:>9}" if rss is not None else f"{'-':>9}"
        print(f"{shape:<6} {nbytes / 1e6:>5.1f} {count:>10}  {tool:<32} {n:>2} {w} {m}")


if __name__ == "__main__":
    main()
