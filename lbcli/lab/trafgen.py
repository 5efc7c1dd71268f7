"""Packet-rate measurement in a lab: trafgen (netsniff-ng) sends UDP frames, the receiver counts.

The receiver counts with an nftables counter on its uplink's ingress hook (netdev family) and
drops what it counted there, so the rate is what reached it, not what the sender claims, and
the receiver's own stack does not compete for the CPUs. Rules go in through `nft -j -f -`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

TABLE = "lbbench"


def frame(dst_mac: str, src_mac: str, src_ip: str, dst_ip: str, dport: int, flows: int = 256,
          sport_hi: int = 0x9C, proto: str = "udp") -> str:
    """A trafgen packet: 60-byte Ethernet/IPv4/UDP frame (64 on a wire with the FCS), source port
    `sport_hi`*256 + 0..`flows`-1 (<= 256 flows), IP and UDP checksums recomputed per packet.
    proto "tcp": a TCP SYN instead (same size)."""
    if not 1 <= flows <= 256:
        raise ValueError("flows: 1..256")
    if proto not in ("udp", "tcp"):
        raise ValueError("proto: udp or tcp")

    def hexes(raw: bytes) -> str:
        return ", ".join(f"0x{b:02x}" for b in raw)

    mac = lambda m: bytes.fromhex(m.replace(":", ""))  # noqa: E731
    sport_low = "drnd(1)" if flows == 256 else f"dinc(0, {flows - 1}, 1)"
    if proto == "tcp":  # SYN, seq 1, window 65535, 6 bytes of Ethernet padding after it
        l4 = [f"0x{sport_hi:02x}, {sport_low}, c16({dport}), c32(1), c32(0), 0x50, 0x02, c16(65535)",
              "csumtcp(14, 34), c16(0)", "fill(0x00, 6)"]
        ip_len, ip_proto = 40, 6
    else:
        l4 = [f"0x{sport_hi:02x}, {sport_low}, c16({dport}), c16(26), csumudp(14, 34)", "fill(0x00, 18)"]
        ip_len, ip_proto = 46, 17
    return ("{ " + ", ".join([
        hexes(mac(dst_mac)), hexes(mac(src_mac)), "c16(0x0800)",
        f"0x45, 0x00, c16({ip_len}), c16(1), c16(0x4000), 64, {ip_proto}, csumip(14, 33)",
        hexes(socket.inet_aton(src_ip)), hexes(socket.inet_aton(dst_ip)),
        *l4,
    ]) + " }\n")


def counter_setup(lab, node: str, dev: str, outer_port: int, dport: int) -> None:
    """Count-and-drop on `node`'s `dev` ingress: VXLAN to `outer_port` and plain UDP to `dport`."""
    def rule(port: int) -> dict:
        return {"add": {"rule": {"family": "netdev", "table": TABLE, "chain": "in", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": port}},
            {"counter": "got"}, {"drop": None}]}}}

    doc = {"nftables": [
        {"add": {"table": {"family": "netdev", "name": TABLE}}},
        {"add": {"chain": {"family": "netdev", "table": TABLE, "name": "in", "type": "filter", "hook": "ingress",
                           "dev": dev, "prio": -500, "policy": "accept"}}},
        {"add": {"counter": {"family": "netdev", "table": TABLE, "name": "got"}}},
        rule(outer_port), rule(dport)]}
    lab.run_in(node, ["nft", "-j", "-f", "-"], input=json.dumps(doc))


def counter_read(lab, node: str) -> int:
    out = json.loads(lab.run_in(node, ["nft", "-j", "list", "counter", "netdev", TABLE, "got"]).stdout)
    for item in out["nftables"]:
        if "counter" in item:
            return int(item["counter"]["packets"])
    raise RuntimeError(f"counter {TABLE}/got not found on {node}")


def counter_teardown(lab, node: str) -> None:
    lab.run_in(node, ["nft", "-j", "-f", "-"],
               input=json.dumps({"nftables": [{"delete": {"table": {"family": "netdev", "name": TABLE}}}]}),
               check=False)


def _tx_packets(lab, node: str, dev: str) -> int:
    return int(lab.run_in(node, ["cat", f"/sys/class/net/{dev}/statistics/tx_packets"]).stdout)


def _forwarded(lab, node: str) -> int:
    """IPv4 datagrams `node` forwarded (its /proc/net/snmp Ip ForwDatagrams): what the sender's
    link carried besides the generator's own frames (a router that is also the sender)."""
    head, values = [line.split() for line in lab.run_in(node, ["cat", "/proc/net/snmp"]).stdout.splitlines()
                    if line.startswith("Ip:")][:2]
    return int(values[head.index("ForwDatagrams")])


def _stop(proc) -> None:
    """Stop trafgen and the sender it forked per CPU. They run in a process group of their own
    (the one `proc` leads): trafgen's parent only waits for its children, so a signal to it alone
    left a child sending (at SCHED_FIFO priority) into the next measurement."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # bounded; orphaned children are reaped by init
            if proc.poll() is not None and not _group_alive(proc.pid):
                return
            time.sleep(0.05)
    raise RuntimeError(f"trafgen (process group {proc.pid}) did not stop")


def _group_alive(pgid: int) -> bool:
    """Any process of group `pgid` that is not a zombie."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def rate(lab, sender: str, dev: str, packet: str, receiver: str, seconds: float, warmup: float = 0.5,
         cpus: int = 1) -> tuple[float, float]:
    """(delivered, offered) packets per second while trafgen on `sender` sends `packet` out of
    `dev` as fast as it can, over `seconds` after `warmup`: delivered as `receiver` counted them,
    offered as the sender's link counted them leaving. trafgen runs at high priority (-H): on a
    shared machine the sender's CPU share would otherwise set the rate, not the path."""
    if shutil.which("trafgen") is None:
        raise RuntimeError("trafgen not found (Debian package netsniff-ng; scripts/setup.sh --dev)")
    cfg = lab.workdir / "trafgen.cfg"
    cfg.write_text(packet)
    proc = lab.popen(sender, ["trafgen", "-o", dev, "-i", str(cfg), "-P", str(cpus), "--no-sock-mem", "-Q", "-C", "-H"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise RuntimeError(f"trafgen exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
        s0, f0, c0, t0 = (_tx_packets(lab, sender, dev), _forwarded(lab, sender), counter_read(lab, receiver),
                          time.monotonic())
        time.sleep(seconds)
        s1, f1, c1, t1 = (_tx_packets(lab, sender, dev), _forwarded(lab, sender), counter_read(lab, receiver),
                          time.monotonic())
    finally:
        _stop(proc)
    # offered: what left the sender's link less what the sender forwarded meanwhile (packets of
    # the measured path that looped back to it would otherwise count as offered twice)
    return (c1 - c0) / (t1 - t0), ((s1 - s0) - (f1 - f0)) / (t1 - t0)


def send(lab, sender: str, dev: str, packet: str, count: int, pps: int = 20000) -> None:
    """Send exactly `count` frames at `pps` (paced, so nothing is lost on the way). pps 0: unpaced,
    through the packet socket's TX ring (as `rate` sends; paced, trafgen uses sendto), whose skbs
    carry everything after the MAC header in page fragments."""
    cfg = lab.workdir / "trafgen-send.cfg"
    cfg.write_text(packet)
    pace = ["-b", f"{pps}pps"] if pps else []
    lab.run_in(sender, ["trafgen", "-o", dev, "-i", str(cfg), "-P", "1", "-n", str(count), *pace,
                        "--no-sock-mem", "-Q", "-C"], timeout=60 + count / (pps or 20000))
