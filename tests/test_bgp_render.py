"""BGP without root: plan -> model -> bird.conf (golden files), birdc output parsing (captured
from a real BIRD 2.0.12), diff details and degraded results.

Regenerate the golden files after an intended change: UPDATE_GOLDEN=1 pytest tests/test_bgp_render.py
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import re
import subprocess
from pathlib import Path

import pytest

from lbcli.agent.bgp import daemon
from lbcli.agent.bgp.model import BgpModelError, model_from_plan
from dataclasses import replace

from lbcli.agent.bgp.reconciler import BgpReconciler, Configure
from lbcli.agent.engine import execute
from lbcli.agent.bgp.render import render_bird_conf
from lbcli.agent.bgp.status import (BgpObserved, DaemonState, advertised_to, live_findings,
                                    parse_bfd_sessions, parse_protocols_all, parse_route_prefixes,
                                    peers_column, routes_column, session_problem)
from lbcli.agent.reconciler import NodeContext

from lbcli.plan.spec import PlanFormatError
from tests.lintkit import compile_docs

GOLDEN = Path(__file__).parent / "golden" / "bgp"
LOG = "/var/lib/cilium-lb/{node}/bird/bird.log"
SECRET_REF = "kube-system/bgp-auth"
PASSWORD = "md5-golden-pw"
SECRETS = {SECRET_REF: {"password": PASSWORD.encode()}}


# ---- the cases: manifest sets compiled for lab node t1-a (as `cilium-lb compile` does)
# A case is written as the speaker it wants (instances, peers and what each peer gets, in the
# plan's words, for readability); `compiled_bgp` turns that into the manifests a user would
# write -- the lab's Nodes and one LBVIP + LBService per announced VIP (lbcli/lab/plans.py), a
# BGP cluster config selecting the node, a node override for the router ID / listen port, one
# peer config per peer (timers, graceful restart, multihop, MD5 Secret, BFD profile, families
# whose advertisement selector picks that peer's advertisements), an advertisement per
# (peer, prefix) with its attributes -- lints it (an error fails the test) and compiles it.
# The golden configurations then say whether compile's plan is the speaker the case wants.

BGP_API = "isovalent.com/v1"
NODE_IP = "192.168.121.11"  # t1-a's InternalIP in the lab topology: compile's default router ID


def peer(name="peer0", address="192.168.121.201", asn=64512, prefixes=(), **kw) -> dict:
    p = {"name": name, "address": address, "asn": asn, "port": 179,
         "timers": {"connectRetrySeconds": 120, "holdTimeSeconds": 90, "keepAliveSeconds": 30},
         "gracefulRestart": {"enabled": False, "restartTimeSeconds": 120},
         "ebgpMultihop": None, "auth": None, "bfd": None,
         "families": [{"afi": "ipv4", "safi": "unicast"}], "prefixes": list(prefixes)}
    p.update(kw)
    return p


def pfx(prefix, service="default/https-proxy", communities=(), large=(), lp=None) -> dict:
    return {"prefix": prefix, "services": [service], "communities": list(communities),
            "largeCommunities": list(large), "localPreference": lp}


def bgp_manifests(instances: list[dict], node: str = "t1-a", password: str = PASSWORD) -> list[dict]:
    """The manifest set of the speaker `instances` describes (see above)."""
    from lbcli.lab.plans import LabService, manifests
    from lbcli.lab.topology import DEFAULT

    vips = sorted({x["prefix"].split("/")[0] for i in instances for p in i["peers"] for x in p["prefixes"]},
                  key=lambda v: tuple(int(o) for o in v.split(".")))
    docs = manifests(DEFAULT, [LabService(f"default/vip-{v.replace('.', '-')}", v, 80) for v in vips])
    for d in docs:
        if d["kind"] == "LBService":
            d["metadata"]["labels"]["bgp-vip"] = d["metadata"]["name"]
    bfds, overrides, cluster_instances = {}, [], []
    for i, inst in enumerate(instances):
        peers = []
        for j, p in enumerate(inst["peers"]):
            tag = f"p{i}-{j}"
            spec: dict = {"transport": {"peerPort": p["port"]},
                          "timers": {"connectRetryTimeSeconds": p["timers"]["connectRetrySeconds"],
                                     "holdTimeSeconds": p["timers"]["holdTimeSeconds"],
                                     "keepAliveTimeSeconds": p["timers"]["keepAliveSeconds"]},
                          "gracefulRestart": dict(p["gracefulRestart"]),
                          "families": [{**f, "advertisements": {"matchLabels": {"peer": tag}}} for f in p["families"]]}
            if p["ebgpMultihop"] is not None:
                spec["ebgpMultihop"] = p["ebgpMultihop"]
            if p["auth"] is not None:
                spec["authSecretRef"] = p["auth"]["secretRef"].split("/")[1]
            if p["bfd"] is not None:
                spec["bfdProfileRef"] = p["bfd"]["profile"]
                bfds[p["bfd"]["profile"]] = p["bfd"]
            docs.append({"apiVersion": BGP_API, "kind": "IsovalentBGPPeerConfig", "metadata": {"name": tag}, "spec": spec})
            for k, x in enumerate(p["prefixes"]):
                comms = {key: v for key, v in (("standard", [c for c in x["communities"] if ":" in c]),
                                               ("wellKnown", [c for c in x["communities"] if ":" not in c]),
                                               ("large", x["largeCommunities"])) if v}
                attrs = {**({"communities": comms} if comms else {}),
                         **({"localPreference": x["localPreference"]} if x["localPreference"] is not None else {})}
                vip = x["prefix"].split("/")[0]
                ad = {"advertisementType": "Service", "service": {"addresses": ["LoadBalancerIP"]},
                      "selector": {"matchLabels": {"bgp-vip": f"vip-{vip.replace('.', '-')}"}},
                      **({"attributes": attrs} if attrs else {})}
                docs.append({"apiVersion": BGP_API, "kind": "IsovalentBGPAdvertisement",
                             "metadata": {"name": f"{tag}-{k}", "labels": {"peer": tag}}, "spec": {"advertisements": [ad]}})
            peers.append({"name": p["name"], "peerAddress": p["address"], "peerASN": p["asn"],
                          "peerConfigRef": {"name": tag}})
        cluster_instances.append({"name": inst["name"], "localASN": inst["localASN"], "peers": peers})
        if inst["routerId"] != NODE_IP or inst["localPort"] != 179:
            overrides.append({"name": inst["name"], "routerID": inst["routerId"], "localPort": inst["localPort"]})
    docs.append({"apiVersion": BGP_API, "kind": "IsovalentBGPClusterConfig", "metadata": {"name": "lab"},
                 "spec": {"nodeSelector": {"matchLabels": {"kubernetes.io/hostname": node}},
                          "bgpInstances": cluster_instances}})
    if overrides:
        docs.append({"apiVersion": BGP_API, "kind": "IsovalentBGPNodeConfigOverride", "metadata": {"name": node},
                     "spec": {"bgpInstances": overrides}})
    for name, b in sorted(bfds.items()):
        docs.append({"apiVersion": "isovalent.com/v1alpha1", "kind": "IsovalentBFDProfile", "metadata": {"name": name},
                     "spec": {"receiveIntervalMilliseconds": b["receiveIntervalMs"],
                              "transmitIntervalMilliseconds": b["transmitIntervalMs"],
                              "detectMultiplier": b["detectMultiplier"], "minimumTTL": b["minimumTTL"]}})
    ns, name = SECRET_REF.split("/")
    docs.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"namespace": ns, "name": name},
                 "data": {"password": base64.b64encode(password.encode()).decode()}})
    return docs


def compiled_bgp(docs: list[dict], node: str = "t1-a") -> dict:
    """The plan (JSON form) compile makes for lab node `node` from `docs`; lint errors fail."""
    return compile_docs(docs, node)


def plan(instances, node="t1-a", password=PASSWORD) -> dict:
    """Compile's plan for lab node `node` from the manifests of the speaker `instances`."""
    return compiled_bgp(bgp_manifests(instances, node, password), node)


