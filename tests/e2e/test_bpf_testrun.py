"""What the loaded tier-1 programs do to one packet, run by the kernel with BPF_PROG_TEST_RUN:
verdict, the rewritten (tc) or encapsulated (XDP) frame, the flow entry and counters."""

from __future__ import annotations

import base64
import socket
import struct

import pytest

from lbcli.agent.datapath.flowhash import maglev_slot
from lbcli.agent.datapath.maps import PinnedMaps
from lbcli.agent.datapath.reconciler import HASH_SEED
from lbcli.lab import testrun as tr
from lbcli.lab.plans import LabService, node_plans

pytestmark = pytest.mark.netns

VIP, UPORT, CLIENT = "100.64.0.101", 5201, "172.30.0.2"


def _expected_t2(plan: dict, sport: int) -> tuple[str, str]:
    """(T2 address, its tunnel MAC) the Maglev table picks for CLIENT:sport -> VIP:UPORT/UDP."""
    t1 = plan["tier1"]
    table = t1["maglevTables"][0]
    raw = base64.b64decode(table["table"])
    slot = maglev_slot(CLIENT, VIP, sport, UPORT, 17, HASH_SEED, table["size"])
    name = table["t2Nodes"][int.from_bytes(raw[2 * slot:2 * slot + 2], "little")]
    node = next(n for n in t1["t2Nodes"] if n["name"] == name)
    return node["ip"], node["tunnelMac"].lower()


def _mac(s: str) -> bytes:
    return bytes.fromhex(s.replace(":", ""))


@pytest.fixture
def loaded(lab_driver, request):
    drv = lab_driver
    plans = node_plans(drv.lab.topology, [LabService("bench/udp", VIP, UPORT, "UDP")])
    mode = request.param
    drv.datapath = mode
    res = drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")
    assert res["datapath"]["ok"], res
    return drv, plans["t1-a"], mode


def _flow(drv, sport: int) -> bytes | None:
    from lbcli.agent.datapath import layout as L
    from lbcli.agent.datapath import libbpf as bpf

    with PinnedMaps(drv.lab.bpf_root / "t1-a") as maps:
        key = L.FLOW_KEY.pack(socket.inet_aton(CLIENT), socket.inet_aton(VIP), struct.pack("!H", sport),
                              struct.pack("!H", UPORT), 17, bytes(3))
        return bpf.lookup(maps.fd["lb_flows"], key, L.FLOW.size)


@pytest.mark.parametrize("loaded", ["tc", "xdp"], indirect=True)
def test_miss_passes_untouched(loaded):
    drv, plan, mode = loaded
    fd = tr.program_fd(drv.lab.bpf_root / "t1-a", "xdp_" if mode == "xdp" else "prog_")
    try:
        for pkt in (tr.packet(CLIENT, "192.168.121.21", 1000, UPORT),  # not a VIP
                    tr.packet(CLIENT, VIP, 1000, UPORT + 1),  # VIP, other port
                    tr.packet(CLIENT, VIP, 1000, UPORT, proto="TCP")):  # VIP, other protocol
            verdict, out, _ = tr.run(fd, pkt)
            assert verdict == (tr.XDP_PASS if mode == "xdp" else tr.TC_ACT_OK)
            assert out == pkt
    finally:
        tr.close(fd)
    assert drv.counters("t1-a")["global"]["redirect"] == 0


