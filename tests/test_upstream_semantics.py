"""Upstream semantics carried out end to end: Cilium OSS BGP kinds compile to the same plan as
Isovalent's, node overrides, t1-t2 nodes, deprecated LB-IPAM annotations, known kinds."""

from __future__ import annotations

import json

from lbcli.agent.bgp.model import model_from_plan as bgp_model
from lbcli.agent.bgp.render import render_bird_conf
from lbcli.agent.datapath.reconciler import desired_from_plan
from lbcli.plan.types import NodePlan


from .lintkit import EXAMPLES, by_rule, compiled_json, lint_example, lint_text

BGP = EXAMPLES / "rebel-base" / "bgp.yaml"
CILIUM_CONFIG = "ConfigMap/kube-system/cilium-config"
NODES = EXAMPLES / "rebel-base" / "nodes.yaml"

CILIUM_BGP = """\
---
apiVersion: cilium.io/v2
kind: CiliumBGPClusterConfig
metadata: {name: router-bgp}
spec:
  nodeSelector: {matchLabels: {service.cilium.io/node: t1}}
  bgpInstances:
    - name: instance0
      localASN: 64512
      peers:
        - {name: peer0, peerAddress: 192.168.121.201, peerASN: 64512, peerConfigRef: {name: router-peer-config}}
---
apiVersion: cilium.io/v2
kind: CiliumBGPPeerConfig
metadata: {name: router-peer-config}
spec:
  families:
    - {afi: ipv4, safi: unicast, advertisements: {matchLabels: {advertisement: ilb}}}
---
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPAdvertisement
metadata: {name: ilb, labels: {advertisement: ilb}}
spec:
  advertisements:
    - advertisementType: Service
      service: {addresses: [LoadBalancerIP]}
      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}
"""

OVERRIDE = """\
---
apiVersion: cilium.io/v2
kind: CiliumBGPNodeConfigOverride
metadata: {name: lb-t1-1}
spec:
  bgpInstances:
    - name: instance0
      routerID: 10.0.0.1
      localPort: 1790
      localASN: 64600
      peers:
        - {name: peer0, localAddress: 192.168.121.11}
"""


def _bgp_plans(bgp_text: str):
    rep = lint_example("rebel-base", {str(BGP): bgp_text})
    return rep, compiled_json(rep.index)


def _peer(plan):
    return plan["bgp"]["instances"][0]["peers"][0]


def test_cilium_oss_bgp_kinds_compile_like_isovalent_ones():
    iso = compiled_json(lint_example("rebel-base").index).plans["lb-t1-1"]
    rep, oss = _bgp_plans(CILIUM_BGP)
    assert not [p for p in rep.problems if p.severity.name != "INFO"], rep.problems
    plan = oss.plans["lb-t1-1"]
    # the same speaker: instance, peer, timers, prefixes; only BFD (an Isovalent kind) differs
    a, b = dict(_peer(iso)), dict(_peer(plan))
    assert a.pop("bfd") is not None and b.pop("bfd") is None
    assert a == b
    assert plan["bgp"]["instances"][0]["routerId"] == iso["bgp"]["instances"][0]["routerId"]
    assert [p["prefix"] for p in _peer(plan)["prefixes"]] == ["100.64.0.101/32"]


RICH_BGP = """\
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPClusterConfig
metadata: {name: router-bgp}
spec:
  nodeSelector: {matchLabels: {service.cilium.io/node: t1}}
  bgpInstances:
    - name: instance0
      localASN: 64512
      localPort: 1179
      peers:
        - {name: peer0, peerAddress: 192.168.121.201, peerASN: 64513, peerConfigRef: {name: router-peer-config}}
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPPeerConfig
metadata: {name: router-peer-config}
spec:
  transport: {peerPort: 1790}
  timers: {connectRetryTimeSeconds: 5, holdTimeSeconds: 9, keepAliveTimeSeconds: 3}
  gracefulRestart: {enabled: true, restartTimeSeconds: 30}
  ebgpMultihop: 4
  authSecretRef: bgp-auth
  families:
    - {afi: ipv4, safi: unicast, advertisements: {matchLabels: {advertisement: ilb}}}
    - {afi: ipv6, safi: unicast}
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPAdvertisement
metadata: {name: ilb, labels: {advertisement: ilb}}
spec:
  advertisements:
    - advertisementType: Service
      service: {addresses: [LoadBalancerIP]}
      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}
      attributes:
        communities: {standard: ["65000:100"], large: ["1:2:3"], wellKnown: [no-export]}
        localPreference: 200
---
apiVersion: v1
kind: Secret
metadata: {namespace: kube-system, name: bgp-auth}
stringData: {password: not-a-real-password}
"""