def compiled_plan(node: str) -> dict:
    """Compile's plan for lab node `node` of the lab with no BGP resources."""
    from lbcli.lab.plans import LabService, manifests
    from lbcli.lab.topology import DEFAULT

    return compiled_bgp(manifests(DEFAULT, [LabService("default/echo", "100.64.0.101", 80)]), node)


def with_v6_prefix(pl: dict) -> dict:
    """`pl` with one IPv6 prefix added to its first peer. Compile announces IPv4 VIPs only
    (LBVIPs are IPv4 today), but the plan types and the renderer carry IPv6 prefixes to their
    own channel, so that path is checked on compile's plan with this one value added."""
    pl["bgp"]["instances"][0]["peers"][0]["prefixes"].append(pfx("2001:db8::10/128", "default/v6", [], ["65001:6:6"], None))
    return pl


BFD = {"profile": "router-bfd", "receiveIntervalMs": 300, "transmitIntervalMs": 300,
       "detectMultiplier": 3, "minimumTTL": 255}

CASES = {
    # the seed lab: iBGP to the FRR router, BFD 300x3, MD5, one VIP with a community
    "seed_ibgp_bfd_md5": plan([{"name": "instance0", "localASN": 64512, "routerId": "192.168.121.11",
                                "localPort": 179, "peers": [peer(
                                    auth={"secretRef": SECRET_REF, "sha256": "ab" * 32}, bfd=BFD,
                                    prefixes=[pfx("100.64.0.101/32", communities=["64512:100"])])]}]),
    # eBGP multihop with graceful restart, both families, every attribute kind, grouping
    "ebgp_multihop_gr_attributes": with_v6_prefix(plan([{"name": "dc", "localASN": 65001, "routerId": "10.0.0.11",
                                          "localPort": 1179, "peers": [peer(
        name="tor-1", address="10.9.0.1", asn=65100, port=1790, ebgpMultihop=2,
        timers={"connectRetrySeconds": 5, "holdTimeSeconds": 9, "keepAliveSeconds": 3},
        gracefulRestart={"enabled": True, "restartTimeSeconds": 60},
        bfd={**BFD, "profile": "fast", "receiveIntervalMs": 100, "transmitIntervalMs": 150,
             "detectMultiplier": 5, "minimumTTL": 250},
        families=[{"afi": "ipv6", "safi": "unicast"}, {"afi": "ipv4", "safi": "unicast"}],
        prefixes=[pfx("100.64.0.103/32", "default/c", ["64512:100"], ["65001:1:2"], 200),
                  pfx("100.64.0.101/32", "default/a", ["no-export", "64512:100"], [], None),
                  pfx("100.64.0.102/32", "default/b", ["64512:100", "no-export"], [], None)])]}])),
    # two instances, peers whose names need sanitising, a peer with nothing to announce
    "two_instances": plan([
        {"name": "z-inst", "localASN": 64513, "routerId": "192.168.121.11", "localPort": 179,
         "peers": [peer(name="router.b", address="192.168.121.202", asn=64513, prefixes=[])]},
        {"name": "a-inst", "localASN": 64512, "routerId": "192.168.121.11", "localPort": 179,
         "peers": [peer(name="router-a", prefixes=[pfx("100.64.0.101/32")]),
                   peer(name="router_a", address="192.168.121.203", prefixes=[pfx("100.64.0.102/32")])]}]),
}