@pytest.mark.parametrize("loaded", ["tc", "xdp"], indirect=True)
def test_hit_new_flow_then_established(loaded):
    drv, plan, mode = loaded
    sport = 41000
    t2_ip, t2_mac = _expected_t2(plan, sport)
    src_mac = _mac(drv.lab.run_in("t1-a", ["cat", "/sys/class/net/lb1vx/address"]).stdout.strip())
    pkt = tr.packet(CLIENT, VIP, sport, UPORT)
    assert _flow(drv, sport) is None
    fd = tr.program_fd(drv.lab.bpf_root / "t1-a", "xdp_" if mode == "xdp" else "prog_")
    try:
        verdict, out, _ = tr.run(fd, pkt)
        verdict2, out2, _ = tr.run(fd, pkt)  # established: same result from the flow table
    finally:
        tr.close(fd)
    flow = _flow(drv, sport)
    assert flow is not None and flow[:4] == socket.inet_aton(t2_ip) and flow[4:10] == _mac(t2_mac)
    inner_l2 = _mac(t2_mac) + src_mac + b"\x08\x00"
    # both programs write the outer headers themselves and send the frame out of the uplink
    assert verdict == verdict2 == (tr.XDP_TX if mode == "xdp" else tr.TC_ACT_REDIRECT)
    assert out == out2 and len(out) == len(pkt) + 50
    eth0 = drv.lab.run_in("t1-a", ["cat", "/sys/class/net/eth0/address"]).stdout.strip()
    t2_eth0 = drv.lab.run_in("t2-a" if t2_ip.endswith(".21") else "t2-b",
                             ["cat", "/sys/class/net/eth0/address"]).stdout.strip()
    assert out[:14] == _mac(t2_eth0) + _mac(eth0) + b"\x08\x00"  # next hop: T2 on the segment
    ip = out[14:34]
    assert ip[0] == 0x45 and ip[8] == 64 and ip[9] == 17
    assert struct.unpack("!H", ip[2:4])[0] == len(pkt) + 36
    assert ip[12:16] == socket.inet_aton("192.168.121.11") and ip[16:20] == socket.inet_aton(t2_ip)
    assert tr.ip_checksum(ip) == 0
    sport_o, dport, ulen, csum = struct.unpack("!HHHH", out[34:42])
    assert sport_o >= 0xC000 and dport == 4789 and ulen == len(pkt) + 16 and csum == 0
    assert out[42:50] == struct.pack("!II", 0x08000000, 1 << 8)  # VNI 1
    assert out[50:] == inner_l2 + pkt[14:]
    c = drv.counters("t1-a")
    assert c["global"]["redirect"] == 2 and c["global"]["flow_hit"] == 1
    assert c["services"][f"{VIP}:{UPORT}/UDP"]["packets"] == 2


@pytest.mark.parametrize("loaded", ["tc", "xdp"], indirect=True)
def test_without_next_hop(loaded):
    """No resolved next hop for the T2: the tc program falls back to the VXLAN device (tunnel
    key, inner L2 rewritten only); the XDP program passes the frame to the stack, uncounted."""
    from lbcli.agent.datapath import libbpf as bpf

    drv, plan, mode = loaded
    sport = 42000
    t2_ip, t2_mac = _expected_t2(plan, sport)
    nh = bpf.obj_get(str(drv.lab.bpf_root / "t1-a" / "lb_nh"))
    try:
        assert bpf.delete(nh, socket.inet_aton(t2_ip))
    finally:
        import os
        os.close(nh)
    src_mac = _mac(drv.lab.run_in("t1-a", ["cat", "/sys/class/net/lb1vx/address"]).stdout.strip())
    pkt = tr.packet(CLIENT, VIP, sport, UPORT)
    fd = tr.program_fd(drv.lab.bpf_root / "t1-a", "xdp_" if mode == "xdp" else "prog_")
    try:
        verdict, out, _ = tr.run(fd, pkt)
    finally:
        tr.close(fd)
    c = drv.counters("t1-a")
    if mode == "tc":
        assert verdict == tr.TC_ACT_REDIRECT and out == _mac(t2_mac) + src_mac + b"\x08\x00" + pkt[14:]
        assert c["global"]["redirect"] == 1
    else:
        assert verdict == tr.XDP_PASS and out == pkt
        assert c["global"]["xdp_pass_no_neigh"] == 1 and c["global"]["redirect"] == 0
        assert c["services"][f"{VIP}:{UPORT}/UDP"]["packets"] == 0
    # the flow entry exists either way: the tc program will find it
    assert _flow(drv, sport) is not None
    # the next apply puts the next hop back
    res = drv.nodecmd("t1-a", "apply", plan, component="datapath")
    assert [r["object"] for r in res["datapath"]["results"]] == [f"next hop {t2_ip}"], res
