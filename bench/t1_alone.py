"""Tier 1 alone on CPU 1: the packet rate of T1's own work, as on a NIC-fed node.

Used by `bench_datapath.py --isolate` (see its docstring for the figures it prints). On the plain
namespace lab the sender, both bridge passes, T1 and T2 run in one softirq on the sender's CPU
(veth delivers in the sender's context), so every path's rate is 1/(the whole chain). Here:

* the sender (trafgen, pinned to CPU 0 at real-time priority 1) sends from the segment's
  namespace straight out of T1's switch port `p-t1-a`, so the frames reach T1's uplink without a
  bridge pass on the way in. A VXLAN port on the bridge (never up) makes every port reserve 64
  bytes of headroom, as a NIC's receive buffers have (trafgen's skbs would have 16, and every
  encapsulation would reallocate the head first). A preload raises trafgen's socket buffer:
  frames now wait in T1's ring on the other CPU while still charged to the sender's socket, and
  past 212 KB (net.core.wmem_* are read-only in a namespace) trafgen's flush fails and it exits;
* T1's uplink runs NAPI (its XDP program in XDP mode, GRO otherwise: veth then queues arriving
  skbs in a ring and polls them as a NIC driver polls its RX ring) in a NAPI *thread* pinned to
  CPU 1 (`/sys/class/net/eth0/threaded`), real-time priority 2 (softirq on a NIC is not delayed by
  tasks either): everything T1 does, from the poll to handing the frame to the next hop, runs in
  that thread and nowhere else;
* the far end of T1's uplink (`p-t1-a`) counts and drops what T1 sent towards T2, on CPU 0:
  frames T1 sends as skbs are handed there by RPS and counted by an nft netdev-ingress rule;
  with T1 in XDP mode its XDP_TX needs NAPI on the far end, so an XDP program counts there, in
  a NAPI thread pinned to CPU 0. Counting at the switch port, not at T2, because the bridge and
  T2 on CPU 0 would otherwise cost more than T1 and set the rate again. Only frames a correct T1
  sends are counted: IPv4/UDP to the T2 node's address and to the VXLAN port (tc, XDP) or the
  service port (routing, DNAT); that they also reach T2 correctly is what
  tests/e2e/test_datapath_e2e.py checks, in both modes.

The sender offers more than T1 carries; what T1 cannot take is dropped at its ring (the
sender's `tx_dropped`, or `xdp_xmit_errors` with `--feed frames`). While T1's thread keeps CPU 1
busy the delivered rate is T1's packet rate, and the thread's CPU time (schedstat, exact) divided
by the frames counted is T1's CPU cost per packet (steadier than the rate under shared load).
Where the work ran is measured per window, not assumed: per-CPU time from /proc/stat, NET_RX
softirqs per CPU from /proc/softirqs, and the NAPI threads' own CPU time.

`--feed frames` instead hands T1 XDP frames, as a NIC's ring holds pages: trafgen sends into a
veth pair whose far side redirects every frame into `p-t1-a` with XDP (the copy into a page is
done on CPU 0, which then limits the rate below what T1 carries).

`--feed live` hands T1 XDP frames made in the kernel, with no per-packet copy and no skb
(bench/live_feed.py): BPF_PROG_TEST_RUN with live frames, on CPU 0 at real-time priority 1,
runs a generator program on page-pool pages and redirects each frame into `p-t1-a`, whose veth
puts it into T1's ring as an xdp_frame, as a NIC's RX ring holds pages: T1's XDP program runs on
it as it is, and without one veth builds an skb around the page, as a NIC driver does. The
generator rewrites the whole frame on every run (a recycled page comes back with what T1 wrote
into it) and counts its runs and the pages that came back rewritten; what did not fit into T1's
ring is veth's `xdp_xmit_errors`, so per window generated = taken into T1's ring + dropped there.

Everything changed lives on the lab's own devices and namespaces (NAPI threading, GRO, TSO, RPS,
XDP programs, the added devices) and goes with them; threading, RPS, the far end's program and
counter are still undone explicitly at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import live_feed  # bench/ (on the path of whoever imports this module)

COUNTER_C = r"""
/* far end of T1's uplink: count and drop what T1 sent to the T2 node, pass everything else */
typedef unsigned int u32; typedef unsigned short u16; typedef unsigned char u8; typedef unsigned long long u64;
struct xdp_md { u32 data, data_end; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
struct { int (*type)[6]; int (*max_entries)[1]; u32 *key; u64 *value; } cnt __attribute__((section(".maps"), used));
__attribute__((section("xdp.frags"), used)) int far_end(struct xdp_md *ctx)
{
	u8 *d = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (d + 14 + 20 + 4 > end || d[12] != 0x08 || d[13] != 0 || d[14] != 0x45 || d[23] != 17)
		return 2;
	if (*(u32 *)(d + 30) != T2_ADDR)
		return 2;
	u16 dport = *(u16 *)(d + 36);
	if (dport != __builtin_bswap16(4789) && dport != __builtin_bswap16(SVC_PORT))
		return 2;
	u32 k = 0;
	u64 *v = bpf_map_lookup_elem(&cnt, &k);
	if (v)
		*v += 1;
	return 1;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
"""


# The sender's socket holds every frame it sent until the frame is freed, and frames now wait in
# T1's ring on another CPU: past the socket's send buffer (212 KB; net.core.wmem_* cannot be
# raised inside a namespace) trafgen's flush fails with EAGAIN and it exits. This preload raises
# that one socket's buffer when trafgen sets up its TX ring.
SNDBUF_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);
	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	if (level == SOL_PACKET && name == PACKET_TX_RING) {
		int size = 64 << 20;
		real(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	}
	return real(fd, level, name, val, len);
}
"""


def _napi_threads(dev: str) -> dict[int, str]:
    """NAPI kthreads named for `dev` (napi/<dev>-<napi id>), pid -> name."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            name = Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            continue
        if name.startswith(f"napi/{dev}-"):
            out[int(p)] = name
    return out


def _thread_ns(pid: int) -> int:
    """CPU time a thread has run, in ns (schedstat: exact, not sampled per tick; 0 once gone)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except OSError:
        return 0


def _cpu_stat() -> dict[int, list[int]]:
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            f = line.split()
            out[int(f[0][3:])] = [int(x) for x in f[1:9]]
    return out


def _net_rx() -> list[int]:
    for line in Path("/proc/softirqs").read_text().splitlines():
        if line.strip().startswith("NET_RX:"):
            return [int(x) for x in line.split()[1:]]
    return []


def _nft_counter(t2_ip: str, port: int) -> dict:
    """The far end's counter for frames T1 sends as skbs (the XDP program's twin): IPv4/UDP to
    the T2 node's address and to the VXLAN or the service port, counted and dropped."""
    t = {"family": "netdev", "table": "farend"}
    return {"nftables": [
        {"add": {"table": {"family": "netdev", "name": "farend"}}},
        {"add": {"chain": {**t, "name": "in", "type": "filter", "hook": "ingress", "dev": "p-t1-a", "prio": -500,
                           "policy": "accept"}}},
        {"add": {"counter": {**t, "name": "got"}}},
        {"add": {"rule": {**t, "chain": "in", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": t2_ip}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                       "right": {"set": [4789, port]}}},
            {"counter": "got"}, {"drop": None}]}}}]}


WIRE_C = r"""
/* the feed: every frame trafgen sends into gen0 is redirected, as an XDP frame, into T1's uplink */
static long (*bpf_redirect)(unsigned ifindex, unsigned long long flags) = (void *)23;
__attribute__((section("xdp.frags"), used)) int wire(void *ctx) { return bpf_redirect(TO_IFINDEX, 0); }
char _license[] __attribute__((section("license"), used)) = "GPL";
"""


class Alone:
    """The isolation set-up on a built Lab (bench_datapath.forwarding builds and tears it down)."""