def render(name: str) -> str:
    model = model_from_plan(CASES[name], SECRETS)
    return render_bird_conf(model, log_file=LOG.format(node=model.node))


@pytest.mark.parametrize("name", sorted(CASES))
def test_render_matches_golden(name):
    text = render(name)
    path = GOLDEN / f"{name}.conf"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_render_is_independent_of_input_order(name):
    shuffled = copy.deepcopy(CASES[name])
    rnd = random.Random(7)
    rnd.shuffle(shuffled["bgp"]["instances"])
    for inst in shuffled["bgp"]["instances"]:
        rnd.shuffle(inst["peers"])
        for p in inst["peers"]:
            rnd.shuffle(p["prefixes"])
            rnd.shuffle(p["families"])
    model = model_from_plan(shuffled, SECRETS)
    assert render_bird_conf(model, log_file=LOG.format(node=model.node)) == render(name)


@pytest.mark.skipif(daemon.find_bird() is None, reason="bird not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_bird_accepts_rendered_config(name, tmp_path):
    conf = tmp_path / "bird.conf"
    conf.write_text(render(name).replace(LOG.format(node="t1-a"), str(tmp_path / "bird.log")))
    p = subprocess.run([daemon.find_bird(), "-p", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_render_contents_of_the_seed_case():
    text = render("seed_ibgp_bfd_md5")
    assert "direct;" in text and "multihop" not in text  # single-hop BFD for iBGP
    assert f'password "{PASSWORD}";' in text
    assert "bfd { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; };" in text
    assert "route 100.64.0.101/32 blackhole;" in text
    assert "graceful restart off;" in text
    text = render("ebgp_multihop_gr_attributes")
    assert "multihop 2;" in text and "direct;" not in text
    assert "graceful restart time 60;" in text
    assert "bgp_community.add((65535,65281));" in text  # no-export by name
    assert "neighbor 10.9.0.1 port 1790 as 65100;" in text


def test_decimal_standard_community_is_carried_out():
    """RFC 1997 communities are 32-bit numbers; the schema accepts the plain decimal form, so the
    model turns it into BIRD's (high,low) pair instead of refusing it."""
    from lbcli.agent.bgp.model import BgpModelError, _community

    assert _community("4259840100", "c") == (65000, 100)
    assert _community("65000:100", "c") == (65000, 100)
    with pytest.raises(BgpModelError):
        _community("4294967296", "c")


def test_prefixes_are_exported_only_to_their_peer():
    text = render("two_instances")
    filt = dict(re.findall(r"^filter (\S+) \{\n(.*?)^\}", text, re.M | re.S))
    assert "100.64.0.101/32" in filt["export_bgp_a_inst_router_a_4"]
    assert "100.64.0.102/32" not in filt["export_bgp_a_inst_router_a_4"]
    assert "100.64.0.102/32" in filt["export_bgp_a_inst_router_a_2_4"]
    assert filt["export_bgp_z_inst_router_b_4"].strip() == "reject;"


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p["prefixes"].append(pfx("100.64.0.9/32", communities=["70000:1"])), "not a standard community"),
    (lambda p: p["prefixes"].append(pfx("100.64.0.9/32", large=["1:2"])), "not a large community"),
    (lambda p: p.update(auth={"secretRef": "ns/absent", "sha256": "0" * 64}), "'ns/absent'"),
    (lambda p: p.update(timers={"connectRetrySeconds": 1, "holdTimeSeconds": 3, "keepAliveSeconds": 5}),
     "exceeds holdTime"),
    (lambda p: p["prefixes"].append(pfx("100.64.0.1/24")), "prefix: 100.64.0.1/24 has host bits set"),
])
def test_model_errors_name_the_field(mutate, message):
    # values the schema, lint or compile refuse, put into compile's plan one at a time: the
    # model must refuse them too (defence in depth), naming the field
    pl = copy.deepcopy(CASES["seed_ibgp_bfd_md5"])
    mutate(pl["bgp"]["instances"][0]["peers"][0])
    with pytest.raises(BgpModelError, match=message.replace("(", r"\(")) as e:
        model_from_plan(pl, SECRETS)
    assert "bgp.instances[instance0].peers[peer0]" in str(e.value)


