"""`cilium-lb agent --kube` under endpoint churn elsewhere in the cluster: reconciles per minute.

    python bench/bench_kube_churn.py [--slices 200] [--rate 20] [--seconds 20] [--runs 3]

An in-process agent (lbcli/agent/daemon/loop.py with the feed of lbcli/kube/feed.py, as the
tests run it: the node apply is a recording one, so a reconcile costs load + lint + compile and
no host change) watches tests/kube_fake.py -- a FAKE API server speaking the real REST protocol
through the real `kubernetes` client (no Kubernetes API server can run here). The set is
examples/k8s-services; the cluster also holds --slices EndpointSlices of ClusterIP Services
the set does not use, and a churn thread rewrites one of them (a new endpoint address) --rate
times a second for --seconds. Counted: agent runs (reconciles), feed notifications, and the
process's CPU seconds, per minute of churn.

Side by side in one run, alternating:
    filter    the agent as it is (lbcli/kube/feed.py ClusterFeed._view: events of unused
              Services and their slices ask for no reconcile)
    nofilter  the peer: _view replaced by "every object counts" -- the feed before the filter
              (every change of a kept Service or slice asked for a reconcile)
Median of --runs per mode.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lbcli.kube.feed import ClusterFeed  # noqa: E402

NODE = "lb-t2-1"


class _Report:
    def to_dict(self) -> dict:
        return {"ok": True, "changes": 0, "withheld": [], "components": []}


def _slice(i: int, gen: int) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "apps", "name": f"svc{i}-abcde", "labels": {"kubernetes.io/service-name": f"svc{i}"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": [f"10.{100 + gen // 65536 % 100}.{gen // 256 % 256}.{gen % 256}"],
                           "conditions": {"ready": True}}]}


def _service(i: int) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "apps", "name": f"svc{i}"},
            "spec": {"type": "ClusterIP", "selector": {"app": f"svc{i}"}, "ports": [{"name": "http", "port": 80}]}}


def one(mode: str, slices: int, rate: float, seconds: float, tmp: Path) -> dict:
    from lbcli.agent.daemon.events import EventLog
    from lbcli.agent.daemon.loop import Agent
    from lbcli.agent.reconciler import NodeContext
    from lbcli.cli import agent_kube
    from tests.kube_fake import FakeApiServer
    from tests.test_kube import K8S, _fill, _served

    api = FakeApiServer(_served()).start()
    kc = api.kubeconfig(tmp / f"kubeconfig-{mode}")
    _fill(api, K8S)
    for i in range(slices):
        api.put(_service(i))
        api.put(_slice(i, 0))
    saved = ClusterFeed._view
    if mode == "nofilter":
        ClusterFeed._view = lambda self, kind, objs: objs  # the peer: every kept object counts
    runs: list[float] = []
    log = EventLog(NODE, "json", io.StringIO())
    cluster = agent_kube.start(kc, None, NODE, log.emit, "kube-system", False, 300, 0, 0.1, sync_timeout=30,
                               feed_options={"watch_timeout": 30})
    agent = Agent(NodeContext(NODE, Path("/nonexistent"), Path("/nonexistent")),
                  agent_kube.loader(cluster, NODE, None, None), log, [], interval=3600,
                  apply=lambda ctx, plan, secrets: (runs.append(time.monotonic()), _Report())[1],
                  feeds=[cluster])
    agent.start()
    thread = threading.Thread(target=agent.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + 30
        while not runs and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(1.0)  # the start has settled
        n0, notes0, cpu0 = len(runs), cluster.feed.generation, time.process_time()
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds:
            k += 1
            api.put(_slice(k % slices, k))
            time.sleep(max(0.0, t0 + k / rate - time.monotonic()))
        time.sleep(0.6)  # the last debounce window
        minutes = (time.monotonic() - t0) / 60
        return {"reconciles_per_min": (len(runs) - n0) / minutes,
                "generations_per_min": (cluster.feed.generation - notes0) / minutes,
                "cpu_s_per_min": (time.process_time() - cpu0) / minutes,
                "events": k, "ignored": cluster.feed.ignored}
    finally:
        agent.stop()
        thread.join(10)
        ClusterFeed._view = saved
        api.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slices", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20.0, help="slice changes per second")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import tempfile

    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.slices} unused slices, "
          f"{args.rate:g} changes/s for {args.seconds:g} s, {args.runs} runs per mode")
    results: dict[str, list[dict]] = {"nofilter": [], "filter": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            for mode in results:
                res = one(mode, args.slices, args.rate, args.seconds, Path(tmp))
                results[mode].append(res)
                print(f"  run {r + 1} {mode:8s} reconciles/min {res['reconciles_per_min']:7.1f}  "
                      f"CPU s/min {res['cpu_s_per_min']:6.2f}  events {res['events']}  ignored {res['ignored']}",
                      flush=True)
    print(f"{'mode':10s} {'reconciles/min':>15s} {'CPU s/min':>10s}   (medians)")
    for mode, rs in results.items():
        print(f"{mode:10s} {statistics.median(x['reconciles_per_min'] for x in rs):15.1f} "
              f"{statistics.median(x['cpu_s_per_min'] for x in rs):10.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
