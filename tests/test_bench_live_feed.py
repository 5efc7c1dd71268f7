"""bench/live_feed.py without a kernel: the template frame, the per-run UDP checksum the
generator program computes, the constants it is built with, and the runner's usage errors."""

from __future__ import annotations

import re
import socket
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import live_feed  # noqa: E402

MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _udp_csum(data: bytes) -> int:
    """The UDP checksum of an Ethernet/IPv4/UDP frame, from scratch (RFC 768)."""
    ip, udp = data[14:34], data[34:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    raw = pseudo + udp[:6] + b"\0\0" + udp[8:]
    c = ~_fold(sum(struct.unpack(f"!{len(raw) // 2}H", raw))) & 0xFFFF
    return c or 0xFFFF


def test_frame_is_the_trafgen_frame_with_a_valid_ip_header():
    f = live_feed.frame(*MACS, "10.0.0.1", "100.64.0.101", 9999, sport_hi=0x9B, ttl=7)
    d = f.data
    assert len(d) == 60 and f.flows == 256
    assert d[:12] == bytes.fromhex("020000000001020000000002") and d[12:14] == b"\x08\x00"
    ver, _, total, ident, frag, ttl, proto, _, src, dst = struct.unpack("!BBHHHBBH4s4s", d[14:34])
    assert (ver, total, ident, frag, ttl, proto) == (0x45, 46, 1, 0x4000, 7, 17)
    assert (socket.inet_ntoa(src), socket.inet_ntoa(dst)) == ("10.0.0.1", "100.64.0.101")
    assert _fold(sum(struct.unpack("!10H", d[14:34]))) == 0xFFFF  # header checksum verifies
    assert struct.unpack("!BBHHH", d[34:42]) == (0x9B, 0, 9999, 26, 0) and d[42:] == bytes(18)


@pytest.mark.parametrize("dst", ["100.64.0.101", "10.0.0.2", "255.255.255.254"])
def test_the_programs_udp_checksum_is_right_for_every_flow(dst):
    """The program's sum: csum_base + the source port's low byte, folded twice, inverted (0 -> ffff)."""
    f = live_feed.frame(*MACS, "192.168.255.1", dst, 65535, sport_hi=0xFF)
    for lo in range(256):
        s = live_feed.csum_base(f) + lo
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        c = ~s & 0xFFFF or 0xFFFF
        d = bytearray(f.data)
        d[live_feed.SPORT_LO] = lo
        assert c == _udp_csum(bytes(d)), lo


def test_source_holds_the_frame_and_masks_only_the_bytes_varied_per_run():
    f = live_feed.frame(*MACS, "10.0.0.1", "10.0.0.2", 80, flows=16)
    src = live_feed.source(f, 42, rewrite=False)
    defs = dict(re.findall(r"#define (\w+) (\S+)", src))
    num = lambda k: int(defs[k].rstrip("ul"), 0)  # noqa: E731
    words = b"".join(num(f"W{i}").to_bytes(8, sys.byteorder) for i in range(7)) + num("T7").to_bytes(4, sys.byteorder)
    assert words == f.data
    masks = num("M4").to_bytes(8, sys.byteorder) + num("M5").to_bytes(8, sys.byteorder)  # bytes 32..47
    assert [i + 32 for i, b in enumerate(masks) if b == 0] == [35, 40, 41]
    assert set(masks) == {0, 0xFF}
    assert (defs["TO_IFINDEX"], defs["FLOWS"], defs["REWRITE"]) == ("42u", "16u", "0")
    assert live_feed.source(f, 42).count("#define REWRITE 1") == 1


def test_frame_refuses_more_than_256_flows():
    with pytest.raises(ValueError, match="flows"):
        live_feed.frame(*MACS, "10.0.0.1", "10.0.0.2", 80, flows=257)


def test_runner_usage_errors_exit_2(tmp_path, capsys):
    assert live_feed.main([str(tmp_path / "pin"), "zz"]) == 2
    assert "live_feed:" in capsys.readouterr().err
    assert live_feed.main([str(tmp_path / "no-such-pin"), "00" * 60]) == 2
    err = capsys.readouterr().err
    assert "live_feed:" in err and "Traceback" not in err