@pytest.mark.parametrize("mutate, where", [
    (lambda p: p["prefixes"].append(pfx("100.64.0.0/16x")), "prefixes[1].prefix"),
    (lambda p: p.update(families=[{"afi": "l2vpn", "safi": "evpn"}]), "families[0].afi"),
    (lambda p: p.update(address="not-an-ip"), "peers[0].address"),
])
def test_what_the_plan_types_refuse_never_reaches_the_model(mutate, where):
    # the reader reads the typed plan: a plan in JSON form goes through the plan types first
    # (values compile never writes, put into compile's plan one at a time)
    pl = copy.deepcopy(CASES["seed_ibgp_bfd_md5"])
    mutate(pl["bgp"]["instances"][0]["peers"][0])
    with pytest.raises(PlanFormatError) as e:
        model_from_plan(pl, SECRETS)
    assert where in str(e.value)


@pytest.mark.parametrize("bad", ['with"quote', "two\nlines", "x" * 81])
def test_passwords_bird_cannot_quote_are_refused_without_echo(bad):
    with pytest.raises(BgpModelError) as e:
        model_from_plan(CASES["seed_ibgp_bfd_md5"], {SECRET_REF: {"password": bad.encode()}})
    assert bad not in str(e.value)


def test_plan_without_bgp_has_no_model():
    assert compiled_plan("t2-a")["bgp"] is None and model_from_plan(compiled_plan("t2-a")) is None


# ---- birdc output (captured from BIRD 2.0.12 against FRR 8.4.4)


def lines(name: str) -> list[str]:
    return (GOLDEN / name).read_text().splitlines()


