"""compile: the plan's network section for pod networking (peers with their tunnel MACs, this
node's Pod bandwidth when the bandwidth manager is on)."""

from __future__ import annotations

from lbcli.lab.podnet import manifests
from lbcli.lab.topology import PODNET
from tests.lintkit import compiled_json, lint_texts

EG, IN = "kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth"


def _plans(config, bandwidth=None):
    rep = lint_texts({"podnet.yaml": manifests(PODNET, config, bandwidth)})
    assert [p for p in rep.problems if p.severity.name == "ERROR"] == []
    return compiled_json(rep.index).plans


def test_tunnel_peers_and_device():
    net = _plans({"routing-mode": "tunnel"})["node-a"]["network"]
    assert (net["tunnelDevice"], net["tunnelPort"], net["tunnelVNI"]) == ("lbpod_vxlan", 8472, 2)
    assert [p["node"] for p in net["peers"]] == ["node-b", "node-c"]
    b = _plans({"routing-mode": "tunnel"})["node-b"]["network"]
    # what node-a writes as node-b's MAC is node-b's own device MAC
    assert next(p for p in net["peers"] if p["node"] == "node-b")["tunnelMac"] == b["tunnelMac"]
    assert net["bandwidth"] == []


def test_native_has_no_tunnel():
    net = _plans({"routing-mode": "native", "ipv4-native-routing-cidr": "10.244.0.0/16"})["node-a"]["network"]
    assert net["tunnelDevice"] is None and net["tunnelMac"] is None and net["nativeRoutingCIDR"] == "10.244.0.0/16"


def test_bandwidth_only_for_this_nodes_pods_and_only_with_the_manager():
    bw = {"pod-a": {EG: "10M", IN: "1Gi"}, "pod-b": {IN: "500k"}}
    plans = _plans({"enable-bandwidth-manager": "true"}, bw)
    assert plans["node-a"]["network"]["bandwidth"] == [
        {"pod": "default/pod-a", "ip": "10.244.1.10", "egressBitsPerSecond": 10**7, "ingressBitsPerSecond": 2**30}]
    assert plans["node-b"]["network"]["bandwidth"] == [
        {"pod": "default/pod-b", "ip": "10.244.2.10", "egressBitsPerSecond": None, "ingressBitsPerSecond": 500000}]
    assert plans["node-c"]["network"]["bandwidth"] == []
    off = _plans({}, {"pod-a": {EG: "10M"}})
    assert off["node-a"]["network"]["bandwidth"] == []


def test_options_read_as_cilium_reads_them():
    # tunnel-port 0 is the protocol's default (cilium pkg/datapath/tunnel), Go integers and
    # booleans as lint reads them (lbcli/model/cilium_config.py): one meaning for both
    assert _plans({"tunnel-port": "0"})["node-a"]["network"]["tunnelPort"] == 8472
    assert _plans({"tunnel-port": "0x2000"})["node-a"]["network"]["tunnelPort"] == 8192
    net = _plans({"routing-mode": "native", "ipv4-native-routing-cidr": "10.244.0.0/16",
                  "auto-direct-node-routes": "1", "enable-ipv4-masquerade": "F"})["node-a"]["network"]
    assert net["autoDirectNodeRoutes"] is True and net["masquerade"] is False
