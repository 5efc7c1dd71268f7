"""Pod networking between nodes on real namespaces (lbcli.lab PODNET: three nodes with one Pod
each, a router, an external host beyond it), driven by `cilium-lb apply/diff --live/reset`.

* tunnel: pod-to-pod ICMP and TCP across nodes; on the underlay the packets are UDP to the
  tunnel port and no pod address appears in clear; masquerade: the external host sees the node
  address, a peer Pod sees the Pod address;
* native + auto-direct-node-routes: the same traffic with no encapsulation (ICMP between pod
  addresses on the underlay, nothing on the tunnel port); addresses inside the native routing
  CIDR are kept;
* GENEVE: refused naming the missing kernel feature (traffic test skipped for that reason);
* a 10 Mbit/s egress (and 20 Mbit/s ingress) annotation measured with iperf3 within ±10 %;
  removing it unshapes;
* tunnel -> native -> tunnel and reset leave nothing behind (links, routes, neighbours, FDB,
  qdiscs, nft tables, sysctls compared with the namespace before the first apply); `diff --live`
  is empty after every apply and names a deleted route.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from lbcli.lab import Lab
from lbcli.lab.podnet import PodnetDriver
from lbcli.lab.topology import PODNET
from tests.e2e.test_apply_faults import SNAPSHOT

pytestmark = [pytest.mark.netns]

TUNNEL = {"routing-mode": "tunnel", "tunnel-protocol": "vxlan"}
NATIVE = {"routing-mode": "native", "auto-direct-node-routes": "true", "ipv4-native-routing-cidr": "10.244.0.0/16"}
PODS = {p.name: p for p in PODNET.pods}
NODES = {n.name: n for n in PODNET.nodes}

# TCP server: answers each connection with the peer address it sees, then closes.
WHO = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, addr = s.accept()
    c.sendall(addr[0].encode() + b"\n"); c.close()
"""
ASK = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(s.makefile().readline().strip())
"""


def _need():
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces")
    for tool in ("ip", "nft", "tcpdump", "iperf3"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")


@pytest.fixture(scope="module")
def pn():
    _need()
    with Lab(PODNET) as lab:
        lab.mount_bpffs()
        d = PodnetDriver(lab)
        d.baseline = {n: _snapshot(lab, n) for n in NODES}
        for pod in PODS:  # who-am-I servers in every pod and on the external host
            lab.popen(pod, [sys.executable, "-c", WHO, "7000"])
        lab.popen("ext", [sys.executable, "-c", WHO, "7000"])
        time.sleep(0.5)
        yield d


def _snapshot(lab: Lab, node: str) -> dict:
    snap = json.loads(lab.run_in(node, [sys.executable, "-c", SNAPSHOT]).stdout)
    snap["nft"] = json.loads(lab.run_in(node, ["nft", "-j", "list", "ruleset"]).stdout)["nftables"][1:]
    snap["fdb"] = lab.run_in(node, ["bridge", "-j", "fdb", "show"]).stdout
    snap["neigh"] = sorted(n for n in json.loads(lab.run_in(node, ["ip", "-j", "neigh", "show", "nud", "permanent"]).stdout or "[]")
                           for n in [json.dumps(n, sort_keys=True)])
    return snap


def _apply_all(pn: PodnetDriver, config: dict, bandwidth: dict | None = None) -> dict:
    pn.write(config, bandwidth)
    out = pn.apply_all()
    for node, doc in out.items():
        assert doc["exit"] == 0, (node, json.dumps(doc, indent=1)[:4000])
    for node in NODES:
        code, doc = pn.diff_live(node)
        assert code == 0, (node, "diff --live not empty right after apply", json.dumps(doc)[:3000])
    return out


def _reset_all(pn: PodnetDriver) -> None:
    for node in NODES:
        doc = pn.reset(node)
        assert doc["exit"] == 0, (node, [c for comp in doc.get("components", []) for c in comp["changes"] if not c["ok"]], doc.get("stderr"))
    for node in NODES:
        assert _snapshot(pn.lab, node) == pn.baseline[node], f"reset left something on {node}"


def _ping(lab: Lab, src: str, dst_ip: str, within: float = 5.0, count: int = 2) -> bool:
    """`count` echoes sent and one answered, retried within `within` seconds (bounded: on two
    shared, loaded cores the first echo after an apply can wait on neighbour resolution longer
    than ping's 1 s)."""
    deadline = time.monotonic() + within
    while True:
        if lab.run_in(src, ["ping", "-c", str(count), "-i", "0.2", "-W", "1", dst_ip], check=False).returncode == 0:
            return True
        if time.monotonic() >= deadline:
            return False


def _ask(lab: Lab, src: str, dst_ip: str) -> str:
    return lab.run_in(src, [sys.executable, "-c", ASK, dst_ip, "7000"]).stdout.strip()


def _capture(lab: Lab, node: str, bpf: str, action) -> int:
    """Packets matching `bpf` on `node`'s underlay (eth0) while `action` runs."""
    proc = subprocess.Popen(["ip", "netns", "exec", lab.ns(node), "tcpdump", "-nli", "eth0", "-c", "50", bpf],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.8)  # tcpdump attached
        action()
        time.sleep(0.3)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    m = re.search(r"(\d+) packets? captured", err)
    return int(m.group(1)) if m else 0


def _traffic(pn: PodnetDriver) -> None:
    lab = pn.lab
    for src in PODS:
        for dst, pod in PODS.items():
            if src != dst:
                assert _ping(lab, src, pod.ip), f"{src} cannot ping {dst}"
    # TCP across nodes keeps the Pod address; to the outside the node address shows
    assert _ask(lab, "pod-a", PODS["pod-b"].ip) == PODS["pod-a"].ip
    assert _ask(lab, "pod-c", PODS["pod-a"].ip) == PODS["pod-c"].ip
    assert _ask(lab, "pod-a", PODNET.external_ip) == NODES["node-a"].ip
    assert _ask(lab, "pod-b", PODNET.external_ip) == NODES["node-b"].ip


def test_tunnel_mode_encapsulates(pn):
    try:
        out = _apply_all(pn, TUNNEL)
        changed = [c["object"] for c in out["node-a"]["components"][0]["changes"]]
        assert "device lbpod_vxlan" in changed and "route 10.244.2.0/24" in changed
        _traffic(pn)
        lab = pn.lab
        ping = lambda: _ping(lab, "pod-a", PODS["pod-b"].ip)  # noqa: E731
        assert _capture(lab, "node-b", "udp dst port 8472", ping) >= 2
        assert _capture(lab, "node-b", "icmp and host 10.244.1.10", ping) == 0  # nothing in clear
        # drift: a route removed by hand shows in diff --live and the next apply puts it back
        lab.run_in("node-a", ["ip", "route", "del", "10.244.2.0/24"])
        code, doc = pn.diff_live("node-a")
        net = next(c for c in doc["components"] if c["name"] == "network")
        assert code == 1 and [(c["action"], c["object"]) for c in net["changes"]] == [("create", "route 10.244.2.0/24")]
        assert pn.apply("node-a")["exit"] == 0 and _ping(lab, "pod-a", PODS["pod-b"].ip)
    finally:
        _reset_all(pn)


def test_native_mode_routes_without_encapsulation(pn):
    try:
        out = _apply_all(pn, NATIVE)
        net = out["node-a"]["components"][0]
        assert {c["object"] for c in net["changes"]} >= {"route 10.244.2.0/24", "route 10.244.3.0/24"}
        assert not any("lbpod_vxlan" in c["object"] for c in net["changes"])
        _traffic(pn)
        lab = pn.lab
        ping = lambda: _ping(lab, "pod-a", PODS["pod-b"].ip)  # noqa: E731
        assert _capture(lab, "node-b", "icmp and src host 10.244.1.10", ping) >= 2
        assert _capture(lab, "node-b", "udp port 8472", ping) == 0
    finally:
        _reset_all(pn)


def test_switching_modes_leaves_nothing(pn):
    try:
        _apply_all(pn, TUNNEL)
        _apply_all(pn, NATIVE)
        for node in NODES:
            links = [ln[0] for ln in _snapshot(pn.lab, node)["links"]]
            assert "lbpod_vxlan" not in links, node
            assert pn.lab.run_in(node, ["bridge", "fdb", "show", "dev", "eth0"]).stdout.count("dst") == 0
        _traffic(pn)
        _apply_all(pn, TUNNEL)
        routes = pn.lab.run_in("node-a", ["ip", "-j", "route", "show", "proto", "229"]).stdout
        assert sorted(r["dst"] for r in json.loads(routes)) == ["10.244.2.0/24", "10.244.3.0/24"]
        assert all(r["dev"] == "lbpod_vxlan" for r in json.loads(routes))
        _traffic(pn)
        again = pn.apply_all()  # a second apply changes nothing
        assert all(d["changes"] == 0 for d in again.values()), again
    finally:
        _reset_all(pn)


def test_geneve_refused_naming_the_kernel_feature(pn):
    """Refused twice: apply from manifests stops at the not-implemented finding (exit 1);
    a plan that asks for GENEVE anyway is refused by the node naming the kernel feature it
    lacks, and nothing is changed. The GENEVE traffic test is then skipped for that reason."""
    lab = pn.lab
    try:
        pn.write({"routing-mode": "tunnel", "tunnel-protocol": "geneve"})
        proc = pn.cli("node-a", "apply", str(pn.dir), "--node", "node-a", "--state-dir", str(lab.state_dir("node-a")),
                      "--bpf-root", str(lab.bpf_root))
        assert proc.returncode == 1 and "tunnel-protocol geneve is not implemented" in proc.stdout + proc.stderr
        pn.write(TUNNEL)
        out = lab.workdir / "plans"
        assert pn.cli("node-a", "compile", str(pn.dir), "--node", "node-a", "-o", str(out)).returncode == 0
        plan = json.loads((out / "node-a.json").read_text())
        plan["network"].update(tunnelProtocol="geneve", tunnelPort=6081)
        (out / "node-a.json").write_text(json.dumps(plan))
        proc = pn.cli("node-a", "apply", "--plan", str(out / "node-a.json"), "--node", "node-a", "--state-dir",
                      str(lab.state_dir("node-a")), "--bpf-root", str(lab.bpf_root), "-o", "json")
        doc = json.loads(proc.stdout)
        net = next(c for c in doc["components"] if c["name"] == "network")
        if "no GENEVE support" not in (net["error"] or ""):
            pytest.fail(f"this kernel has GENEVE, which cilium-lb does not carry out yet: {net}")
        assert proc.returncode == 1 and not doc["recorded"] and "tunnel-protocol vxlan" in net["error"]
        assert "lbpod_vxlan" not in lab.run_in("node-a", ["ip", "-br", "link"]).stdout
    finally:
        _reset_all(pn)
    pytest.skip(f"GENEVE traffic test: {net['error']}")


def _iperf(lab: Lab, client: str, server_ip: str, reverse: bool = False) -> float:
    """Mbit/s received, median of three 2-second runs (iperf3 server already running)."""
    rates = []
    for _ in range(3):
        argv = ["iperf3", "-c", server_ip, "-t", "2", "-J", "-p", "5201"] + (["-R"] if reverse else [])
        doc = json.loads(lab.run_in(client, argv, timeout=30).stdout)
        rates.append(doc["end"]["sum_received"]["bits_per_second"] / 1e6)
    return sorted(rates)[1]


@pytest.mark.parametrize("config", [TUNNEL, NATIVE], ids=["tunnel", "native"])
def test_bandwidth_annotations_shape(pn, config):
    lab = pn.lab
    server = lab.popen("pod-b", ["iperf3", "-s", "-p", "5201"])
    try:
        time.sleep(0.5)
        bw = {"pod-a": {"kubernetes.io/egress-bandwidth": "10M", "kubernetes.io/ingress-bandwidth": "20M"}}
        out = _apply_all(pn, {**config, "enable-bandwidth-manager": "true"}, bw)
        notes = out["node-a"]["components"][0]["notes"]
        assert any("no fq qdisc" in n and "HTB" in n for n in notes), notes
        egress = _iperf(lab, "pod-a", PODS["pod-b"].ip)
        ingress = _iperf(lab, "pod-a", PODS["pod-b"].ip, reverse=True)
        assert 9.0 <= egress <= 11.0, egress
        assert 18.0 <= ingress <= 22.0, ingress
        # the annotation removed: unshaped at the next apply
        _apply_all(pn, {**config, "enable-bandwidth-manager": "true"})
        assert "c1:" not in lab.run_in("node-a", ["tc", "qdisc", "show"]).stdout
        assert _iperf(lab, "pod-a", PODS["pod-b"].ip) > 50.0
    finally:
        server.kill()
        server.wait(timeout=5)
        _reset_all(pn)
