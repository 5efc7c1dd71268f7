"""t1-only services end to end: tier 1 sends straight to the backends through NAT (TCP and a
UDP echo service), replies come back through the same tier-1 node, tier 2 holds nothing of them.
Plans come from compile (lbcli.lab.plans); real packets in a namespace lab."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from lbcli.agent.datapath.flowhash import maglev_slot
from lbcli.agent.datapath.reconciler import HASH_SEED
from lbcli.lab.plans import LabService, node_plans
from lbcli.lab.topology import Topology

from .conftest import SERVER, SERVICE, VIP

pytestmark = pytest.mark.netns

TCP_PORT, UDP_PORT = 8080, 5353
T1_TCP = LabService("default/direct", VIP, TCP_PORT, mode="t1-only")
T1_UDP = LabService("default/echo", VIP, UDP_PORT, "UDP", mode="t1-only")

# UDP echo on a backend: answers "<name> <payload>" from the address it was asked on
UDP_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2], int(sys.argv[3])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode() + b" " + data + b" " + peer[0].encode(), peer)
"""

# client side: one query per source port, {sport: answer} (the answer's source checked)
UDP_CLIENT = r"""
import json, socket, sys
src, vip, port, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
out = {}
for sport in range(first, first + count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
    try:
        s.bind((src, sport)); s.sendto(b"q%d" % sport, (vip, port))
        data, peer = s.recvfrom(2048)
        out[sport] = data.decode() if peer == (vip, port) else "wrong source %s:%d" % peer
    except OSError as exc:
        out[sport] = "error: %s" % exc
    finally:
        s.close()
print(json.dumps(out))
"""


FACTS = r"""
import json, sys
from pathlib import Path
from lbcli.agent.facts import collect
from lbcli.agent.reconciler import NodeContext
from lbcli.plan.read import read_plan
print(json.dumps(collect(NodeContext(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])), read_plan(Path(sys.argv[4])))))
"""


def predicted_backend(plan: dict, client: str, sport: int, port: int, proto: int) -> str:
    t1 = plan["tier1"]
    svc = next(s for s in t1["directServices"] if s["port"] == port)
    table = next(t for t in t1["backendTables"] if t["id"] == svc["backendTable"])
    raw = base64.b64decode(table["table"])
    slot = maglev_slot(client, VIP, sport, port, proto, HASH_SEED, table["size"])
    bid = table["backends"][int.from_bytes(raw[2 * slot:2 * slot + 2], "little")]
    return next(b["ip"] for b in t1["backends"] if b["id"] == bid)


def _start_backends(drv) -> None:
    for be in drv.lab.topology.backends:
        drv.lab.popen(be.name, [sys.executable, "-c", SERVER, be.name, be.ip, str(TCP_PORT)])
        drv.lab.popen(be.name, [sys.executable, "-c", UDP_SERVER, be.name, be.ip, str(UDP_PORT)])
    deadline = time.monotonic() + 10
    for be in drv.lab.topology.backends:
        while time.monotonic() < deadline:
            tcp = drv.lab.run_in(be.name, ["ss", "-Hltn", f"sport = :{TCP_PORT}"]).stdout
            udp = drv.lab.run_in(be.name, ["ss", "-Hlun", f"sport = :{UDP_PORT}"]).stdout
            if be.ip in tcp and be.ip in udp:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"servers on {be.name} did not start")


def _udp_many(drv, first: int, count: int) -> dict[int, str]:
    proc = drv.lab.run_in("client", [sys.executable, "-c", UDP_CLIENT, drv.lab.topology.client_ip, VIP,
                                     str(UDP_PORT), str(first), str(count)], timeout=120)
    return {int(k): v for k, v in json.loads(proc.stdout).items()}