def test_parse_protocols_all():
    peers = {p.protocol: p for p in parse_protocols_all(lines("birdc_show_protocols_all.txt"))}
    assert sorted(peers) == ["bgp_instance0_peer0", "bgp_instance0_peer1"]  # only BGP
    up = peers["bgp_instance0_peer0"]
    assert up.established and up.state == "up" and up.address == "192.168.121.201" and up.asn == 64512
    assert up.description == "instance0/peer0"
    assert (up.imported, up.exported) == (0, 2)
    assert (up.hold_time, up.keepalive_time) == (9, 3)
    assert up.since == pytest.approx(1795455950.371)
    assert up.uptime(now=1795455960.371) == pytest.approx(10.0)
    assert up.tables == ("master4",)
    down = peers["bgp_instance0_peer1"]
    assert not down.established and down.bgp_state == "Active" and down.uptime() is None
    assert "TCP-MD5" in session_problem(down)


def test_parse_rejected_session_has_a_clear_reason():
    [p] = parse_protocols_all(lines("birdc_show_protocols_all_rejected.txt"))
    assert p.bgp_state == "Idle" and p.last_error == "Received: Bad peer AS"
    assert session_problem(p) == "session Idle: rejected by the peer (Bad peer AS)"


def test_parse_bfd_sessions():
    [s] = parse_bfd_sessions(lines("birdc_show_bfd_sessions.txt"))
    assert (s.address, s.interface, s.state, s.interval, s.timeout) == ("192.168.121.201", "eth0", "Up", 0.3, 0.9)
    assert s.up


def test_parse_route_export_sorted():
    assert parse_route_prefixes(lines("birdc_show_route_export.txt")) == ["100.64.0.101/32", "100.64.0.102/32"]


def observed_from_captures() -> BgpObserved:
    peers = tuple(parse_protocols_all(lines("birdc_show_protocols_all.txt")))
    return BgpObserved(DaemonState(running=True, pid=1), peers=peers,
                       bfd=tuple(parse_bfd_sessions(lines("birdc_show_bfd_sessions.txt"))),
                       exported={"bgp_instance0_peer0": ("100.64.0.101/32", "100.64.0.102/32"),
                                 "bgp_instance0_peer1": ()})


def test_status_columns_and_live_findings():
    observed = observed_from_captures()
    assert peers_column(observed) == "1/2 established"
    assert routes_column(observed) == "2 routes"
    assert advertised_to(observed, "100.64.0.101/32") == ["bgp_instance0_peer0"]
    model = model_from_plan(plan([{"name": "instance0", "localASN": 64512, "routerId": "192.168.121.11",
                                   "localPort": 179, "peers": [peer(bfd=BFD, prefixes=[pfx("100.64.0.101/32")])]}]))
    assert peers_column(observed, model) == "1/1 established"
    [f] = live_findings(model, observed)
    assert f.object == "bgp peer instance0/peer0 192.168.121.201"
    assert f.detail == "exported but not in plan: 100.64.0.102/32"
    stopped = BgpObserved(DaemonState(running=False))
    assert peers_column(stopped, model) == "0/1 established (bird not running)"
    assert routes_column(stopped) == "0 routes"


# ---- reconciler without a daemon


@pytest.fixture
def rec(tmp_path):
    return BgpReconciler(NodeContext("t1-a", tmp_path, tmp_path / "bpf"), settle_timeout=0)


def test_diff_from_nothing_starts_bird_and_adds_peers(rec):
    desired = rec.desired(CASES["seed_ibgp_bfd_md5"], SECRETS)
    changes = rec.diff(desired, rec.observe())
    assert [(c.action, c.object, c.detail) for c in changes] == [
        ("create", "bird daemon", "start bird"),
        ("create", "bgp peer instance0/peer0 192.168.121.201", "add, 1 prefixes")]
    assert all(PASSWORD not in repr(c) for c in changes)


def test_diff_details_after_apply_and_plan_change(rec, tmp_path):
    desired = rec.desired(CASES["seed_ibgp_bfd_md5"], SECRETS)
    # what apply writes, without starting a daemon
    daemon.write_private(rec.paths.conf, desired.config)
    daemon.write_private(rec.paths.applied, json.dumps(desired.model.summary()))
    assert rec.paths.conf.stat().st_mode & 0o777 == 0o600
    assert PASSWORD not in rec.paths.applied.read_text()
    observed = rec.observe()
    assert [c.object for c in rec.diff(desired, observed)] == ["bird daemon"]  # file up to date
    # the next compile: another VIP announced, the MD5 Secret rotated
    pl = plan([{"name": "instance0", "localASN": 64512, "routerId": "192.168.121.11", "localPort": 179,
                "peers": [peer(auth={"secretRef": SECRET_REF, "sha256": ""}, bfd=BFD,
                               prefixes=[pfx("100.64.0.102/32", communities=["64512:100"])])]}], password="another-pw")
    other = {SECRET_REF: {"password": b"another-pw"}}
    [_, change] = rec.diff(rec.desired(pl, other), observed)
    assert change.action == "update"
    assert change.detail == "+100.64.0.102/32; -100.64.0.101/32; auth changed"
    assert "another-pw" not in repr(change) and PASSWORD not in repr(change)


