"""Packet-rate measurement in a lab: trafgen (netsniff-ng) sends UDP frames, the receiver counts.

The receiver counts with an nftables counter on its uplink's ingress hook (netdev family) and
drops what it counted there, so the rate is what reached it, not what the sender claims, and
the receiver's own stack does not compete for the CPUs. Rules go in through `nft -j -f -`.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time

TABLE = "lbbench"


def frame(dst_mac: str, src_mac: str, src_ip: str, dst_ip: str, dport: int, flows: int = 256,
          sport_hi: int = 0x9C) -> str:
    """A trafgen packet: 60-byte Ethernet/IPv4/UDP frame (64 on a wire with the FCS), source port
    `sport_hi`*256 + 0..`flows`-1 (<= 256 flows), IP and UDP checksums recomputed per packet."""
    if not 1 <= flows <= 256:
        raise ValueError("flows: 1..256")

    def hexes(raw: bytes) -> str:
        return ", ".join(f"0x{b:02x}" for b in raw)

    mac = lambda m: bytes.fromhex(m.replace(":", ""))  # noqa: E731
    sport_low = "drnd(1)" if flows == 256 else f"dinc(0, {flows - 1}, 1)"
    return ("{ " + ", ".join([
        hexes(mac(dst_mac)), hexes(mac(src_mac)), "c16(0x0800)",
        "0x45, 0x00, c16(46), c16(1), c16(0x4000), 64, 17, csumip(14, 33)",
        hexes(socket.inet_aton(src_ip)), hexes(socket.inet_aton(dst_ip)),
        f"0x{sport_hi:02x}, {sport_low}, c16({dport}), c16(26), csumudp(14, 34)",
        "fill(0x00, 18)",
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
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise RuntimeError(f"trafgen exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
        s0, c0, t0 = _tx_packets(lab, sender, dev), counter_read(lab, receiver), time.monotonic()
        time.sleep(seconds)
        s1, c1, t1 = _tx_packets(lab, sender, dev), counter_read(lab, receiver), time.monotonic()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    return (c1 - c0) / (t1 - t0), (s1 - s0) / (t1 - t0)


def send(lab, sender: str, dev: str, packet: str, count: int, pps: int = 20000) -> None:
    """Send exactly `count` frames at `pps` (paced, so nothing is lost on the way)."""
    cfg = lab.workdir / "trafgen-send.cfg"
    cfg.write_text(packet)
    lab.run_in(sender, ["trafgen", "-o", dev, "-i", str(cfg), "-P", "1", "-n", str(count), "-b", f"{pps}pps",
                        "--no-sock-mem", "-Q", "-C"], timeout=60 + count / pps)
