"""Tier-1 datapath and tier-2 receive side with real packets in a namespace lab."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from lbcli.agent.datapath.flowhash import maglev_slot
from lbcli.agent.datapath.reconciler import HASH_SEED
from lbcli.lab.plans import node_plans

from .conftest import PORT, SERVICE, VIP

pytestmark = pytest.mark.netns


@pytest.fixture(autouse=True, params=["tc", "xdp"])
def datapath(request, lab_driver):
    """Every test in both tier-1 flavours (`--datapath tc`, the default, and `xdp`)."""
    lab_driver.datapath = request.param
    if request.param == "xdp":
        for node in lab_driver.lab.topology.tier("t1"):
            lab_driver.lab.enable_xdp_tx(node.name)
    return request.param


def predicted_t2(plan: dict, client: str, sport: int) -> str:
    table = plan["tier1"]["maglevTables"][0]
    raw = base64.b64decode(table["table"])
    slot = maglev_slot(client, VIP, sport, PORT, 6, HASH_SEED, table["size"])
    idx = int.from_bytes(raw[2 * slot:2 * slot + 2], "little")
    return table["t2Nodes"][idx]


def service_packets(drv, node: str) -> int:
    return drv.counters(node)["services"].get(f"{VIP}:{PORT}/TCP", {}).get("packets", 0)


def tcpdump(drv, node: str, expr: str, out: Path) -> subprocess.Popen:
    fh = open(out, "w")
    proc = drv.lab.popen(node, ["tcpdump", "-lnei", "eth0", expr], stdout=fh, stderr=subprocess.PIPE)
    # wait until it listens (it says so on stderr)
    deadline = time.monotonic() + 10
    line = b""
    while time.monotonic() < deadline and b"listening" not in line:
        line = proc.stderr.readline()
    return proc


def test_connection_dsr_through_t1(lab_driver, plans, tmp_path):
    drv = lab_driver
    drv.apply_all(plans)
    drv.start_servers()
    before = {n: service_packets(drv, n) for n in ("t1-a", "t1-b")}
    caps = {n: tcpdump(drv, n, f"ip src host {VIP}", tmp_path / f"{n}.txt")
            for n in ("t1-a", "t1-b", "t2-a", "t2-b")}
    got = drv.connect_many(31000, 10)
    time.sleep(0.5)
    for proc in caps.values():
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=5)
    assert all(v in ("t2-a", "t2-b") for v in got.values()), got
    after = {n: service_packets(drv, n) for n in ("t1-a", "t1-b")}
    # every client packet of the 10 connections went through a tier-1 program (>= SYN, ACK, FIN...)
    assert sum(after.values()) - sum(before.values()) >= 10 * 3
    # replies never traverse tier 1; they leave tier 2 towards the router with the VIP as source
    for n in ("t1-a", "t1-b"):
        assert (tmp_path / f"{n}.txt").read_text().strip() == ""
    router_mac = json.loads(drv.lab.run_in("router", ["ip", "-j", "link", "show", "eth0"]).stdout)[0]["address"]
    replies = [line for n in ("t2-a", "t2-b") for line in (tmp_path / f"{n}.txt").read_text().splitlines() if line.strip()]
    assert len(replies) >= 10 * 2
    odd = [line for line in replies if f"> {router_mac}," not in line or f"{VIP}.{PORT} > 172.30.0.2." not in line]
    assert odd == []


def test_spread_and_flow_affinity(lab_driver, plans):
    drv = lab_driver
    drv.apply_all(plans)
    drv.start_servers()
    client = drv.lab.topology.client_ip
    got = drv.connect_many(20000, 200)
    expected = {sport: predicted_t2(plans["t1-a"], client, sport) for sport in got}
    assert got == expected  # every flow lands where the Maglev table says
    counts = Counter(got.values())
    assert set(counts) == {"t2-a", "t2-b"} and min(counts.values()) >= 60, counts

    # a connection held open across the change, on the T2 we are about to remove
    holder = drv.lab.popen("client", [sys.executable, "-u", "-c", r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = s.makefile("rb")
print(f.readline().decode().strip(), flush=True)
for line in sys.stdin:
    s.sendall(line.encode()); print(f.readline().decode().strip(), flush=True)
""", VIP, str(PORT)], stdin=subprocess.PIPE, text=True)
    held_on = holder.stdout.readline().strip()
    assert held_on in ("t2-a", "t2-b")
    remaining = "t2-b" if held_on == "t2-a" else "t2-a"

    reduced = node_plans(drv.lab.topology, [SERVICE], t2_names=[remaining])
    for node in ("t1-a", "t1-b"):
        res = drv.nodecmd(node, "apply", reduced[node])["datapath"]
        assert res["ok"], res
        tables = [r for r in res["results"] if r["object"].startswith("table")]
        # the table is rewritten in place through its standby buffer, not replaced
        assert [r["action"] for r in tables] == ["update"] and "slots written" in tables[0]["detail"]
        # a backend change writes no record (its table-digest cache tolerates a few misses) ...
        assert "state" not in [r["object"] for r in res["results"]], res["results"]
        # ... and is converged: a second apply changes nothing
        assert drv.nodecmd(node, "apply", reduced[node])["datapath"]["results"] == []

    again = drv.connect_many(22000, 50)
    assert set(again.values()) == {remaining}, Counter(again.values())
    holder.stdin.write("ping\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == f"{held_on} ping"
    holder.stdin.close()
    holder.wait(timeout=5)


def _host_snapshot(drv, node: str) -> dict:
    run = lambda argv: drv.lab.run_in(node, argv).stdout  # noqa: E731
    sysctls = {k: run(["sysctl", "-n", k]).strip() for k in (
        "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce", "net.ipv4.conf.eth0.arp_ignore",
        "net.ipv4.conf.eth0.arp_announce", "net.ipv4.conf.all.rp_filter")}
    return {
        "links": sorted(l["ifname"] for l in json.loads(run(["ip", "-j", "link", "show"]))),
        "xdp": sorted(l["ifname"] for l in json.loads(run(["ip", "-j", "link", "show"])) if "xdp" in l),
        "qdiscs": run(["tc", "qdisc", "show", "dev", "eth0"]),
        "filters": run(["tc", "filter", "show", "dev", "eth0", "ingress"]),
        "lo": sorted(a["local"] for e in json.loads(run(["ip", "-j", "-4", "addr", "show", "dev", "lo"]))
                     for a in e["addr_info"]),
        "sysctls": sysctls,
        "pins": sorted(p.name for p in (drv.lab.bpf_root / node).glob("*")),
        "state": sorted(str(p.relative_to(drv.lab.state_dir(node))) for p in drv.lab.state_dir(node).rglob("*.json")),
    }


def test_apply_twice_then_reset(lab_driver, plans):
    drv = lab_driver
    nodes = ("t1-a", "t2-a")
    clean = {n: _host_snapshot(drv, n) for n in nodes}
    for n in nodes:
        first = drv.nodecmd(n, "apply", plans[n])
        assert sum(c["changed"] for c in first.values()) > 0
        second = drv.nodecmd(n, "apply", plans[n])
        assert all(c["ok"] and c["changed"] == 0 for c in second.values()), second
    assert "lb1vx" in _host_snapshot(drv, "t1-a")["links"]
    assert "clsact" in _host_snapshot(drv, "t1-a")["qdiscs"]
    assert _host_snapshot(drv, "t1-a")["xdp"] == (["eth0"] if drv.datapath == "xdp" else [])
    assert VIP in _host_snapshot(drv, "t2-a")["lo"]
    assert _host_snapshot(drv, "t2-a")["sysctls"]["net.ipv4.conf.all.arp_ignore"] == "1"
    for n in nodes:
        res = drv.nodecmd(n, "reset")
        assert all(c["ok"] for c in res.values()), res
        snap = _host_snapshot(drv, n)
        snap["state"] = [s for s in snap["state"]]
        assert snap == clean[n]
        assert not (drv.lab.bpf_root / n).exists()
        assert drv.nodecmd(n, "reset") == {"datapath": {"changed": 0, "error": None, "ok": True, "results": []},
                                           "receive": {"changed": 0, "error": None, "ok": True, "results": []}}


def test_killed_applies_converge(lab_driver, plans):
    drv = lab_driver
    rng = random.Random(7)
    variants = [plans, node_plans(drv.lab.topology, [SERVICE], t2_names=["t2-a"]),
                node_plans(drv.lab.topology, [SERVICE], t2_names=["t2-b"])]
    nodes = ("t1-a", "t2-a")
    for attempt in range(8):
        chosen = rng.choice(variants)
        for n in nodes:
            path = drv.plan_dir / f"kill-{n}.json"
            path.write_text(json.dumps(chosen[n]))
            proc = drv.lab.popen(n, [sys.executable, "-m", "lbcli.lab.nodecmd", "apply", "--plan", str(path),
                                     "--node", n, "--state-dir", str(drv.lab.state_dir(n)),
                                     "--bpf-root", str(drv.lab.bpf_root)])
            time.sleep(rng.uniform(0.05, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    for n in nodes:
        res = drv.nodecmd(n, "apply", plans[n])
        assert all(c["ok"] for c in res.values()), res
        again = drv.nodecmd(n, "apply", plans[n])
        assert all(c["changed"] == 0 for c in again.values()), again
    drv.apply_all({n: p for n, p in plans.items() if n not in nodes})
    drv.start_servers()
    got = drv.connect_many(24000, 40)
    client = drv.lab.topology.client_ip
    assert got == {sport: predicted_t2(plans["t1-a"], client, sport) for sport in got}


def test_missing_kernel_feature_changes_nothing(lab_driver, plans):
    drv = lab_driver
    for node, tier in (("t1-a", "tier1"), ("t2-a", "tier2")):
        before = _host_snapshot(drv, node)
        plan = json.loads(json.dumps(plans[node]))
        plan[tier]["dispatch"]["mode"] = "ipip"  # a mode the plan allows and this kernel lacks
        res = drv.nodecmd(node, "apply", plan, check=False)
        component = "datapath" if tier == "tier1" else "receive"
        err = res[component]["error"] or ""
        assert "ipip" in err.lower() and res[component]["changed"] == 0, res
        after = _host_snapshot(drv, node)
        after["state"] = before["state"]
        assert after == before


def test_reset_leaves_routing_through_the_node(lab_driver, plans):
    """After an apply and reset of either flavour, T1 routes as before: UDP to T2's own address,
    routed through T1 by the router, all reaches T2 (counted at T2's ingress, trafgen paced)."""
    import shutil

    from lbcli.lab import trafgen as tg

    if shutil.which("trafgen") is None:
        pytest.skip("trafgen (netsniff-ng) not installed")
    drv, lab = lab_driver, lab_driver.lab
    t1, t2 = lab.topology.node("t1-a"), lab.topology.node("t2-a")
    lab.run_in("router", ["ip", "route", "replace", f"{t2.ip}/32", "via", t1.ip])
    lab.sysctl("t1-a", "net.ipv4.ip_forward", "1")
    lab.sysctl("t1-a", "net.ipv4.conf.all.send_redirects", "0")
    lab.sysctl("t1-a", "net.ipv4.conf.eth0.send_redirects", "0")
    mac = lambda node, dev: lab.run_in(node, ["cat", f"/sys/class/net/{dev}/address"]).stdout.strip()  # noqa: E731
    pkt = tg.frame(mac("router", "eth1"), mac("client", "eth0"), lab.topology.client_ip, t2.ip, 9999)
    tg.counter_setup(lab, "t2-a", "eth0", 4789, 9999)

    def delivered(n: int = 500) -> int:
        before = tg.counter_read(lab, "t2-a")
        tg.send(lab, "client", "eth0", pkt, n, pps=5000)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and tg.counter_read(lab, "t2-a") - before < n:
            time.sleep(0.05)
        return tg.counter_read(lab, "t2-a") - before

    try:
        assert delivered() == 500  # the baseline: routing through T1 works before anything is applied
        drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")
        res = drv.nodecmd("t1-a", "reset", component="datapath")
        assert res["datapath"]["ok"], res
        assert delivered() == 500
    finally:
        tg.counter_teardown(lab, "t2-a")


def test_frames_with_headers_in_page_fragments_are_balanced(lab_driver, plans):
    """trafgen sends from a packet socket's TX ring, whose skbs carry everything after the MAC
    header in page fragments: VIP packets must still be carried to a T2 by the program (pulled
    in), not pass to T1's stack unseen and be routed back to the router."""
    import shutil

    from lbcli.lab import trafgen as tg

    if shutil.which("trafgen") is None:
        pytest.skip("trafgen (netsniff-ng) not installed")
    drv, lab = lab_driver, lab_driver.lab
    mac = lambda node, dev: lab.run_in(node, ["cat", f"/sys/class/net/{dev}/address"]).stdout.strip()  # noqa: E731
    pkt = tg.frame(mac("t1-a", "eth0"), mac("router", "eth0"), lab.topology.client_ip, VIP, PORT, flows=64,
                   proto="tcp")
    t2s = [n.name for n in lab.topology.tier("t2")]

    def forwarded() -> int:
        head, values = [line.split() for line in lab.run_in("t1-a", ["cat", "/proc/net/snmp"]).stdout.splitlines()
                        if line.startswith("Ip:")][:2]
        return int(values[head.index("ForwDatagrams")])

    drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")
    for node in t2s:
        tg.counter_setup(lab, node, "eth0", 4789, PORT)
    try:
        n, seen0, fwd0 = 300, service_packets(drv, "t1-a"), forwarded()
        tg.send(lab, "router", "eth0", pkt, n, pps=0)  # unpaced: the TX ring
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sum(tg.counter_read(lab, t) for t in t2s) < n:
            time.sleep(0.05)
        assert [sum(tg.counter_read(lab, t) for t in t2s), service_packets(drv, "t1-a") - seen0,
                forwarded() - fwd0] == [n, n, 0]  # all encapsulated to a T2, counted once, none routed
    finally:
        for node in t2s:
            tg.counter_teardown(lab, node)


def test_observe_reads_slots_changed_behind_a_kept_reader(lab_driver, plans):
    """A TableReader kept across observes (the agent's, mappings open) still sees a slot changed
    in both buffers alike (no buffer mismatch to give it away): every observe checks the live
    content against the check lb_tmeta recorded, so the table loses its identity until the
    drift is repaired; a table created through the reader is checked through its mapping."""
    import mmap
    import os

    from lbcli.agent.datapath import libbpf as bpf
    from lbcli.agent.datapath.maps import PinnedMaps, TableReader, _buffer_bytes

    drv = lab_driver
    drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")
    pin = drv.lab.bpf_root / "t1-a"
    reader = TableReader()
    try:
        with PinnedMaps(pin) as maps:
            (k, first), = maps.read_tables(reader).items()
            good = maps.read_table(k)
            assert first.digest is not None
            assert maps.read_tables(reader)[k] == first  # unchanged: the identity holds

            def poke(xor: int) -> None:
                for buf in first.buffers:
                    fd = bpf.map_fd_by_id(buf)
                    try:
                        with mmap.mmap(fd, _buffer_bytes(first.size)) as mm:
                            view = memoryview(mm).cast("I")
                            view[7] ^= xor
                            view.release()
                    finally:
                        os.close(fd)

            poke(1)
            assert maps.read_tables(reader)[k].digest is None
            assert maps.read_tables()[k].digest is None  # a fresh reader agrees
            maps.reader = reader  # what the reconciler's apply does: the reader learns what it writes
            assert maps.update_table(k, good, first.digest) == 1  # the drift repaired (one slot)
            assert maps.read_tables(reader)[k].digest == first.digest == maps.read_tables()[k].digest
            poke(2)
            assert maps.read_tables(reader)[k].digest is None
            maps.update_table(k, good, first.digest)
            other = bytes(reversed(good))  # a table created through the reader: its mapping kept
            maps.create_tables([(k + 1, other)], [bytes(range(16))])
            tables = maps.read_tables(reader)
            assert tables[k + 1].digest == bytes(range(16)) and tables[k].digest == first.digest
            assert reader.content(tables[k + 1].buffers[0], first.size) == other
            maps.delete_tables([k + 1])
            assert set(maps.read_tables(reader)) == {k}
    finally:
        reader.close()

def _bpftool(drv, *args: str):
    out = drv.lab.run_in("t1-a", ["bpftool", "-j", *args]).stdout
    return json.loads(out) if out.strip() else None


def _hex(raw: bytes) -> list[str]:
    return ["hex", *(f"{b:02x}" for b in raw)]


def _slots(drv, buf_id: int, elem: int) -> bytes:
    got = _bpftool(drv, "map", "lookup", "id", str(buf_id), "key", *_hex(elem.to_bytes(4, "little")))
    return bytes(int(x, 16) for x in got["value"])


def _one_table(drv, plans):
    """Apply t1-a's datapath; (driver, pin dir, table number, its state, its content)."""
    from lbcli.agent.datapath.maps import PinnedMaps

    drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")
    pin = drv.lab.bpf_root / "t1-a"
    with PinnedMaps(pin) as maps:
        (k, ts), = maps.read_tables().items()
        return drv, pin, k, ts, maps.read_table(k)


def test_slot_changed_with_bpftool_is_found_and_repaired(lab_driver, plans):
    """A slot of the table packets read, changed with bpftool behind the agent's back: the next
    observe (a new process, so nothing remembered) sees the live buffer no longer has the check
    lb_tmeta recorded, diff plans that table's repair, apply rewrites the slot, and the apply
    after that changes nothing."""
    from lbcli.agent.datapath.maps import PinnedMaps

    drv = lab_driver
    drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")
    with PinnedMaps(drv.lab.bpf_root / "t1-a") as maps:
        (k, ts), = maps.read_tables().items()
    active = ts.buffers[ts.active]
    good = _slots(drv, active, 3)  # element 3 = slots 6 and 7
    bad = bytes(good[:4]) + bytes(b ^ 0xFF for b in good[4:])  # slot 7 to another address
    _bpftool(drv, "map", "update", "id", str(active), "key", *_hex((3).to_bytes(4, "little")), "value", *_hex(bad))
    assert _slots(drv, active, 3) == bad
    planned = drv.nodecmd("t1-a", "diff", plans["t1-a"], component="datapath")["datapath"]
    assert [(c["action"], c["object"]) for c in planned] == [("update", f"table {k}")], planned
    res = drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")["datapath"]
    assert res["ok"] and [r["object"] for r in res["results"]] == [f"table {k}"], res
    with PinnedMaps(drv.lab.bpf_root / "t1-a") as maps:
        (k2, after), = maps.read_tables().items()
    assert k2 == k and after.digest == ts.digest
    assert all(_slots(drv, b, 3) == good for b in after.buffers)
    assert drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")["datapath"]["changed"] == 0


def test_tables_pinned_without_a_check_converge_in_place(lab_driver, plans):
    """Tables pinned by an earlier version, which recorded no check (lb_tmeta's last word was
    padding, 0) and a content hash as the identity: observe does not trust them, and apply
    brings each in place through the standby buffer (no slot differs, so none is written; same
    buffers, same content, the other one active: packets keep their T2 throughout); after that
    an apply changes nothing."""
    from lbcli.agent.datapath.maps import PinnedMaps

    drv, pin, k, ts, content = _one_table(lab_driver, plans)
    key = _hex(k.to_bytes(4, "little"))
    meta = bytes(int(x, 16) for x in _bpftool(drv, "map", "lookup", "pinned", str(pin / "lb_tmeta"), "key", *key)["value"])
    assert meta[20:] != bytes(4)  # this version records the check
    old = hashlib.blake2b(content, digest_size=16).digest() + meta[16:20] + bytes(4)  # what the earlier one wrote
    _bpftool(drv, "map", "update", "pinned", str(pin / "lb_tmeta"), "key", *key, "value", *_hex(old))
    with PinnedMaps(pin) as maps:
        assert maps.read_tables()[k].digest is None
    res = drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")["datapath"]
    assert res["ok"] and [(r["object"], r["detail"]) for r in res["results"]] == [(f"table {k}", "slots written: 0")], res
    with PinnedMaps(pin) as maps:
        now = maps.read_tables()[k]
        assert maps.read_table(k) == content
    assert now == ts._replace(active=1 - ts.active)  # same buffers and identity, checked again
    assert drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")["datapath"]["changed"] == 0


def test_standby_slot_changed_is_not_drift_and_is_repaired_before_a_flip(lab_driver, plans):
    """Observe checks the buffer packets read only. A slot of the standby buffer changed with
    bpftool is not drift (nothing is planned, packets never read it); when the table is next
    brought through the standby buffer (here: lb_tmeta's check cleared, so apply rewrites the
    table in place), the changed slot is written back before the flip, and the buffer packets
    read afterwards holds the plan's content."""
    from lbcli.agent.datapath.maps import PinnedMaps

    drv, pin, k, ts, content = _one_table(lab_driver, plans)
    standby = ts.buffers[1 - ts.active]
    good = _slots(drv, standby, 3)
    bad = bytes(good[:4]) + bytes(b ^ 0xFF for b in good[4:])
    _bpftool(drv, "map", "update", "id", str(standby), "key", *_hex((3).to_bytes(4, "little")), "value", *_hex(bad))
    assert _slots(drv, standby, 3) == bad
    assert drv.nodecmd("t1-a", "diff", plans["t1-a"], component="datapath")["datapath"] == []
    key = _hex(k.to_bytes(4, "little"))
    meta = bytes(int(x, 16) for x in _bpftool(drv, "map", "lookup", "pinned", str(pin / "lb_tmeta"), "key", *key)["value"])
    _bpftool(drv, "map", "update", "pinned", str(pin / "lb_tmeta"), "key", *key, "value", *_hex(meta[:20] + bytes(4)))
    res = drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")["datapath"]
    assert res["ok"] and [(r["object"], r["detail"]) for r in res["results"]] == [(f"table {k}", "slots written: 1")], res
    with PinnedMaps(pin) as maps:
        now = maps.read_tables()[k]
        assert now.active == 1 - ts.active and maps.read_table(k) == content
    assert all(_slots(drv, b, 3) == good for b in now.buffers)
    assert drv.nodecmd("t1-a", "apply", plans["t1-a"], component="datapath")["datapath"]["changed"] == 0