def test_t1_only_tcp_and_udp_through_the_vip(lab_driver):
    drv = lab_driver
    topo = drv.lab.topology
    plans = node_plans(topo, [SERVICE, T1_TCP, T1_UDP])
    # the plans: t1-only services only on tier 1, no listener or VIP of theirs on tier 2
    for t2 in ("t2-a", "t2-b"):
        assert [lst["port"] for lst in plans[t2]["tier2"]["listeners"]] == [80]
    assert sorted(s["port"] for s in plans["t1-a"]["tier1"]["directServices"]) == sorted([TCP_PORT, UDP_PORT])
    drv.apply_all(plans)
    drv.start_servers()  # the two-tier service keeps working beside them
    _start_backends(drv)
    names = {b.ip: b.name for b in topo.backends}
    client = topo.client_ip

    got = drv.connect_many(33000, 60, port=TCP_PORT)
    want = {sport: names[predicted_backend(plans["t1-a"], client, sport, TCP_PORT, 6)] for sport in got}
    assert got == want  # every connection reached the backend the Maglev table names
    assert set(Counter(got.values())) == {"be-a", "be-b"}

    answers = _udp_many(drv, 34000, 60)
    for sport, text in answers.items():
        name, payload, seen_from = text.split(" ")
        assert name == names[predicted_backend(plans["t1-a"], client, sport, UDP_PORT, 17)], (sport, text)
        assert payload == f"q{sport}"
        # NAT: the backend saw a tier-1 node, not the client; the reply came from the VIP
        assert seen_from in [n.ip for n in topo.tier("t1")], text
    assert set(a.split(" ")[0] for a in answers.values()) == {"be-a", "be-b"}

    # two-tier service unchanged next to them
    two_tier = drv.connect_many(35000, 10)
    assert set(two_tier.values()) <= {"t2-a", "t2-b"} and len(two_tier) == 10

    counters = {n: drv.counters(n)["global"] for n in ("t1-a", "t1-b")}
    assert sum(c["nat_forward"] for c in counters.values()) >= 60 * 3 + 60
    assert sum(c["nat_reply"] for c in counters.values()) >= 60 * 2 + 60
    assert all(c["drop_nat_ports"] == c["drop_no_backend"] == c["drop_nat_rewrite"] == 0 for c in counters.values()), counters

    # what `cilium-lb observe` reports for status: programmed on each T1, packets counted
    facts = json.loads(drv.lab.run_in("t1-a", [sys.executable, "-c", FACTS, "t1-a", str(drv.lab.state_dir("t1-a")),
                                               str(drv.lab.bpf_root), str(drv.plan_dir / "t1-a.json")],
                                      cwd=str(Path(__file__).parents[2])).stdout)["services"]
    for name in ("default/direct", "default/echo"):
        assert facts[name]["t1Programmed"] == 1, facts
    assert facts["default/direct"]["packets"] + drv.counters("t1-b")["services"][f"{VIP}:{TCP_PORT}/TCP"]["packets"] >= 60 * 3

    # converged: a second apply changes nothing
    for node in ("t1-a", "t1-b"):
        again = drv.nodecmd(node, "apply", plans[node])
        assert all(c["changed"] == 0 for c in again.values()), again


def test_t1_only_backend_change_and_removal(lab_driver):
    drv = lab_driver
    topo = drv.lab.topology
    plans = node_plans(topo, [T1_TCP])
    drv.apply_all(plans)
    _start_backends(drv)
    assert set(drv.connect_many(36000, 30, port=TCP_PORT).values()) == {"be-a", "be-b"}

    # be-b leaves the pool: its table slots go to be-a, its lb_be entry is deleted; new flows all reach be-a
    one = node_plans(Topology(backends=topo.backends[:1]), [T1_TCP])
    for node in ("t1-a", "t1-b"):
        res = drv.nodecmd(node, "apply", one[node])["datapath"]
        assert res["ok"], res
        objects = [(r["action"], r["object"].split(" ")[0]) for r in res["results"]]
        assert ("delete", "backend") in objects, objects
        assert drv.nodecmd(node, "apply", one[node])["datapath"]["results"] == []
    assert set(drv.connect_many(37000, 30, port=TCP_PORT).values()) == {"be-a"}

    # no t1-only service left: the service, its table, backends and NAT source are removed
    plans2 = node_plans(topo, [SERVICE])
    for node in ("t1-a", "t1-b"):
        res = drv.nodecmd(node, "apply", plans2[node])["datapath"]
        assert res["ok"], res
        kinds = {r["object"].split(" ")[0] for r in res["results"] if r["action"] == "delete"}
        assert {"service", "backend", "nat"} <= kinds, res["results"]
    out = drv.connect_many(38000, 3, port=TCP_PORT)
    assert all(v.startswith("error") for v in out.values()), out


def _no_checksum_offload(lab) -> None:
    """Every veth in the lab computes full checksums on send and verifies them on receive, so a
    checksum the NAT got wrong is dropped by the receiving kernel (over veth, a locally sent
    packet otherwise carries CHECKSUM_PARTIAL and a receiver trusts it unchecked)."""
    for ns in ["client", "router", "seg", "t1-a", "t1-b", *(b.name for b in lab.topology.backends)]:
        links = json.loads(lab.run_in(ns, ["ip", "-j", "link", "show", "type", "veth"]).stdout)
        for link in links:
            lab.run_in(ns, ["ethtool", "-K", link["ifname"], "rx", "off", "tx", "off"])


def test_t1_only_checksums_hold_without_offload(lab_driver):
    drv = lab_driver
    _no_checksum_offload(drv.lab)
    plans = node_plans(drv.lab.topology, [T1_TCP, T1_UDP])
    drv.apply_all({n: p for n, p in plans.items() if n.startswith("t1-")})
    _start_backends(drv)
    got = drv.connect_many(39000, 20, port=TCP_PORT)
    assert set(got.values()) <= {"be-a", "be-b"} and len(got) == 20, got
    answers = _udp_many(drv, 39500, 20)
    assert all(a.split(" ")[0] in ("be-a", "be-b") for a in answers.values()), answers
    # the receivers verified every checksum: none counted bad
    for ns in ("client", *(b.name for b in drv.lab.topology.backends)):
        snmp = drv.lab.run_in(ns, ["cat", "/proc/net/snmp"]).stdout.splitlines()
        for proto in ("Tcp:", "Udp:"):
            head, vals = [line.split() for line in snmp if line.startswith(proto)][:2]
            stats = dict(zip(head[1:], map(int, vals[1:])))
            assert stats.get("InCsumErrors", 0) == 0, (ns, proto, stats)