def _as_cilium(text: str) -> str:
    for kind in ("ClusterConfig", "PeerConfig", "Advertisement"):
        text = text.replace(f"kind: IsovalentBGP{kind}", f"kind: CiliumBGP{kind}")
    return text.replace("apiVersion: isovalent.com/v1\n", "apiVersion: cilium.io/v2\n")


def test_every_carried_bgp_field_compiles_the_same_from_cilium_oss_kinds():
    """Each field the schema registry counts carried for the Isovalent kinds, set to a value
    other than its default, gives the same plan from the Cilium OSS kinds (one compile path)."""
    rep_iso, iso = _bgp_plans(RICH_BGP)
    rep_oss, oss = _bgp_plans(_as_cilium(RICH_BGP))
    for rep in (rep_iso, rep_oss):
        assert not [p for p in rep.problems if p.severity.name != "INFO"]
    a, b = iso.plans["lb-t1-1"]["bgp"], oss.plans["lb-t1-1"]["bgp"]
    assert a == b
    inst = a["instances"][0]
    peer = inst["peers"][0]
    assert (inst["localPort"], peer["asn"], peer["port"], peer["ebgpMultihop"]) == (1179, 64513, 1790, 4)
    assert peer["timers"] == {"connectRetrySeconds": 5, "holdTimeSeconds": 9, "keepAliveSeconds": 3}
    assert peer["gracefulRestart"] == {"enabled": True, "restartTimeSeconds": 30}
    assert peer["auth"]["secretRef"] == "kube-system/bgp-auth"
    assert [(f["afi"], f["safi"]) for f in peer["families"]] == [("ipv4", "unicast"), ("ipv6", "unicast")]
    [pfx] = peer["prefixes"]
    assert (pfx["communities"], pfx["largeCommunities"], pfx["localPreference"]) == (
        ["65000:100", "no-export"], ["1:2:3"], 200)
    assert "bgp" not in [k for k, v in oss.plans["lb-t2-1"].items() if v]  # nodeSelector: t1 only


def test_cilium_oss_bgp_lint_rules_apply():
    broken = CILIUM_BGP.replace("peerConfigRef: {name: router-peer-config}", "peerConfigRef: {name: router-peer-confg}")
    rep = lint_example("rebel-base", {str(BGP): broken})
    [p] = by_rule(rep, "ref-peer-config")
    assert "CiliumBGPPeerConfig router-peer-confg does not exist" in p.message
    assert "did you mean 'router-peer-config'" in p.message
    rep = lint_example("rebel-base", {str(BGP): CILIUM_BGP.replace("advertisement: ilb}}}", "advertisement: x}}}")})
    [p] = by_rule(rep, "selector-match")
    assert "matches no CiliumBGPAdvertisement" in p.message


def test_node_override_sets_router_id_and_port_and_refuses_per_peer_fields():
    rep, c = _bgp_plans(CILIUM_BGP + OVERRIDE)
    inst = c.plans["lb-t1-1"]["bgp"]["instances"][0]
    assert (inst["routerId"], inst["localPort"], inst["localASN"]) == ("10.0.0.1", 1790, 64600)
    other = c.plans["lb-t1-2"]["bgp"]["instances"][0]
    assert (other["routerId"], other["localPort"], other["localASN"]) == ("192.168.121.12", 179, 64512)
    # and BIRD is told so on that node
    conf = render_bird_conf(bgp_model(c.plans["lb-t1-1"], {}))
    assert "  router id 10.0.0.1;" in conf and "port 1790 as 64600;" in conf
    [p] = by_rule(rep, "not-implemented")
    assert p.severity.name == "WARNING" and "per-peer localAddress override is not implemented" in p.message
    text = CILIUM_BGP + OVERRIDE
    assert p.file == str(BGP) and p.line == text.splitlines().index("        - {name: peer0, localAddress: 192.168.121.11}") + 1


def test_unsupported_advertisements_are_named_not_ignored():
    text = CILIUM_BGP.replace(
        "      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}\n",
        "      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}\n"
        "    - advertisementType: Interface\n      interface: {name: eth0}\n")
    rep, c = _bgp_plans(text)
    [p] = by_rule(rep, "not-implemented")
    assert "advertisementType Interface is not implemented by cilium-lb" in p.message
    assert [x["prefix"] for x in _peer(c.plans["lb-t1-1"])["prefixes"]] == ["100.64.0.101/32"]


