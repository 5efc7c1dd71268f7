"""A NIC-like feed for the tier-1-alone bench (`--feed live`): XDP frames made in the kernel.

BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (Linux >= 5.18, net/bpf/test_run.c) runs an
XDP program `repeat` times, each time on a frame in a page of a page pool of its own, and carries
out what the program returns: XDP_REDIRECT transmits the frame. The generator program here
redirects every frame into T1's switch port, whose veth puts it into T1's receive ring as an
xdp_frame, as a NIC's RX ring holds page-pool pages: T1's XDP program runs on it directly, and
without one veth builds an skb around the page (as a NIC driver does). Nothing is copied per
packet, and the syscall runs on the calling CPU (pinned to CPU 0 by the bench).

Why a program of our own, not xdp-trafgen's: test_run.c writes the template packet into a page
once, when the page pool allocates the page (xdp_test_run_init_page); a recycled page is reused
as it comes back, and reset_ctx() only restores the frame's pointers. Pages come back from T1's
path (freed at the far end, XDP_DROP or the skb freed after RPS) with whatever T1 wrote into them:
routing writes T1's and the next hop's MAC addresses and decrements the TTL, DNAT also rewrites
the destination and both checksums; T1 drops such a frame (not addressed to it), so without a
rewrite nearly all frames after the first few hundred would go missing.
So the program rewrites the whole 60-byte frame on every run (Ethernet, IPv4 with TTL and
checksum, UDP ports and checksum, the padding), and counts the runs in which the page held
something other than the template (`dirty`: pages that came back rewritten), next to the runs
(`generated`), in a per-CPU map.

Flows: the UDP source port's low byte is the run number modulo `flows` (256 flows by default,
the same as the trafgen frames of lbcli.lab.trafgen.frame, which pick it at random).

    python bench/live_feed.py PROG_PIN FRAME_HEX [--count N] [--batch 256]

runs the pinned program (in the namespace whose device it redirects to) until N runs are done
(0: until SIGINT/SIGTERM) and prints {"runs": n}.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FRAME_LEN = 60  # 64 on a wire with the FCS
SPORT_LO, UDP_CSUM = 35, 40  # offsets of the bytes the program varies per run

GEN_C = r"""
/* live-frame generator: rewrite the whole frame, vary the flow, redirect into T1's ring */
typedef unsigned int u32; typedef unsigned short u16; typedef unsigned char u8; typedef unsigned long long u64;
struct xdp_md { u32 data, data_end; };
struct gen_count { u64 generated, dirty; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_redirect)(u32 ifindex, u64 flags) = (void *)23;
struct { int (*type)[6]; int (*max_entries)[1]; u32 *key; struct gen_count *value; } gen __attribute__((section(".maps"), used));
__attribute__((section("xdp"), used)) int live_gen(struct xdp_md *ctx)
{
	u8 *d = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	u32 k = 0;
	struct gen_count *c = bpf_map_lookup_elem(&gen, &k);
	if (!c || d + 60 > end)
		return 0; /* XDP_ABORTED */
	u64 *w = (u64 *)d;
	u32 *t = (u32 *)(d + 56);
	/* the page as it came: the template, but for the bytes varied per run? */
	if ((w[0] ^ W0) | (w[1] ^ W1) | (w[2] ^ W2) | (w[3] ^ W3) | ((w[4] ^ W4) & M4) | ((w[5] ^ W5) & M5)
	    | (w[6] ^ W6) | (*t ^ T7))
		c->dirty += 1;
#if REWRITE
	w[0] = W0; w[1] = W1; w[2] = W2; w[3] = W3; w[4] = W4; w[5] = W5; w[6] = W6; *t = T7;
#endif
	u32 f = c->generated % FLOWS;
	c->generated += 1;
	d[35] = f;  /* the source port's low byte */
	u32 sum = CSUM_BASE + f;  /* one's complement sum of the UDP checksum's words, that byte 0 */
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	u16 csum = ~sum & 0xffff;
	if (!csum)
		csum = 0xffff;
	d[40] = csum >> 8;
	d[41] = csum & 0xff;
	return bpf_redirect(TO_IFINDEX, 0);
}
char _license[] __attribute__((section("license"), used)) = "GPL";
"""


@dataclass(frozen=True)
class Frame:
    """A 64-byte Ethernet/IPv4/UDP frame for the generator: `data` with the source port's low
    byte 0 and no UDP checksum (the program writes both per run), `flows` distinct source ports."""

    data: bytes
    flows: int = 256


def _sum16(raw: bytes) -> int:
    return sum(struct.unpack(f"!{len(raw) // 2}H", raw))


def _ip_csum(hdr: bytes) -> int:
    s = _sum16(hdr)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(dst_mac: str, src_mac: str, src_ip: str, dst_ip: str, dport: int, flows: int = 256,
          sport_hi: int = 0x9C, ttl: int = 64) -> Frame:
    """The frame lbcli.lab.trafgen.frame describes to trafgen (same fields, same sizes)."""
    if not 1 <= flows <= 256:
        raise ValueError("flows: 1..256")
    mac = lambda m: bytes.fromhex(m.replace(":", ""))  # noqa: E731
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 46, 1, 0x4000, ttl, 17, 0, socket.inet_aton(src_ip),
                               socket.inet_aton(dst_ip)))
    ip[10:12] = struct.pack("!H", _ip_csum(bytes(ip)))
    udp = struct.pack("!BBHHH", sport_hi, 0, dport, 26, 0) + bytes(18)
    data = mac(dst_mac) + mac(src_mac) + b"\x08\x00" + bytes(ip) + udp
    assert len(data) == FRAME_LEN
    return Frame(data, flows)


def csum_base(f: Frame) -> int:
    """One's complement sum (not folded, not inverted) over the UDP checksum's input with the
    source port's low byte 0: the pseudo header, the UDP header, the payload."""
    ip, udp = f.data[14:34], f.data[34:]
    return _sum16(ip[12:20] + struct.pack("!HH", 17, len(udp))) + _sum16(udp)


