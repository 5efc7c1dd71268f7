"""BIRD on two tier-1 node namespaces announcing VIPs to a real FRR router (namespaces on one
bridge segment). Needs root, bird2 and frr."""

from __future__ import annotations

import os
import signal
import time

import pytest

from lbcli.agent.bgp import daemon
from lbcli.agent.bgp.status import live_findings, peers_column, routes_column

from .bgp_topology import (BFD_300x3, NODE_IPS, ROUTER_IP, SECRETS, bgp_lab, have_tools,
                           plan_for, wait_for)

pytestmark = [pytest.mark.netns, pytest.mark.daemons,
              pytest.mark.skipif(have_tools() is not None, reason=str(have_tools()))]

VIP1, VIP2 = "100.64.0.101/32", "100.64.0.102/32"


def ad(prefix: str, service: str = "default/svc", communities=("64512:100",), large=(), lp=None) -> dict:
    return {"prefix": prefix, "service": service, "communities": list(communities),
            "largeCommunities": list(large), "localPreference": lp}


@pytest.fixture
def lab():
    with bgp_lab() as lab:
        yield lab


def announce_both(lab, prefixes: list[dict]) -> None:
    for node in NODE_IPS:
        res = lab.apply(node, plan_for(node, prefixes, bfd=BFD_300x3))
        assert res.ok and res.degraded is None and res.error is None, (node, res)


def both_nexthops(lab, prefix: str, timeout: float = 10.0) -> list[str]:
    want = sorted(NODE_IPS.values())
    return wait_for(lambda: lab.router.nexthops(prefix) == want and want, timeout)


def frr_bfd_up(lab) -> dict[str, dict]:
    peers = {p["peer"]: p for p in lab.router.bfd_peers()}
    if all(peers.get(a, {}).get("status") == "up" for a in NODE_IPS.values()):
        return peers
    return {}


def test_router_learns_vip_from_both_nodes_with_attributes(lab):
    announce_both(lab, [ad(VIP1, communities=("64512:100", "no-export"), large=("64512:7:9",), lp=150)])
    assert both_nexthops(lab, VIP1) == ["192.168.121.11", "192.168.121.12"]
    paths = lab.router.bgp_prefix(VIP1)["paths"]
    assert sorted(p["peer"]["peerId"] for p in paths) == sorted(NODE_IPS.values())
    for p in paths:
        assert sorted(p["community"]["list"]) == ["64512:100", "noExport"]
        assert p["largeCommunity"]["list"] == ["64512:7:9"]
        assert p["locPrf"] == 150
        assert p.get("multipath") or p.get("bestpath")
    # status as `lb status` shows it, read back from BIRD
    rec = lab.nodes["t1-a"]
    desired = rec.desired(plan_for("t1-a", [ad(VIP1)], bfd=BFD_300x3), None)
    assert desired.error and "bgp-auth" in desired.error  # the password must be handed over
    observed = rec.observe()
    assert peers_column(observed) == "1/1 established"
    assert routes_column(observed) == "1 route"
    assert observed.exported == {"bgp_instance0_peer0": (VIP1,)}


def test_only_listed_prefixes_reach_the_peer(lab):
    lab.apply("t1-a", plan_for("t1-a", [ad(VIP1)], bfd=BFD_300x3))
    lab.apply("t1-b", plan_for("t1-b", [ad(VIP2)], bfd=BFD_300x3))
    wait_for(lambda: lab.router.nexthops(VIP1) == ["192.168.121.11"]
             and lab.router.nexthops(VIP2) == ["192.168.121.12"], 10)
    assert sorted(lab.router.bgp_routes()) == [VIP1, VIP2]


def test_bfd_sessions_up_on_both_sides_with_profile_timers(lab):
    announce_both(lab, [ad(VIP1)])
    peers = wait_for(lambda: frr_bfd_up(lab), 10)
    for addr in NODE_IPS.values():
        p = peers[addr]
        assert p["multihop"] is False
        assert (p["receive-interval"], p["transmit-interval"], p["detect-multiplier"]) == (300, 300, 3)
        assert (p["remote-receive-interval"], p["remote-transmit-interval"],
                p["remote-detect-multiplier"]) == (300, 300, 3)
    for node in NODE_IPS:
        observed = lab.nodes[node].observe()
        b = observed.bfd_for(ROUTER_IP)
        assert b is not None and b.up and b.interface == "eth0"
        assert (b.interval, b.timeout) == (0.3, 0.9)
        desired = lab.nodes[node].desired(plan_for(node, [ad(VIP1)], bfd=BFD_300x3), SECRETS)
        assert live_findings(desired.model, observed) == []


def _session_marks(lab) -> dict[str, tuple]:
    """What changes when a session flaps: FRR's connection counters, BIRD's since."""
    nb = lab.router.bgp_neighbors()
    marks = {}
    for node, addr in NODE_IPS.items():
        s = lab.nodes[node].observe().peer("bgp_instance0_peer0")
        marks[node] = (nb[addr]["connectionsEstablished"], nb[addr]["connectionsDropped"],
                       s.bgp_state, s.since)
    return marks