def test_pod_cidr_advertisements_announce_each_nodes_own_pod_cidr():
    """advertisementType PodCIDR: each node the cluster config selects announces its own PodCIDR
    (with the advertisement's attributes); a node that is not tier 1 runs BGP for that alone."""
    pod_cidr = "    - advertisementType: PodCIDR\n      attributes: {communities: {standard: ['64512:7']}}\n"
    text = CILIUM_BGP.replace("      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}\n",
                              "      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}\n"
                              + pod_cidr)
    rep, c = _bgp_plans(text)
    assert by_rule(rep, "not-implemented") == []
    got = {x["prefix"]: x for x in _peer(c.plans["lb-t1-1"])["prefixes"]}
    assert sorted(got) == ["10.244.1.0/24", "100.64.0.101/32"]
    assert got["10.244.1.0/24"]["services"] == [] and got["10.244.1.0/24"]["communities"] == ["64512:7"]
    assert [x["prefix"] for x in _peer(c.plans["lb-t1-2"])["prefixes"]] == ["10.244.2.0/24", "100.64.0.101/32"]
    assert c.plans["lb-t2-1"]["bgp"] is None  # not selected by the cluster config
    everyone = text.replace("nodeSelector: {matchLabels: {service.cilium.io/node: t1}}", "nodeSelector: {}")
    rep, c = _bgp_plans(everyone)
    assert [x["prefix"] for x in _peer(c.plans["lb-t2-1"])["prefixes"]] == ["10.244.3.0/24"]


def test_t1_t2_node_gets_both_sections_and_one_shared_tunnel_device():
    nodes = NODES.read_text().replace("service.cilium.io/node: t2", "service.cilium.io/node: t1-t2", 1)
    rep = lint_example("rebel-base", {str(NODES): nodes})
    assert by_rule(rep, "tier-nodes") == []
    c = compiled_json(rep.index)
    both = c.plans["lb-t2-1"]
    assert both["node"]["tiers"] == ["t1", "t2"]
    assert both["tier1"] is not None and both["tier2"] is not None
    # it is a T2 node of the services and announces them as a T1 node
    assert "lb-t2-1" in both["tier1"]["services"][0]["t2Nodes"]
    # the kernel allows one external VXLAN device per UDP port: tier 1 sends through tier 2's
    want = desired_from_plan(NodePlan.from_json(both))
    t2d = both["tier2"]["dispatch"]
    assert (want.device, want.port, want.mac) == (t2d["device"], t2d["port"], t2d["tunnelMac"].lower())
    assert not want.owned and want.device != both["tier1"]["dispatch"]["device"]
    # a T1-only node's plan is unaffected: a device of its own
    alone = desired_from_plan(NodePlan.from_json(c.plans["lb-t1-1"]))
    assert alone.owned and alone.device == c.plans["lb-t1-1"]["tier1"]["dispatch"]["device"]
    # tier 1 and tier 2 on different ports do not share
    other = json.loads(json.dumps(both))
    other["tier1"]["dispatch"]["port"] = 4790
    assert desired_from_plan(NodePlan.from_json(other)).owned


SVC = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  annotations: {{{ann}}}
spec:
  type: LoadBalancer
  ports: [{{port: 80}}]
---
apiVersion: cilium.io/v2
kind: CiliumLoadBalancerIPPool
metadata: {{name: p}}
spec:
  blocks: [{{cidr: 100.64.1.0/28}}]
"""


def test_deprecated_ipam_annotation_is_honoured_with_a_note():
    rep = lint_text(SVC.format(ann='"io.cilium/lb-ipam-ips": "100.64.1.9"'))
    [p] = by_rule(rep, "deprecated-annotation")
    assert p.severity.name == "INFO" and "lbipam.cilium.io/ips" in p.message
    from lbcli.compile.ipam import allocate
    assert allocate(rep.index).address("Service/default/web") == "100.64.1.9"
    # outside every pool: vip-in-pool sees the deprecated request too
    rep = lint_text(SVC.format(ann='"io.cilium/lb-ipam-ips": "100.64.9.9"'))
    assert by_rule(rep, "vip-in-pool")


def test_known_upstream_kinds_are_info_once_per_kind():
    text = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: a, namespace: default}
spec: {endpointSelector: {}}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: b, namespace: default}
spec: {endpointSelector: {}}
---
apiVersion: isovalent.com/v1alpha1
kind: IsovalentVRF
metadata: {name: carrots}
spec: {vrfID: 99}
---
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPPeeringPolicy
metadata: {name: p}
spec: {virtualRouters: []}
"""
    rep = lint_text(text)
    assert [p.severity.name for p in rep.problems] == ["INFO"] * 3
    msgs = sorted(p.message for p in rep.problems)
    assert msgs == ["known, not carried out by cilium-lb: CiliumBGPPeeringPolicy (1 object)",
                    "known, not carried out by cilium-lb: CiliumNetworkPolicy (2 objects)",
                    "known, not carried out by cilium-lb: IsovalentVRF (1 object)"]
    assert rep.summary["skipped"] == 4 and rep.summary["invalid"] == 0