    T1_CPU, LAB_CPU = 1, 0

    def __init__(self, lab, t2_ip: str, port: int, feed: str = "skbs"):
        if os.cpu_count() is None or os.cpu_count() < 2:
            raise RuntimeError("--isolate needs 2 CPUs")
        self.lab = lab
        self.t1_threads: dict[int, str] = {}
        self.far_threads: dict[int, str] = {}
        obj = lab.workdir / "far_end.o"
        src = lab.workdir / "far_end.c"
        a, b, c, d = (int(x) for x in t2_ip.split("."))
        src.write_text(COUNTER_C)
        subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-DT2_ADDR={a | b << 8 | c << 16 | d << 24}u",
                        f"-DSVC_PORT={port}", "-c", str(src), "-o", str(obj)], check=True, capture_output=True)
        self.pin = lab.mount_bpffs() / "far_end"
        lab.run_in("seg", ["bpftool", "prog", "load", str(obj), str(self.pin),
                           "pinmaps", str(lab.bpf_root / "far_end_maps")])
        # the sender's frames reach T1 through NAPI (veth queues an skb in the ring only if the
        # sending side has no TSO; T1's XDP program turns it off itself, GRO does not)
        lab.run_in("seg", ["ethtool", "-K", "p-t1-a", "tso", "off"])
        self._far_xdp = False
        self._rps("seg", "p-t1-a", 1 << self.LAB_CPU)
        lab.run_in("seg", ["nft", "-j", "-f", "-"], input=json.dumps(_nft_counter(t2_ip, port)))
        self.feed, self.dev = feed, "p-t1-a"
        self._gens: dict = {}  # live feed: live_feed.Frame -> (program pin, its map's pin)
        self.gen_map: str | None = None  # the running generator's counters
        if feed == "live":  # frames are made in the kernel with 256 bytes of headroom: nothing to add
            self.ifindex = int(lab.run_in("seg", ["cat", "/sys/class/net/p-t1-a/ifindex"]).stdout)
        elif feed == "frames":  # trafgen -> gen0 => gen1 (XDP: copy to a page, redirect) => T1's ring
            lab.run_in("seg", ["ip", "link", "add", "gen0", "mtu", "1500", "type", "veth", "peer", "name", "gen1",
                               "mtu", "1500"])
            for dev in ("gen0", "gen1"):
                lab.run_in("seg", ["ip", "link", "set", dev, "up"])
            ifindex = int(lab.run_in("seg", ["cat", "/sys/class/net/p-t1-a/ifindex"]).stdout)
            (lab.workdir / "wire.c").write_text(WIRE_C)
            subprocess.run(["clang", "-O2", "-target", "bpf", f"-DTO_IFINDEX={ifindex}", "-c",
                            str(lab.workdir / "wire.c"), "-o", str(lab.workdir / "wire.o")], check=True,
                           capture_output=True)
            lab.run_in("seg", ["ip", "link", "set", "dev", "gen1", "xdpdrv", "obj", str(lab.workdir / "wire.o"),
                               "sec", "xdp.frags"])
            self.dev = "gen0"
        else:
            # a NIC's receive buffers leave NET_SKB_PAD (64 bytes) or more in front of a frame;
            # trafgen's skbs on a veth leave 16, so every encapsulation would reallocate the
            # head first. A VXLAN port on the segment's bridge (never up, never used) makes the
            # bridge ask every port for its headroom (64 bytes), which veth passes to its peer
            # and the packet socket reserves.
            lab.run_in("seg", ["ip", "link", "add", "hr0", "type", "vxlan", "id", "4242", "dstport", "4790",
                               "local", "127.0.0.1"])
            lab.run_in("seg", ["ip", "link", "set", "hr0", "master", "br0"])
        shim_c, self.shim = lab.workdir / "sndbuf.c", lab.workdir / "sndbuf.so"
        shim_c.write_text(SNDBUF_C)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(self.shim), str(shim_c), "-ldl"], check=True,
                       capture_output=True)

    def generator(self, frame, rewrite: bool = True) -> str:
        """The live feed's generator program for `frame` (a live_feed.Frame), built and pinned
        once per template; its counters become the ones snapshots read (rewrite: see
        live_feed.source)."""
        if (frame, rewrite) not in self._gens:
            name = f"live_gen{len(self._gens)}"
            obj = live_feed.build(frame, self.ifindex, self.lab.workdir, name, rewrite)
            pin, maps = self.lab.bpf_root / name, self.lab.bpf_root / f"{name}_maps"
            self.lab.run_in("seg", ["bpftool", "prog", "load", str(obj), str(pin), "type", "xdp", "pinmaps", str(maps)])
            self._gens[frame, rewrite] = (str(pin), str(maps / "gen"))
        pin, self.gen_map = self._gens[frame, rewrite]
        return pin

    def generated(self) -> dict[str, int]:
        """The live generator's runs and the pages it found rewritten (0s before it ran)."""
        if self.gen_map is None:
            return {"generated": 0, "dirty": 0}
        return live_feed.counts(json.loads(self.lab.run_in("seg", ["bpftool", "-j", "map", "dump", "pinned",
                                                                    self.gen_map]).stdout))

    # -- NAPI threads ------------------------------------------------------------------------
    def _thread_on(self, node: str, dev: str, cpu: int, fifo: bool = False) -> dict[int, str]:
        """Switch `dev`'s NAPI to threaded mode and pin the threads it starts to `cpu`. The
        threads are told apart from other devices' of the same name by appearing on the switch."""
        path = f"/sys/class/net/{dev}/threaded"
        self.lab.run_in(node, ["sh", "-c", f"echo 0 > {path}"])
        before = _napi_threads(dev)
        self.lab.run_in(node, ["sh", "-c", f"echo 1 > {path}"])
        deadline = time.monotonic() + 2
        new: dict[int, str] = {}
        while not new and time.monotonic() < deadline:
            new = {p: n for p, n in _napi_threads(dev).items() if p not in before}
            if not new:
                time.sleep(0.02)
        if not new:
            raise RuntimeError(f"{node}/{dev}: no NAPI thread appeared (no NAPI on the device?)")
        for pid in new:
            os.sched_setaffinity(pid, {cpu})
            if fifo:  # runs whenever it has work, as softirq would (else trafgen starves it)
                os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(2))
        return new

    def _rps(self, node: str, dev: str, mask: int) -> None:
        self.lab.run_in(node, ["sh", "-c", f"for q in /sys/class/net/{dev}/queues/rx-*; do echo {mask:x} > $q/rps_cpus; done"])

    def t1_mode(self, xdp: bool) -> None:
        """After T1's datapath changed: its uplink polled by a NAPI thread on CPU 1 (GRO gives
        veth NAPI without an XDP program). The far end: with T1 in XDP mode its XDP_TX needs NAPI
        there, so the XDP counter runs in a NAPI thread on CPU 0; otherwise frames T1 sends arrive
        as skbs, which RPS hands to CPU 0, where the nft counter counts them (an XDP program on
        an skb would cost a copy of each, on the lab's CPU)."""
        self.lab.run_in("t1-a", ["ethtool", "-K", "eth0", "gro", "off" if xdp else "on"])
        if xdp and not self._far_xdp:
            self.lab.run_in("seg", ["ip", "link", "set", "dev", "p-t1-a", "xdpdrv", "pinned", str(self.pin)])
            self.far_threads = self._thread_on("seg", "p-t1-a", self.LAB_CPU, fifo=True)
        elif not xdp and self._far_xdp:
            self.lab.run_in("seg", ["ip", "link", "set", "dev", "p-t1-a", "xdpdrv", "off"])
            self.far_threads = {}
        self._far_xdp = xdp
        # SCHED_FIFO as well: NAPI on a NIC runs in softirq, which no task on that CPU delays
        self.t1_threads = self._thread_on("t1-a", "eth0", self.T1_CPU, fifo=True)

    def restore(self) -> None:
        for node, dev in (("t1-a", "eth0"), ("seg", "p-t1-a")):
            self.lab.run_in(node, ["sh", "-c", f"echo 0 > /sys/class/net/{dev}/threaded"], check=False)
        self.lab.run_in("seg", ["ip", "link", "set", "dev", "p-t1-a", "xdpdrv", "off"], check=False)
        self.lab.run_in("seg", ["sh", "-c", "for q in /sys/class/net/p-t1-a/queues/rx-*; do echo 0 > $q/rps_cpus; done"],
                        check=False)
        self.lab.run_in("seg", ["nft", "-j", "-f", "-"], check=False, input=json.dumps(
            {"nftables": [{"delete": {"table": {"family": "netdev", "name": "farend"}}}]}))

    # -- counters ------------------------------------------------------------------------------
    def counted(self) -> int:
        nft = json.loads(self.lab.run_in("seg", ["nft", "-j", "list", "counter", "netdev", "farend", "got"]).stdout)
        skbs = sum(int(i["counter"]["packets"]) for i in nft["nftables"] if "counter" in i)
        out = json.loads(self.lab.run_in("seg", ["bpftool", "-j", "map", "dump", "pinned",
                                                 str(self.lab.bpf_root / "far_end_maps" / "cnt")]).stdout)
        # with BTF bpftool prints each CPU's value decoded under "formatted"
        return skbs + sum(int(v["value"]) for e in out for v in e["formatted"]["values"])

    def _link_stats(self) -> dict[str, int]:
        def stat(node: str, dev: str, name: str) -> int:
            return int(self.lab.run_in(node, ["cat", f"/sys/class/net/{dev}/statistics/{name}"]).stdout)

        if self.feed in ("frames", "live"):  # what was redirected into T1's ring, and what did not fit
            xdp = self._veth_stats("seg", "p-t1-a")
            # veth counts the frames it put into the peer's ring (xdp_xmit) and those it could not
            # (xdp_xmit_errors) apart, per queue of the peer
            sent = sum(v for k, v in xdp.items() if k.startswith("tx_queue_") and k.endswith("_xdp_xmit"))
            drop = sum(v for k, v in xdp.items() if k.startswith("tx_queue_") and k.endswith("_xdp_xmit_errors"))
            return {"sent": sent, "ring_drop": drop, "t1_tx_drop": stat("t1-a", "eth0", "tx_dropped"),
                    **self.generated()}
        return {"sent": stat("seg", "p-t1-a", "tx_packets"), "ring_drop": stat("seg", "p-t1-a", "tx_dropped"),
                "t1_tx_drop": stat("t1-a", "eth0", "tx_dropped"), "generated": 0, "dirty": 0}

    def _veth_stats(self, node: str, dev: str) -> dict[str, int]:
        """veth's per-queue XDP counters (ethtool -S; ethtool has no JSON for these here)."""
        out = {}
        for line in self.lab.run_in(node, ["ethtool", "-S", dev]).stdout.splitlines()[1:]:
            key, _, value = line.strip().partition(":")
            if value.strip().isdigit():
                out[key.strip()] = int(value)
        return out

    def snapshot(self) -> dict:
        """Counters with the time each was read at (reads through `ip netns exec` take ~20 ms
        each, so every rate is taken over its own counter's interval)."""
        t0 = time.monotonic()
        links = self._link_stats()
        t1 = time.monotonic()
        got = self.counted()
        t2 = time.monotonic()
        return {"t": t2, "t_links": (t0 + t1) / 2, "t_got": (t1 + t2) / 2, "cpu": _cpu_stat(), "net_rx": _net_rx(),
                "got": got, "t1": sum(_thread_ns(p) for p in self.t1_threads),
                "far": sum(_thread_ns(p) for p in self.far_threads), **links}

    def counters(self) -> dict[str, int]:
        """Counters at rest (between senders' runs; with the live feed, of the generator last
        built by `generator`)."""
        return {**self._link_stats(), "got": self.counted()}

    def account(self, before: dict[str, int], settle: float = 3.0) -> dict[str, int]:
        """Where every frame of a sender's run went, from `before` it started to after it stopped
        (counters at rest, so exact): generated (live feed) = taken into T1's ring + dropped there
        (`gen_lost`: the difference), taken = counted at the far end + T1's transmit drops
        (`t1_lost`: the difference, e.g. T1 dropping or sending elsewhere). Waits (bounded) for T1
        and the far end to finish what is still queued: until the books balance or two reads
        agree."""
        deadline, last = time.monotonic() + settle, None
        while True:
            now = self.counters()
            d = {k: now[k] - before[k] for k in now}
            if d["sent"] - d["got"] - d["t1_tx_drop"] <= 0 or now == last or time.monotonic() > deadline:
                break
            last = now
            time.sleep(0.1)
        d["gen_lost"] = d["generated"] - d["sent"] - d["ring_drop"] if self.feed == "live" else 0
        d["t1_lost"] = d["sent"] - d["got"] - d["t1_tx_drop"]
        return d

    @staticmethod
    def window(a: dict, b: dict) -> dict:
        """Rates and where the CPU time went between two snapshots."""
        dt, dl, dg = b["t"] - a["t"], b["t_links"] - a["t_links"], b["t_got"] - a["t_got"]
        got = b["got"] - a["got"]
        out = {"pps": got / dg, "offered": (b["sent"] - a["sent"] + b["ring_drop"] - a["ring_drop"]) / dl,
               "ring_drop": (b["ring_drop"] - a["ring_drop"]) / dl, "t1_tx_drop": (b["t1_tx_drop"] - a["t1_tx_drop"]) / dl,
               "t1_thread": (b["t1"] - a["t1"]) / 1e9 / dt, "far_thread": (b["far"] - a["far"]) / 1e9 / dt,
               "net_rx": [y - x for x, y in zip(a["net_rx"], b["net_rx"])],
               # live feed: the generator's runs, and the pages among them that came back rewritten
               "generated": (b["generated"] - a["generated"]) / dl, "dirty": (b["dirty"] - a["dirty"]) / dl}
        # T1's CPU time per frame it forwarded (thread time over the window of the snapshots)
        out["t1_ns"] = (b["t1"] - a["t1"]) / (got * dt / dg) if got else float("nan")
        for cpu in a["cpu"]:
            d = [y - x for x, y in zip(a["cpu"][cpu], b["cpu"][cpu])]
            total = sum(d) or 1
            out[f"cpu{cpu}_busy"] = 1 - (d[3] + d[4]) / total  # idle + iowait
            out[f"cpu{cpu}_softirq"] = d[6] / total
        return out


