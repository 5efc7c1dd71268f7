"""The network component's desired objects from a plan (lbcli/agent/network/desired.py), with the
host reads it makes (uplink, route lookups, the GENEVE probe) replaced by a table: each case is
about one host condition that the namespace lab cannot produce (a peer behind a gateway, a
kernel with or without GENEVE). Everything else is exercised for real by tests/e2e/test_podnet.py."""

from __future__ import annotations

import pytest

from lbcli.agent.network import desired as D
from lbcli.model.tunnel import pod_tunnel_mac


def _node(name, ip, cidrs):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}, "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def _pod(name, ip, **rates):
    ann = {f"kubernetes.io/{k}-bandwidth": v for k, v in rates.items()}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "default", "name": name, "annotations": ann},
            "spec": {"nodeName": "a"}, "status": {"podIP": ip}}


def _plan(mode="tunnel", pods=(), edit=None, **options):
    """Node a's plan as compile makes it from Nodes a, b (an IPv6 PodCIDR too) and c (another
    subnet), `cilium-config` with routing-mode `mode` and `options`, and `pods` (on node a);
    `edit(network)` changes the compiled network section (JSON form) before it is read."""
    import yaml

    from lbcli.plan.types import NodePlan

    from .lintkit import compiled_json, lint_texts

    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cilium-config", "namespace": "kube-system"},
             "data": {"routing-mode": mode, **options}},
            _node("a", "192.168.1.1", ["10.1.1.0/24"]), _node("b", "192.168.1.2", ["10.1.2.0/24", "fd00:2::/64"]),
            _node("c", "192.168.9.3", ["10.1.3.0/24"]), *pods]
    report = lint_texts({"net.yaml": yaml.safe_dump_all(docs, sort_keys=False)})
    assert report.summary["errors"] == 0, [str(p) for p in report.problems]
    doc = compiled_json(report.index).plans["a"]
    if edit is not None:
        edit(doc["network"])
    return NodePlan.from_json(doc)


MAC_B, MAC_C = pod_tunnel_mac("b"), pod_tunnel_mac("c")
NATIVE = {"ipv4-native-routing-cidr": "10.0.0.0/8"}  # native routing needs it (lint)


@pytest.fixture
def host(monkeypatch):
    gateways = {"192.168.1.2": None, "192.168.9.3": "192.168.1.254"}
    monkeypatch.setattr(D.nl, "link_by_address", lambda ip: "eth0" if ip == "192.168.1.1" else None)
    monkeypatch.setattr(D.nl, "route_lookup", lambda ip: (gateways.get(ip), "lxc-x" if ip.startswith("10.1.1.") else "eth0"))
    probe = {"geneve": (False, "add geneve link: Operation not supported")}
    monkeypatch.setattr(D.nl, "link_kind_supported", lambda kind, **kw: probe[kind])
    return probe


def test_tunnel_has_one_fdb_neighbour_and_route_per_peer(host):
    want = D.desired_from_plan(_plan())
    keys = set(want.objects)
    assert {"device lbpod_vxlan", "address 10.1.1.0/32 on lbpod_vxlan", f"fdb {MAC_B} on lbpod_vxlan",
            "neighbour 10.1.2.0 on lbpod_vxlan", "route 10.1.2.0/24", "route 10.1.3.0/24"} <= keys
    assert want.objects["route 10.1.3.0/24"] == D.Route("10.1.3.0/24", "10.1.3.0", "lbpod_vxlan", True)
    assert want.objects["route 10.1.3.0/24"].peer == "c"
    assert want.objects[f"fdb {MAC_C} on lbpod_vxlan"].remote == "192.168.9.3"
    assert any("IPv6 PodCIDRs fd00:2::/64 not programmed" in n for n in want.notes)


def test_native_routes_only_peers_on_the_segment(host):
    want = D.desired_from_plan(_plan("native", **NATIVE, **{"auto-direct-node-routes": "true"}))
    assert want.objects["route 10.1.2.0/24"] == D.Route("10.1.2.0/24", "192.168.1.2", None, False)
    assert "route 10.1.3.0/24" not in want.objects and want.device is None
    [finding] = [n for n in want.notes if n.startswith("finding")]
    assert "peer c (192.168.9.3) is not on this node's L2 segment (reached via 192.168.1.254)" in finding


def test_native_without_direct_routes_installs_none_and_says_so(host):
    want = D.desired_from_plan(_plan("native", **NATIVE))
    assert not [k for k in want.objects if k.startswith("route")]
    assert any("expected from elsewhere" in n for n in want.notes)