def test_did_you_mean_only_for_names_that_are_not_kinds():
    rep = lint_text("apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfg\nmetadata: {name: x}\n")
    [p] = by_rule(rep, "unknown-kind")
    assert "did you mean CiliumBGPPeerConfig (cilium.io/v2, cilium.io/v2alpha1)?" in p.message
    # a real kind served under the wrong version is not a typo of another kind
    rep = lint_text("apiVersion: cilium.io/v2\nkind: CiliumL2AnnouncementPolicy\nmetadata: {name: x}\n")
    [p] = by_rule(rep, "unknown-kind")
    assert p.message == ("CiliumL2AnnouncementPolicy is not served as cilium.io/v2; "
                         "use apiVersion cilium.io/v2alpha1")
    rep = lint_text("apiVersion: cilium.io/v2\nkind: IsovalentVRF\nmetadata: {name: x}\n")
    [p] = by_rule(rep, "unknown-kind")
    assert "use an apiVersion of isovalent.com" in p.message


def test_schema_failure_does_not_cascade():
    # a misspelt field fails the schema; no selector or reference rule speaks about that object
    text = CILIUM_BGP.replace("  families:\n", "  familes:\n")
    rep = lint_example("rebel-base", {str(BGP): text})
    assert [p.rule for p in rep.problems if p.resource == "CiliumBGPPeerConfig/router-peer-config"] == ["schema"]


def test_state_kept_outside_git_is_skipped_at_info_not_reported_missing():
    peer = ("apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata: {name: p}\n"
            "spec: {authSecretRef: bgp-auth}\n")
    [p] = lint_text(peer).problems
    assert (p.rule, p.severity.name) == ("ref-secret", "INFO") and "no Secret" in p.message
    # with Secrets in the set, a missing one is an error again
    other = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: kube-system}\nstringData: {a: b}\n"
    [p] = [x for x in lint_text(peer + other).problems if x.rule == "ref-secret"]
    assert p.severity.name == "ERROR" and "kube-system/bgp-auth does not exist" in p.message
    vip = "apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata: {name: v, namespace: default}\nspec: {ipv4Request: 10.9.9.9}\n"
    [p] = lint_text(vip).problems
    assert (p.rule, p.severity.name) == ("vip-in-pool", "INFO")


def test_tightened_grammar_says_so():
    text = CILIUM_BGP.replace("name: peer0,", 'name: "peer{0}",')
    rep = lint_example("rebel-base", {str(BGP): text})
    [p] = by_rule(rep, "schema")
    assert "stricter than upstream: cilium-lb writes this value into bird.conf" in p.message
    # a space inside, as in Cilium's own examples ("ipv6 65000"), is accepted and carried out
    rep = lint_example("rebel-base", {str(BGP): CILIUM_BGP.replace("name: peer0,", 'name: "peer 0",')})
    assert by_rule(rep, "schema") == []
    peers = bgp_model(compiled_json(rep.index).plans["lb-t1-1"]).peers
    assert any(p.name == "peer 0" for p in peers)


def test_validate_nodes_option_runs_node_checks(tmp_path):
    from typer.testing import CliRunner

    from lbcli.cli.main import app

    svc = ("apiVersion: isovalent.com/v1alpha1\nkind: LBService\nmetadata: {name: a, namespace: default}\n"
           "spec: {vipRef: {name: v}, port: 80, applications: {tcpProxy: {routes: [{backendRef: {name: p}}]}}}\n")
    (tmp_path / "svc.yaml").write_text(svc)
    (tmp_path / "nodes.yaml").write_text("apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {x: y}}\n")
    r = CliRunner().invoke(app, ["validate", "-o", "json", str(tmp_path / "svc.yaml")])
    assert "node-dependent checks skipped" in r.output
    r = CliRunner().invoke(app, ["validate", "-o", "json", str(tmp_path / "svc.yaml"),
                                 "--nodes", str(tmp_path / "nodes.yaml")])
    assert "no Node matches the tier-1 selector" in r.output and r.exit_code == 1


def test_pod_cidr_prefix_reaches_bird_and_bird_accepts_it(tmp_path):
    import shutil
    import subprocess

    from lbcli.agent.bgp import daemon
    from lbcli.agent.bgp.model import model_from_plan
    from lbcli.agent.bgp.render import render_bird_conf

    text = CILIUM_BGP.replace("      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}\n",
                              "      selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never]}]}\n"
                              "    - advertisementType: PodCIDR\n")
    _, c = _bgp_plans(text)
    conf = render_bird_conf(model_from_plan(c.plans["lb-t1-1"]))
    assert "route 10.244.1.0/24 blackhole;" in conf and "if net ~ [ 10.244.1.0/24, 100.64.0.101/32 ]" in conf
    if daemon.find_bird() is None or shutil.which(daemon.find_bird()) is None:
        return
    (tmp_path / "bird.conf").write_text(conf)
    p = subprocess.run([daemon.find_bird(), "-p", "-c", str(tmp_path / "bird.conf")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
