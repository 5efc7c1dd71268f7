"""The tier-1-alone bench lab (bench/t1_alone.py, `bench_datapath.py --isolate`): its far end
counts exactly what T1 forwarded to the T2 node, T1's work runs in its NAPI thread pinned to
CPU 1, and the settings it changed are undone."""

from __future__ import annotations

import contextlib
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


DNAT_NFT = lambda t2_ip: {"nftables": [  # noqa: E731  (the bench's DNAT path: VIP -> the T2 address)
    {"add": {"table": {"family": "ip", "name": "bench"}}},
    {"add": {"chain": {"family": "ip", "table": "bench", "name": "pre", "type": "nat", "hook": "prerouting",
                       "prio": -100, "policy": "accept"}}},
    {"add": {"rule": {"family": "ip", "table": "bench", "chain": "pre", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": VIP}},
        {"dnat": {"addr": t2_ip}}]}}}]}


def _live_lab(lab):
    """T1 alone on CPU 1, to be fed by the live generator (and the T2 node it sends to)."""
    from t1_alone import Alone

    t2 = lab.topology.node("t2-a")
    lab.sysctl("t1-a", "net.ipv4.ip_forward", "1")
    return Alone(lab, t2.ip, PORT, feed="live"), t2


def _live_setup(lab, alone, mode: str, t2_ip: str) -> None:
    lab.run_in("t1-a", ["ping", "-c", "1", "-W", "1", t2_ip])  # T1 knows T2's MAC
    if mode == "dnat":
        lab.run_in("t1-a", ["nft", "-j", "-f", "-"], input=json.dumps(DNAT_NFT(t2_ip)))
    elif mode in ("tc", "xdp"):
        plan = lab.workdir / "t1-a.json"
        plan.write_text(json.dumps(node_plans(lab.topology, [LabService("bench/udp", VIP, PORT, "UDP")],
                                              t2_names=["t2-a"])["t1-a"]))
        lab.run_in("t1-a", [sys.executable, "-m", "lbcli.lab.nodecmd", "apply", "--plan", str(plan), "--node",
                            "t1-a", "--state-dir", str(lab.state_dir("t1-a")), "--bpf-root", str(lab.bpf_root),
                            "--component", "datapath", "--datapath", mode], timeout=600)
    alone.t1_mode(xdp=mode == "xdp")


def _needs_live() -> None:
    for tool in ("clang", "bpftool", "cc", "chrt", "taskset"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 CPUs")


def _mac(lab, node: str, dev: str) -> str:
    return lab.run_in(node, ["cat", f"/sys/class/net/{dev}/address"]).stdout.strip()


@contextlib.contextmanager
def _live_t1(mode: str):
    """The lab with T1 alone in `mode`, fed live; threading and the far end undone after."""
    with Lab() as lab:
        lab.mount_bpffs()
        alone, t2 = _live_lab(lab)
        try:
            _live_setup(lab, alone, mode, t2.ip)
            yield lab, alone, t2
        finally:
            alone.restore()
        assert lab.run_in("t1-a", ["cat", "/sys/class/net/eth0/threaded"]).stdout.strip() == "0"


@pytest.mark.parametrize("mode", ["routing", "dnat", "tc", "xdp"])
def test_live_feed_every_generated_frame_is_accounted_for(mode):
    """The live feed (frames made in the kernel, redirected into T1's ring) at full rate: every
    run of the generator is a frame taken into T1's ring or dropped there, every frame taken is
    counted at the far end or dropped by T1's transmit, exactly; pages came back rewritten by
    T1's path and were recycled (so the generator's rewrite mattered); frames T1 forwards that
    are not the service's are not counted."""
    _needs_live()
    import live_feed
    from t1_alone import _thread_ns, live_argv

    n = 300_000
    with _live_t1(mode) as (lab, alone, t2):
        dst, src = _mac(lab, "t1-a", "eth0"), _mac(lab, "router", "eth0")
        frame = live_feed.frame(dst, src, lab.topology.client_ip, t2.ip if mode == "routing" else VIP, PORT)
        ran = sum(_thread_ns(p) for p in alone.t1_threads)
        argv = live_argv(alone, frame, n)  # (builds the generator: its counters from here on)
        before = alone.counters()
        out = lab.run_in("seg", argv, timeout=120)
        acc = alone.account(before)
        assert json.loads(out.stdout) == {"runs": n}
        assert acc["generated"] == n
        assert acc["sent"] + acc["ring_drop"] == n, acc  # every frame reached T1's ring or its drop count
        assert acc["sent"] > 0 and acc["got"] > 0, acc
        assert acc["got"] + acc["t1_tx_drop"] == acc["sent"], acc  # T1 forwarded what it took, all counted
        assert acc["dirty"] > 0, acc  # pages came back rewritten by T1's path and were used again
        assert sum(_thread_ns(p) for p in alone.t1_threads) > ran  # T1's thread did the work

        # routed by T1 to T2's address but to another port: not what the far end counts
        other = live_feed.frame(dst, src, lab.topology.client_ip, t2.ip, PORT - 1, sport_hi=0x77)
        argv = live_argv(alone, other, 20_000)
        before = alone.counters()
        lab.run_in("seg", argv, timeout=120)
        acc = alone.account(before, settle=0.5)
        assert acc["generated"] == 20_000 and acc["sent"] > 0, acc
        assert acc["got"] == 0, acc


def test_live_feed_without_the_rewrite_sends_what_t1_left_in_the_page():
    """Why the generator rewrites every frame: test_run writes the template into a page only
    when the page pool allocates it, and recycled pages come back as T1's path left them (routed:
    T1's and T2's MAC addresses, the TTL one lower). Without the rewrite T1 takes frames that are
    no longer addressed to it and drops them: frames go missing. With it, every frame taken is
    counted."""
    _needs_live()
    import live_feed
    from t1_alone import live_argv

    n = 300_000
    with _live_t1("routing") as (lab, alone, t2):
        frame = live_feed.frame(_mac(lab, "t1-a", "eth0"), _mac(lab, "router", "eth0"), lab.topology.client_ip,
                                t2.ip, PORT)
        got = {}
        for rewrite in (False, True):
            argv = live_argv(alone, frame, n, rewrite=rewrite)
            before = alone.counters()
            lab.run_in("seg", argv, timeout=120)
            got[rewrite] = alone.account(before)
            assert got[rewrite]["generated"] == n and got[rewrite]["gen_lost"] == 0, got[rewrite]
        assert got[False]["dirty"] > 0 and got[False]["t1_lost"] > 0, got[False]  # not for T1: dropped
        assert got[True]["t1_lost"] == 0 and got[True]["got"] == got[True]["sent"] > 0, got[True]