def test_plan_without_bgp_removes_what_is_there(rec):
    assert rec.diff(None, rec.observe()) == []
    daemon.write_private(rec.paths.conf, "# old\n")
    [c] = rec.diff(None, rec.observe())
    assert (c.action, c.object) == ("delete", "bird daemon")
    assert execute(rec, [c]).ok and not rec.paths.dir.exists()


def test_invalid_plan_is_an_error_result_not_an_exception(rec):
    desired = rec.desired(CASES["seed_ibgp_bfd_md5"], {})  # secret not handed over
    changes = rec.diff(desired, rec.observe())
    res = execute(rec, changes)
    assert res.error and "kube-system/bgp-auth" in res.error and not res.ok


def test_missing_bird_binary_is_degraded(rec, monkeypatch):
    monkeypatch.setattr(daemon, "find_bird", lambda: None)
    desired = rec.desired(CASES["seed_ibgp_bfd_md5"], SECRETS)
    res = execute(rec, rec.diff(desired, rec.observe()))
    assert res.error is None and res.degraded and "apt-get install bird2" in res.degraded
    assert not res.ok and not rec.paths.conf.exists()


@pytest.mark.skipif(daemon.find_bird() is None, reason="bird not installed")
def test_config_rejected_by_bird_leaves_nothing_behind(rec, monkeypatch):
    desired = rec.desired(CASES["seed_ibgp_bfd_md5"], SECRETS)
    broken = type(desired)(model=desired.model, config=desired.config + "\nprotocol nonsense {\n")
    res = execute(rec, [replace(c, spec=Configure(broken)) for c in rec.diff(desired, rec.observe())])
    assert res.error and "bird -p rejected" in res.error and PASSWORD not in res.error
    assert not rec.paths.conf.exists()


# ---- the lab router's frr.conf


def test_frr_conf_golden():
    from lbcli.lab.frr import FrrBfdProfile, FrrConfig, FrrNeighbor, render_frr_conf

    cfg = FrrConfig(asn=64512, router_id="192.168.121.201", keepalive=3, hold=9, connect_retry=1,
                    bfd_profile=FrrBfdProfile("router-bfd", 300, 300, 3),
                    neighbors=(FrrNeighbor("192.168.121.12", 64512, password="pw", description="t1-b"),
                               FrrNeighbor("192.168.121.11", 64512, password="pw", description="t1-a"),
                               FrrNeighbor("10.0.0.9", 65100, port=1790, bfd=False, ebgp_multihop=2)))
    text = render_frr_conf(cfg)
    path = GOLDEN / "frr_router.conf"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()
    assert text.index("neighbor 10.0.0.9 remote-as") < text.index("neighbor 192.168.121.11 remote-as") \
        < text.index("neighbor 192.168.121.12 remote-as")


def test_renderer_refuses_values_bird_cannot_hold_without_echo():
    import dataclasses

    model = model_from_plan(CASES["seed_ibgp_bfd_md5"], SECRETS)
    peer = model.peers[0]
    bad = [
        dataclasses.replace(model, node="t1-a\nprotocol static evil { }"),
        dataclasses.replace(model, peers=(dataclasses.replace(peer, name='peer0"; evil'),)),
        dataclasses.replace(model, peers=(dataclasses.replace(
            peer, bfd=dataclasses.replace(peer.bfd, profile="x\nprotocol bgp evil {")),)),
        dataclasses.replace(model, passwords={SECRET_REF: 'pw"\n}'}),
        dataclasses.replace(model, passwords={}),  # auth asked for, no password: never drop it
    ]
    for m in bad:
        with pytest.raises(BgpModelError) as e:
            render_bird_conf(m, log_file="/tmp/bird.log")
        assert "evil" not in str(e.value) and "pw" not in str(e.value).replace("password", "")
