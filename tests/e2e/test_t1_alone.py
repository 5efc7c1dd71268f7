"""The tier-1-alone bench lab (bench/t1_alone.py, `bench_datapath.py --isolate`): its far end
counts exactly what T1 forwarded to the T2 node, T1's work runs in its NAPI thread pinned to
CPU 1, and the settings it changed are undone."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from lbcli.lab import Lab
from lbcli.lab import trafgen as tg
from lbcli.lab.plans import LabService, node_plans

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

pytestmark = pytest.mark.netns

VIP, PORT = "100.64.0.101", 9999


@pytest.mark.parametrize("mode", ["tc", "xdp"])
def test_far_end_counts_what_t1_forwarded_and_t1_runs_on_cpu_1(mode):
    for tool in ("trafgen", "clang", "bpftool", "cc"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 CPUs")
    from t1_alone import Alone, _thread_ns

    with Lab() as lab:
        lab.mount_bpffs()
        t1, t2 = lab.topology.node("t1-a"), lab.topology.node("t2-a")
        lab.sysctl("t1-a", "net.ipv4.ip_forward", "1")
        plan = lab.workdir / "t1-a.json"
        plan.write_text(json.dumps(node_plans(lab.topology, [LabService("bench/udp", VIP, PORT, "UDP")],
                                              t2_names=["t2-a"])["t1-a"]))
        alone = Alone(lab, t2.ip, PORT)
        try:
            lab.run_in("t1-a", ["ping", "-c", "1", "-W", "1", t2.ip])  # T1 knows T2's MAC
            lab.run_in("t1-a", [sys.executable, "-m", "lbcli.lab.nodecmd", "apply", "--plan", str(plan), "--node",
                                "t1-a", "--state-dir", str(lab.state_dir("t1-a")), "--bpf-root", str(lab.bpf_root),
                                "--component", "datapath", "--datapath", mode], timeout=600)
            alone.t1_mode(xdp=mode == "xdp")
            assert alone.t1_threads and all(os.sched_getaffinity(p) == {1} for p in alone.t1_threads)
            assert all(os.sched_getaffinity(p) == {0} for p in alone.far_threads)
            assert bool(alone.far_threads) == (mode == "xdp")  # XDP_TX needs NAPI at the far end
            mac = lambda n, d: lab.run_in(n, ["cat", f"/sys/class/net/{d}/address"]).stdout.strip()  # noqa: E731
            dst, src = mac("t1-a", "eth0"), mac("router", "eth0")
            ran = sum(_thread_ns(p) for p in alone.t1_threads)
            before = alone.counted()
            tg.send(lab, "seg", "p-t1-a", tg.frame(dst, src, lab.topology.client_ip, VIP, PORT), 2000)
            # routed by T1 to T2's address but to another port: not what the far end counts
            tg.send(lab, "seg", "p-t1-a", tg.frame(dst, src, lab.topology.client_ip, t2.ip, PORT - 1), 300)
            assert alone.counted() - before == 2000
            assert sum(_thread_ns(p) for p in alone.t1_threads) > ran  # T1's thread did the work
        finally:
            alone.restore()
        for node, dev in (("t1-a", "eth0"), ("seg", "p-t1-a")):
            assert lab.run_in(node, ["cat", f"/sys/class/net/{dev}/threaded"]).stdout.strip() == "0"
        rps = lab.run_in("seg", ["sh", "-c", "cat /sys/class/net/p-t1-a/queues/rx-*/rps_cpus"]).stdout.split()
        assert rps and all(int(m, 16) == 0 for m in rps)
