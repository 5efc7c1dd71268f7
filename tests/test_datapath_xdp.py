"""What `--datapath xdp` refuses, by name, before anything changes on the node."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lbcli.agent.datapath import xdp
from lbcli.agent.datapath.reconciler import DatapathError, DatapathReconciler
from lbcli.agent.reconciler import NodeContext
from lbcli.lab.plans import LabService, node_plans
from lbcli.lab.topology import DEFAULT
from lbcli.plan.types import NodePlan


def _svc(**extra):
    doc = {"service": "shop/web", "vip": "100.64.0.9", "port": 443, "protocol": "TCP", "t2Nodes": ["t2-a"],
           "maglevTable": 0, **extra}
    return SimpleNamespace(service=doc["service"], vip=doc["vip"], port=doc["port"], protocol=doc["protocol"],
                           to_json=lambda: doc)


def test_compiled_plans_are_carried():
    plans = node_plans(DEFAULT, [LabService("default/echo", "100.64.0.101", 80)])
    assert xdp.refusals(NodePlan.from_json(plans["t1-a"])) == []


def test_a_service_with_more_than_a_maglev_table_is_refused_by_name():
    plan = SimpleNamespace(tier1=SimpleNamespace(services=[_svc(), _svc(backends=[{"ip": "10.0.0.1"}])]))
    why = xdp.refusals(plan)
    assert len(why) == 1 and "shop/web" in why[0] and "100.64.0.9:443/TCP" in why[0] and "backends" in why[0]


def test_ipv6_vip_is_refused():
    plan = SimpleNamespace(tier1=SimpleNamespace(services=[_svc(vip="2001:db8::1")]))
    assert any("IPv6" in w and "shop/web" in w for w in xdp.refusals(plan))


def test_unknown_mode_is_refused(tmp_path):
    rec = DatapathReconciler(NodeContext("n", tmp_path, tmp_path / "bpf", datapath="dpdk"))
    plans = node_plans(DEFAULT, [LabService("default/echo", "100.64.0.101", 80)])
    with pytest.raises(DatapathError, match="dpdk"):
        rec.diff(NodePlan.from_json(plans["t1-a"]), SimpleNamespace(state={}, xdp=None))


def test_a_t1_only_service_is_refused_by_name():
    plans = node_plans(DEFAULT, [LabService("default/echo", "100.64.0.101", 80),
                                 LabService("default/dns", "100.64.0.102", 53, protocol="UDP", mode="t1-only")])
    plan = NodePlan.from_json(plans["t1-a"])
    assert plan.tier1.direct_services, "the lab compiles a t1-only service"
    [why] = xdp.refusals(plan)
    assert "default/dns" in why and "t1-only" in why and "--datapath tc" in why