def test_withdraw_readvertise_and_reapply_without_flap(lab):
    both = [ad(VIP1), ad(VIP2, service="default/other")]
    announce_both(lab, both)
    both_nexthops(lab, VIP1)
    both_nexthops(lab, VIP2)
    wait_for(lambda: frr_bfd_up(lab), 10)
    before = _session_marks(lab)

    # the service disappears from the plan (deleted, or marked no-advertisement): withdrawn
    announce_both(lab, [ad(VIP1)])
    wait_for(lambda: VIP2 not in lab.router.bgp_routes(), 5)
    assert lab.router.nexthops(VIP1) == sorted(NODE_IPS.values())
    # back again
    announce_both(lab, both)
    both_nexthops(lab, VIP2, timeout=5)

    # unchanged plan: nothing to do, and the sessions never reconnected
    for node in NODE_IPS:
        rec = lab.nodes[node]
        plan = plan_for(node, both, bfd=BFD_300x3)
        assert rec.diff(rec.desired(plan, SECRETS), rec.observe()) == []
        assert lab.apply(node, plan).changed == 0
    time.sleep(1.0)
    after = _session_marks(lab)
    assert after == before
    for node in NODE_IPS:
        assert lab.nodes[node].observe().peer("bgp_instance0_peer0").uptime() > 1.0


def _time_until_single_nexthop(lab, survivor: str, timeout: float = 10.0) -> float:
    t0 = time.monotonic()
    wait_for(lambda: lab.router.nexthops(VIP1) == [NODE_IPS[survivor]], timeout, interval=0.02)
    return time.monotonic() - t0


def test_sigkill_of_bird_drops_next_hop_within_bfd_time(lab):
    announce_both(lab, [ad(VIP1)])
    both_nexthops(lab, VIP1)
    wait_for(lambda: frr_bfd_up(lab), 10)
    pid = daemon.read_pid(lab.nodes["t1-a"].paths)
    os.kill(pid, signal.SIGKILL)
    elapsed = _time_until_single_nexthop(lab, "t1-b")
    assert elapsed < 2.0, f"next hop of the killed node kept for {elapsed:.2f}s"
    # the agent sees it and says so instead of raising
    observed = lab.nodes["t1-a"].observe()
    assert not observed.daemon.running
    assert peers_column(observed, lab.nodes["t1-a"].desired(
        plan_for("t1-a", [ad(VIP1)], bfd=BFD_300x3), SECRETS).model).startswith("0/1")


def test_hung_bird_drops_next_hop_within_bfd_time(lab):
    """SIGKILL lets the node's kernel close the TCP session (FRR reacts to the FIN); a hung
    daemon keeps it open, so only BFD notices within the second."""
    announce_both(lab, [ad(VIP1)])
    both_nexthops(lab, VIP1)
    wait_for(lambda: frr_bfd_up(lab), 10)
    pid = daemon.read_pid(lab.nodes["t1-a"].paths)
    os.kill(pid, signal.SIGSTOP)
    try:
        elapsed = _time_until_single_nexthop(lab, "t1-b")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert 0.5 < elapsed < 2.0, f"next hop of the hung node dropped after {elapsed:.2f}s"
    both_nexthops(lab, VIP1, timeout=15)  # it comes back on its own (error wait = connect retry)


def test_link_down_drops_next_hop_within_bfd_time(lab):
    announce_both(lab, [ad(VIP1)])
    both_nexthops(lab, VIP1)
    wait_for(lambda: frr_bfd_up(lab), 10)
    lab.link("t1-a", up=False)
    elapsed = _time_until_single_nexthop(lab, "t1-b")
    assert elapsed < 2.0, f"next hop of the cut-off node kept for {elapsed:.2f}s"
    lab.link("t1-a", up=True)
    both_nexthops(lab, VIP1, timeout=15)


def test_peer_rejecting_the_session_is_reported_as_degraded(lab):
    lab.nodes["t1-a"].settle_timeout = 3.0
    wrong = {"kube-system/bgp-auth": {"password": b"not-the-router-password"}}
    res = lab.apply("t1-a", plan_for("t1-a", [ad(VIP1)], bfd=BFD_300x3), secrets=wrong)
    assert res.error is None and res.results and all(r.ok for r in res.results)
    assert res.degraded and "peer instance0/peer0 192.168.121.201" in res.degraded
    assert "TCP-MD5" in res.degraded and "not-the-router-password" not in res.degraded
    assert VIP1 not in lab.router.bgp_routes()
    findings = live_findings(lab.nodes["t1-a"].desired(plan_for("t1-a", [ad(VIP1)], bfd=BFD_300x3), wrong).model,
                             lab.nodes["t1-a"].observe())
    assert [f.object for f in findings] == ["bgp peer instance0/peer0 192.168.121.201"]
    # fixing the password converges without restarting BIRD
    pid = daemon.read_pid(lab.nodes["t1-a"].paths)
    res = lab.apply("t1-a", plan_for("t1-a", [ad(VIP1)], bfd=BFD_300x3))
    assert res.ok and res.degraded is None
    assert daemon.read_pid(lab.nodes["t1-a"].paths) == pid
    wait_for(lambda: lab.router.nexthops(VIP1) == ["192.168.121.11"], 10)


def test_reset_stops_bird_and_removes_its_files(lab):
    announce_both(lab, [ad(VIP1)])
    both_nexthops(lab, VIP1)
    rec = lab.nodes["t1-a"]
    mode = rec.paths.conf.stat().st_mode & 0o777
    assert mode == 0o600
    assert "lab-md5-secret" in rec.paths.conf.read_text()  # MD5 needs it in the file, hence 0600
    res = rec.reset()
    assert res.ok
    assert not rec.paths.dir.exists()
    assert daemon.read_pid(rec.paths) is None
    # BIRD said goodbye (Cease), so the router drops the path at once, no BFD needed
    assert _time_until_single_nexthop(lab, "t1-b", timeout=5) < 1.0