def source(f: Frame, to_ifindex: int, rewrite: bool = True) -> str:
    """GEN_C with the frame's words (host order, as the program stores them) filled in.
    rewrite=False leaves the page as it came but for the flow and the UDP checksum (as
    xdp-trafgen's programs do): only to show what a recycled page brings back."""
    words = [int.from_bytes(f.data[i:i + 8], sys.byteorder) for i in range(0, 56, 8)]
    varied = bytearray(b"\xff" * FRAME_LEN)
    for off in (SPORT_LO, UDP_CSUM, UDP_CSUM + 1):
        varied[off] = 0
    masks = [int.from_bytes(varied[i:i + 8], sys.byteorder) for i in range(0, 56, 8)]
    defs = {f"W{i}": f"{w:#x}ull" for i, w in enumerate(words)}
    defs.update(M4=f"{masks[4]:#x}ull", M5=f"{masks[5]:#x}ull",
                T7=f"{int.from_bytes(f.data[56:60], sys.byteorder):#x}u", FLOWS=f"{f.flows}u",
                CSUM_BASE=f"{csum_base(f)}u", TO_IFINDEX=f"{to_ifindex}u", REWRITE=str(int(rewrite)))
    return "".join(f"#define {k} {v}\n" for k, v in defs.items()) + GEN_C


def build(f: Frame, to_ifindex: int, workdir: Path, name: str, rewrite: bool = True) -> Path:
    """Compile the generator for `f` into workdir/name.o."""
    src, obj = workdir / f"{name}.c", workdir / f"{name}.o"
    src.write_text(source(f, to_ifindex, rewrite))
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-c", str(src), "-o", str(obj)], check=True,
                   capture_output=True)
    return obj


def counts(dump: list) -> dict[str, int]:
    """`bpftool -j map dump` of the generator's map -> {"generated": n, "dirty": n} over all CPUs."""
    out = {"generated": 0, "dirty": 0}
    for entry in dump:
        for v in entry["formatted"]["values"]:
            for key in out:
                out[key] += int(v["value"][key])
    return out


# -- the runner: the project's libbpf binding (lbcli.agent.datapath.libbpf) ---------------------
CHUNK = 1 << 20  # runs per syscall when running until stopped (a new page pool each)


def prog_fd(pin: str) -> int:
    from lbcli.agent.datapath import libbpf

    return libbpf.obj_get(pin)


def run(fd: int, data: bytes, repeat: int, batch: int) -> None:
    """One live-frames test run: `repeat` runs of the program, `batch` frames per page-pool batch."""
    from lbcli.agent.datapath import libbpf

    libbpf.xdp_live_frames(fd, data, repeat, batch)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("pin", help="the generator program, pinned in a bpffs")
    ap.add_argument("frame", help="the template frame, hex (its length is the frames' length)")
    ap.add_argument("--count", type=int, default=0, help="runs in all (0: until stopped)")
    ap.add_argument("--batch", type=int, default=256, help="frames per batch (the page pool's size), 1..256")
    args = ap.parse_args(argv)
    try:
        data = bytes.fromhex(args.frame)
        fd = prog_fd(args.pin)
    except (ValueError, OSError) as exc:
        print(f"live_feed: {exc}", file=sys.stderr)
        return 2
    done = 0
    try:
        while args.count == 0 or done < args.count:
            n = CHUNK if args.count == 0 else min(CHUNK, args.count - done)
            run(fd, data, n, args.batch)
            done += n
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if exc.errno != 4:  # EINTR: stopped by a signal (the runs of that call are not known)
            print(f"live_feed: {exc}", file=sys.stderr)
            return 1
    print(json.dumps({"runs": done}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
