"""Run the loaded tier-1 program on crafted packets with BPF_PROG_TEST_RUN (no traffic needed).

Used by bench/bench_bpf_run.py (ns per packet) and by the tests that check what the program
does to a packet (verdict, rewritten or encapsulated bytes, flow entry). The program is the one
pinned by the datapath reconciler under `<bpf-root>/<node>/prog_*`, with the maps it filled.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT = 0, 2, 7
XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3


def ip_checksum(hdr: bytes) -> int:
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packet(src: str, dst: str, sport: int, dport: int, proto: str = "UDP", size: int = 64,
           dst_mac: bytes = b"\x02\x00\x00\x00\x00\x01", src_mac: bytes = b"\x02\x00\x00\x00\x00\x02") -> bytes:
    """An Ethernet frame of `size` bytes (>= 54) carrying IPv4 + a UDP datagram or TCP SYN."""
    if proto == "TCP":
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
        pnum = 6
    else:
        l4 = struct.pack("!HHHH", sport, dport, 0, 0)
        pnum = 17
    payload = bytes(max(0, size - 14 - 20 - len(l4)))
    if pnum == 17:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    total = 20 + len(l4) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0x4000, 64, pnum, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + l4 + payload


def program_fd(pin_dir: Path, prefix: str = "prog_") -> int:
    """An fd of the program pinned in `pin_dir` (the newest `prog_*` pin); caller closes it."""
    from lbcli.agent.datapath import libbpf as bpf

    pins = sorted(p for p in Path(pin_dir).glob(f"{prefix}*"))
    if not pins:
        raise FileNotFoundError(f"no program pinned under {pin_dir}")
    return bpf.obj_get(str(pins[-1]))


def run(fd: int, pkt: bytes, repeat: int = 1) -> tuple[int, bytes, int]:
    """(verdict, packet as the program left it, mean ns per run) for `repeat` runs."""
    from lbcli.agent.datapath import libbpf as bpf

    return bpf.prog_test_run(fd, pkt, repeat)


def close(fd: int) -> None:
    os.close(fd)
