"""A node in both tiers (`service.cilium.io/node: t1-t2`) with real packets in a namespace lab:
its tier-1 program dispatches to itself and to another tier-2 node through the one external
VXLAN device the kernel allows per UDP port (tier 2's), and it serves the client directly
(DSR). Plans come from compile (lbcli.lab.plans)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from lbcli.lab import Lab
from lbcli.lab.plans import T1_DEVICE, T2_DEVICE, node_plans
from lbcli.lab.topology import DEFAULT, LabNode

from .conftest import SERVICE, LabDriver, _require_root
from .test_datapath_e2e import predicted_t2, service_packets

pytestmark = pytest.mark.netns

BOTH = replace(DEFAULT, nodes=(LabNode("t12-a", "192.168.121.11", ("t1", "t2")),
                               LabNode("t2-b", "192.168.121.22", ("t2",))))
# the same machines, the first one in tier 1 only (the plan it had before being relabelled)
T1_ONLY = replace(BOTH, nodes=(LabNode("t12-a", "192.168.121.11", ("t1",)), BOTH.nodes[1]))
ORDER = "receive,datapath"  # the engine's component order (lbcli/agent/engine.py)


@pytest.fixture
def both_driver():
    _require_root()
    with Lab(BOTH) as lab:
        lab.mount_bpffs()
        yield LabDriver(lab)


def _vxlan(drv: LabDriver, node: str) -> dict[str, dict]:
    links = json.loads(drv.lab.run_in(node, ["ip", "-j", "-d", "link", "show", "type", "vxlan"]).stdout)
    return {lk["ifname"]: lk["linkinfo"]["info_data"] for lk in links}


def _apply(drv: LabDriver, node: str, plan: dict) -> dict:
    res = drv.nodecmd(node, "apply", plan, component=ORDER)
    assert all(c["ok"] for c in res.values()), res
    return res


def test_t1_t2_node_dispatches_to_itself_and_to_another_t2(both_driver):
    drv = both_driver
    plans = node_plans(drv.lab.topology, [SERVICE])
    both = plans["t12-a"]
    assert both["tier1"] and both["tier2"]
    assert sorted(both["tier1"]["services"][0]["t2Nodes"]) == ["t12-a", "t2-b"]
    for node, plan in plans.items():
        _apply(drv, node, plan)
    again = drv.nodecmd("t12-a", "apply", both, component=ORDER)
    assert all(c["ok"] and c["changed"] == 0 for c in again.values()), again  # converged
    # one external device, tier 2's, which tier 1 sends through
    devs = _vxlan(drv, "t12-a")
    assert list(devs) == [T2_DEVICE] and devs[T2_DEVICE].get("external") is True

    drv.start_servers()
    before = service_packets(drv, "t12-a")
    got = drv.connect_many(30000, 120)
    client = drv.lab.topology.client_ip
    assert got == {sport: predicted_t2(both, client, sport) for sport in got}  # as the Maglev table says
    counts = Counter(got.values())
    assert set(counts) == {"t12-a", "t2-b"} and min(counts.values()) >= 30, counts
    assert service_packets(drv, "t12-a") - before >= 120 * 3  # every flow went through tier 1

    # a reset leaves neither tier's device, and a second one has nothing to do
    res = drv.nodecmd("t12-a", "reset", component=ORDER)
    assert all(c["ok"] for c in res.values()), res
    assert _vxlan(drv, "t12-a") == {}
    assert all(c["changed"] == 0 for c in drv.nodecmd("t12-a", "reset", component=ORDER).values())


def test_relabelling_t1_to_t1_t2_and_back_moves_the_device(both_driver):
    drv = both_driver
    plans = node_plans(drv.lab.topology, [SERVICE])
    t1_plan = node_plans(T1_ONLY, [SERVICE])["t12-a"]
    assert t1_plan["tier2"] is None
    _apply(drv, "t2-b", plans["t2-b"])
    _apply(drv, "t12-a", t1_plan)
    # servers bind the VIP: on t12-a it is on lo while both tiers' plan is applied, and a
    # server started then keeps its socket across the relabelling back to t1 (no VIP, no traffic)
    _apply(drv, "t12-a", plans["t12-a"])
    drv.start_servers()
    _apply(drv, "t12-a", t1_plan)
    client = drv.lab.topology.client_ip

    assert list(_vxlan(drv, "t12-a")) == [T1_DEVICE]
    assert set(drv.connect_many(31000, 20).values()) == {"t2-b"}

    _apply(drv, "t12-a", plans["t12-a"])  # tier 2 takes the port, tier 1 moves onto its device
    assert list(_vxlan(drv, "t12-a")) == [T2_DEVICE]
    got = drv.connect_many(32000, 60)
    assert got == {sport: predicted_t2(plans["t12-a"], client, sport) for sport in got}
    assert set(got.values()) == {"t12-a", "t2-b"}

    _apply(drv, "t12-a", t1_plan)  # back: tier 2's device goes, tier 1 gets its own again
    assert list(_vxlan(drv, "t12-a")) == [T1_DEVICE]
    assert set(drv.connect_many(33000, 20).values()) == {"t2-b"}
    again = drv.nodecmd("t12-a", "apply", t1_plan, component=ORDER)
    assert all(c["changed"] == 0 for c in again.values()), again
