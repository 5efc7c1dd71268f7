"""Pod-to-pod across nodes: tunnel (VXLAN) vs native routing vs plain veth routing, side by side
in one run (root; a namespace lab, touches nothing else).

Lab: lbcli.lab PODNET plus a second Pod on node-a. Each round applies `routing-mode: tunnel`,
then `native` + auto-direct-node-routes, with `cilium-lb apply` on every node, and measures
pod-a -> pod-b (across nodes) in that mode; "plain veth" is pod-a -> pod-a2 on the same node (two
veths and one routing hop, no underlay): the floor both modes add to. Per measurement: iperf3
TCP throughput (one stream) and ping round-trip time (the mean of 200 pings at 10 ms). The
table shows medians over the rounds.

    python bench/bench_podnet.py [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODES = {
    "tunnel": {"routing-mode": "tunnel", "tunnel-protocol": "vxlan"},
    "native": {"routing-mode": "native", "auto-direct-node-routes": "true", "ipv4-native-routing-cidr": "10.244.0.0/16"},
}


def _iperf(lab, src: str, dst_ip: str, seconds: int) -> float:
    doc = json.loads(lab.run_in(src, ["iperf3", "-c", dst_ip, "-t", str(seconds), "-J"], timeout=seconds + 30).stdout)
    return doc["end"]["sum_received"]["bits_per_second"] / 1e9


def _rtt(lab, src: str, dst_ip: str) -> float:
    out = lab.run_in(src, ["ping", "-q", "-c", "200", "-i", "0.01", dst_ip], timeout=60).stdout
    return float(re.search(r"= [\d.]+/([\d.]+)/", out).group(1)) * 1000  # microseconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()

    from lbcli.lab import Lab
    from lbcli.lab.podnet import PodnetDriver
    from lbcli.lab.topology import PODNET, LabPod

    topo = replace(PODNET, pods=PODNET.pods + (LabPod("pod-a2", "node-a", "10.244.1.11"),))
    pods = {p.name: p for p in topo.pods}
    res: dict[str, dict[str, list[float]]] = {m: {"gbps": [], "rtt": []} for m in ("tunnel", "native", "plain veth")}
    with Lab(topo) as lab:
        lab.mount_bpffs()
        d = PodnetDriver(lab)
        for pod in ("pod-b", "pod-a2"):
            lab.popen(pod, ["iperf3", "-s"])
        time.sleep(0.5)
        for r in range(args.rounds):
            for mode, config in MODES.items():
                d.write(config)
                for node, doc in d.apply_all().items():
                    if doc["exit"] != 0:
                        print(f"apply failed on {node}: {doc}", file=sys.stderr)
                        return 1
                res[mode]["gbps"].append(_iperf(lab, "pod-a", pods["pod-b"].ip, args.seconds))
                res[mode]["rtt"].append(_rtt(lab, "pod-a", pods["pod-b"].ip))
            res["plain veth"]["gbps"].append(_iperf(lab, "pod-a", pods["pod-a2"].ip, args.seconds))
            res["plain veth"]["rtt"].append(_rtt(lab, "pod-a", pods["pod-a2"].ip))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        for n in topo.nodes:
            d.reset(n.name)
    med = {m: (statistics.median(v["gbps"]), statistics.median(v["rtt"])) for m, v in res.items()}
    print(f"pod-to-pod, medians of {args.rounds} rounds (iperf3 TCP {args.seconds} s; ping RTT mean of 200)")
    print(f"{'path':<12} {'TCP Gbit/s':>11} {'RTT us':>8}")
    for m, (g, rtt) in med.items():
        print(f"{m:<12} {g:>11.2f} {rtt:>8.1f}")
    t, n = med["tunnel"], med["native"]
    print(f"native vs tunnel: throughput x{n[0] / t[0]:.2f}, RTT {100 * (t[1] - n[1]) / t[1]:.0f} % lower")
    return 0


if __name__ == "__main__":
    sys.exit(main())