def live_argv(alone: Alone, frame, count: int = 0, rewrite: bool = True) -> list[str]:
    """The live feed's generator on CPU 0 at real-time priority 1, in the segment's namespace
    (where it resolves `p-t1-a`), `count` runs (0: until stopped)."""
    return ["chrt", "-f", "1", "taskset", "-c", str(Alone.LAB_CPU), sys.executable,
            str(Path(__file__).resolve().parent / "live_feed.py"), alone.generator(frame, rewrite), frame.data.hex(),
            "--count", str(count)]


def rate(alone: Alone, lab, packet, seconds: float, warmup: float = 0.5, perf: Path | None = None) -> dict:
    """One window: the sender on CPU 0 sends `packet` out of T1's switch port as fast as it can,
    at real-time priority 1 (other jobs on the shared machine do not slow it; the NAPI threads
    run at 2, so the far end's is not starved by it): trafgen (a trafgen config), or with the
    live feed the generator (a live_feed.Frame)."""
    from lbcli.lab.trafgen import _stop

    if alone.feed == "live":
        argv, what = live_argv(alone, packet), "the live generator"
    else:
        cfg = lab.workdir / "trafgen-alone.cfg"
        cfg.write_text(packet)
        argv = ["env", f"LD_PRELOAD={alone.shim}", "chrt", "-f", "1", "taskset", "-c", str(Alone.LAB_CPU), "trafgen",
                "-o", alone.dev, "-i", str(cfg), "-P", "1", "--no-sock-mem", "-Q", "-C"]
        what = "trafgen"
    before = alone.counters()
    proc = lab.popen("seg", argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
        rec = None
        if perf is not None:  # CPU 1 only: T1's work (and whatever else the shared machine runs there)
            rec = subprocess.Popen(["perf", "record", "-q", "-C", str(Alone.T1_CPU), "-g", "-o", str(perf), "--",
                                    "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        a = alone.snapshot()
        time.sleep(seconds)
        b = alone.snapshot()
        if rec is not None:
            rec.wait(timeout=60)
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
    finally:
        _stop(proc)
    out = Alone.window(a, b)
    out["account"] = alone.account(before)
    return out