def test_masquerade_keeps_the_native_cidr_or_the_cluster_pod_cidrs(host):
    nft = D.desired_from_plan(_plan()).objects["nft table inet cilium_lb_nat"]
    [r] = nft.rules
    kept = [e["match"]["right"]["prefix"]["addr"] for e in r["expr"] if e.get("match", {}).get("op") == "!="]
    assert kept == ["10.1.1.0", "10.1.2.0", "10.1.3.0"] and r["expr"][-1] == {"snat": {"family": "ip", "addr": "192.168.1.1"}}
    nft = D.desired_from_plan(_plan("native", **{"ipv4-native-routing-cidr": "10.0.0.0/8"})).objects["nft table inet cilium_lb_nat"]
    assert [e["match"]["right"] for e in nft.rules[0]["expr"] if e.get("match", {}).get("op") == "!="] == [
        {"prefix": {"addr": "10.0.0.0", "len": 8}}]
    assert "nft table inet cilium_lb_nat" not in D.desired_from_plan(_plan(**{"enable-ipv4-masquerade": "false"})).objects


def test_bandwidth_objects_and_a_pod_not_on_this_node(host):
    # y runs on node a by its spec but its address routes elsewhere: lint refuses a podIP
    # outside the node's PodCIDRs (pod-ip-cidr), so compile's plan gets that address put in
    def move_y(net):
        [y] = [b for b in net["bandwidth"] if b["pod"] == "default/y"]
        y["ip"] = "10.1.2.9"

    pods = [_pod("x", "10.1.1.5", egress="10M", ingress="20M"), _pod("y", "10.1.1.9", ingress="1M")]
    want = D.desired_from_plan(_plan(pods=pods, edit=move_y, **{"enable-bandwidth-manager": "true"}))
    assert want.objects["class c1:105 on eth0"] == D.HtbClass("eth0", 0xC10105, 10**7)
    assert want.objects["qdisc tbf on lxc-x"].bps == 2 * 10**7
    assert "no local device routes to Pod default/y" in want.objects["tbf for default/y"].error
    assert "qdisc htb on eth0" in want.objects
    assert any("no fq qdisc" in n for n in want.notes)


def test_geneve_refused_naming_the_missing_kernel_feature(host):
    # lint refuses tunnel-protocol geneve (not-implemented): the node refuses it too, on
    # compile's plan with the protocol and its port put in
    plan = _plan(edit=lambda net: net.update(tunnelProtocol="geneve", tunnelPort=6081))
    with pytest.raises(D.NetworkError, match="this kernel has no GENEVE support .*Operation not supported"):
        D.desired_from_plan(plan)
    host["geneve"] = (True, "")
    with pytest.raises(D.NetworkError, match="geneve is not implemented"):
        D.desired_from_plan(plan)


@pytest.mark.parametrize("name", ["default/a\nb", 'default/a" accept', "default/a;b", "default/" + "a" * 300])
def test_hostile_pod_keys_never_reach_nft_unchecked(name):
    """The pod key is the only manifest string in the nft document: the plan refuses it unless
    it is namespace/name, and the rule carries it JSON-encoded (nft -j has no text syntax) and
    cut to nft's comment limit."""
    import json

    from lbcli.plan.spec import PlanFormatError
    from lbcli.plan.types import PodBandwidth

    doc = {"pod": name, "ip": "10.1.1.5", "egressBitsPerSecond": 10**7, "ingressBitsPerSecond": None}
    if "\n" in name or '"' in name or ";" in name:
        with pytest.raises(PlanFormatError):
            PodBandwidth.from_json(doc, ("bandwidth", 0))
    rule = D._priority_rule("10.1.1.5", 0x105, name)
    assert len(rule["comment"].encode()) <= 127 and json.loads(json.dumps(rule)) == rule


def test_diff_is_typed_ordered_and_empty_when_converged(host, tmp_path):
    """diff compares the typed specs (ids and the Pod a class is for are not compared), deletes
    last-created first, then creates in dependency order; converged -> no change."""
    from lbcli.agent.network.reconciler import NetworkObserved, NetworkReconciler
    from lbcli.agent.reconciler import NodeContext

    rec = NetworkReconciler(NodeContext("a", tmp_path, tmp_path))
    want = D.desired_from_plan(_plan())
    have = dict(want.objects)
    assert rec.diff(want, NetworkObserved(have, {"device": "lbpod_vxlan"})) == []
    have["route 10.1.2.0/24"] = D.Route("10.1.2.0/24", "10.1.2.0", "lbpod_vxlan", True, peer="")  # peer: not compared
    have["route 10.9.0.0/24"] = D.Route("10.9.0.0/24", "192.168.1.7")  # left by an older plan
    have[f"fdb {MAC_C} on lbpod_vxlan"] = D.Fdb("lbpod_vxlan", MAC_C, "192.168.9.99")
    del have["device lbpod_vxlan"]
    changes = rec.diff(want, NetworkObserved(have, {}))
    assert [(c.action, c.object) for c in changes] == [
        ("delete", "route 10.9.0.0/24"), ("create", "device lbpod_vxlan"),
        ("update", f"fdb {MAC_C} on lbpod_vxlan"), ("update", "state")]
    assert changes[2].detail == "remote 192.168.9.99 -> 192.168.9.3" and isinstance(changes[2].spec, D.Fdb)
    assert all(c.vips is None for c in changes[:3]) and changes[3].vips == ()
