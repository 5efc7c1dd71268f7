"""`cilium-lb lb status`: the table and JSON from the rebel-base plans, unknowns kept unknown,
observed facts turning them into values, and IPAM reasons for services that got no VIP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.compile.plan import compile_plans
from lbcli.report.status_text import plain
from lbcli.status import PLANNED_OK, Observed, build_status
from lbcli.status.table import COLUMNS, UNKNOWN

from .lintkit import lint_example

ROOT = Path(__file__).resolve().parent.parent

def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    rep = lint_example("rebel-base")
    return compile_plans(rep.index).plans


@pytest.fixture
def plan_dir(tmp_path):
    out = tmp_path / "plans"
    r = run("compile", str(ROOT / "examples" / "rebel-base"), "-o", str(out))
    assert r.exit_code == 0, r.output
    return out


def table(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Parse the plain output back: summary {label: value}, rows [{column: cell}]."""
    head, _, body = text.partition("\n\n")
    summary = dict(re.split(r"\s{2,}", l.strip()) for l in head.splitlines()[1:])
    lines = body.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == COLUMNS
    return summary, [dict(zip(COLUMNS, re.split(r"\s{2,}", l))) for l in lines[1:]]


def expected_from(plans) -> dict:
    """What the rebel-base row must say, read from the plans themselves."""
    plans = {n: p.to_json() for n, p in plans.items()}
    t1 = [p for p in plans.values() if "t1" in p["node"]["tiers"]]
    t2 = [p for p in plans.values() if "t2" in p["node"]["tiers"]]
    svc = t1[0]["tier1"]["services"][0]
    pool = t2[0]["tier2"]["backendPools"][0]
    peers = {peer["address"] for p in t1 for i in p["bgp"]["instances"] for peer in i["peers"]}
    return {"t1": len(t1), "t2": len(t2), "vip": svc["vip"], "port": svc["port"], "backends": len(pool["backends"]),
            "peers": len(peers), "routes": len(t1) * len(peers), "t2_targets": len(svc["t2Nodes"])}


def test_plain_table_from_plans(plans, plan_dir):
    e = expected_from(plans)
    r = run("--color", "never", "lb", "status", "--plan", str(plan_dir))
    assert r.exit_code == 0, r.output
    assert "\x1b[" not in r.stdout
    summary, rows = table(r.stdout)
    assert summary == {"T1 nodes": str(e["t1"]), "T2 nodes": str(e["t2"]), "Services": "1", "VIPs": "1"}
    assert rows == [{
        "Namespace": "default", "Name": "https-proxy", "VIP": e["vip"], "Port": str(e["port"]), "Type": "HTTPS",
        "D-Mode": "vxlan", "BGP Peers": f"{e['peers']} configured", "BGP Routes": f"{e['routes']} planned",
        "T1": str(e["t1"]), "HC T1->T2": f"{UNKNOWN}/{e['t2_targets']}", "T2": str(e["t2"]),
        "HC T2->B": f"{UNKNOWN}/{e['backends']}", "Backendpools": f"1 ({e['backends']} backends)",
        "Status": PLANNED_OK,
    }]
    # the alias prints the same, and so does piping (not a tty) without --color
    assert run("--color", "never", "status", "--plan", str(plan_dir)).stdout == r.stdout
    assert run("status", "--plan", str(plan_dir)).stdout == r.stdout


def test_rich_table_on_colour(plan_dir):
    r = run("--color", "always", "status", "--plan", str(plan_dir))
    assert r.exit_code == 0
    assert "\x1b[" in r.stdout and "Summary" in r.stdout and "HC T1->T2" in r.stdout and "ok (planned)" in r.stdout


def test_json_stable_keys(plans, plan_dir):
    e = expected_from(plans)
    r = run("status", "--plan", str(plan_dir), "-o", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["summary"] == {"t1Nodes": e["t1"], "t2Nodes": e["t2"], "services": 1, "vips": 1, "observed": False}
    [s] = doc["services"]
    assert set(s) == {"namespace", "name", "vip", "port", "protocol", "type", "dispatchModes", "bgpPeers", "bgpRoutes",
                      "t1Nodes", "hcT1T2", "t2Nodes", "hcT2Backends", "backendPools", "backends", "status", "reason",
                      "message", "counters"}
    assert s["bgpPeers"] == {"total": e["peers"], "actual": None}
    assert s["hcT1T2"] == {"total": e["t2_targets"], "actual": None}
    assert s["hcT2Backends"] == {"total": e["backends"], "actual": None}
    assert (s["type"], s["status"], s["reason"], s["counters"]) == ("httpsProxy", PLANNED_OK, None, None)
    assert r.stdout == run("status", "--plan", str(plan_dir), "-o", "json").stdout  # deterministic


def test_observed_facts_replace_unknowns(plans):
    e = expected_from(plans)
    healthy = {"bgpPeersEstablished": e["peers"], "bgpRoutesAdvertised": e["routes"], "t1Programmed": e["t1"],
               "t2Healthy": e["t2_targets"], "backendsHealthy": e["backends"], "packets": 42, "bytes": 4200}
    st = build_status(plans, Observed.from_dict({"services": {"default/https-proxy": healthy}}))
    [row] = table(plain(st))[1]
    assert row["BGP Peers"] == f"{e['peers']}/{e['peers']} established"
    assert row["BGP Routes"] == f"{e['routes']}/{e['routes']} advertised"
    assert row["T1"] == f"{e['t1']}/{e['t1']}"
    assert row["HC T1->T2"] == f"{e['t2_targets']}/{e['t2_targets']}"
    assert row["HC T2->B"] == f"{e['backends']}/{e['backends']}"
    assert row["Status"] == "ok" and UNKNOWN not in plain(st)
    assert st.to_json()["services"][0]["counters"] == {"packets": 42, "bytes": 4200}
    assert st.to_json()["summary"]["observed"] is True

    one_down = dict(healthy, backendsHealthy=e["backends"] - 1)
    [row] = table(plain(build_status(plans, Observed.from_dict({"services": {"default/https-proxy": one_down}}))))[1]
    assert row["HC T2->B"] == f"{e['backends'] - 1}/{e['backends']}" and row["Status"] == "degraded"

    # a partial observation fills what it knows and leaves the rest unknown
    st = build_status(plans, Observed.from_dict({"services": {"default/https-proxy": {"t2Healthy": 0}}}))
    [row] = table(plain(st))[1]
    assert row["HC T1->T2"] == f"0/{e['t2_targets']}" and row["Status"] == "down"
    assert row["HC T2->B"] == f"{UNKNOWN}/{e['backends']}" and row["BGP Peers"] == f"{e['peers']} configured"


def test_observed_file_via_cli(plans, plan_dir, tmp_path):
    e = expected_from(plans)
    f = tmp_path / "observed.json"
    f.write_text(json.dumps({"services": {"default/https-proxy": {"bgpPeersEstablished": 0}}}))
    r = run("--color", "never", "status", "--plan", str(plan_dir), "--observed", str(f))
    assert r.exit_code == 0, r.output
    [row] = table(r.stdout)[1]
    assert row["BGP Peers"] == f"0/{e['peers']} established" and row["Status"] == "down"
    f.write_text(json.dumps({"services": {"default/https-proxy": {"healthy": 1}}}))
    r = run("status", "--plan", str(plan_dir), "--observed", str(f))
    assert r.exit_code == 2 and "unknown key(s) healthy" in r.output


@pytest.mark.parametrize("bad", [[], {"services": []}, {"services": {"a/b": {"t2Healthy": -1}}},
                                 {"services": {"a/b": {"t2Healthy": True}}}, {"services": {"a/b": 3}}])
def test_observed_rejects_bad_shapes(bad):
    with pytest.raises(ValueError):
        Observed.from_dict(bad)


CLASH = """
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: default, name: rogue}
spec:
  ipv4Request: "100.64.0.101"
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: default, name: rogue}
spec:
  vipRef: {name: rogue}
  port: 8443
  applications:
    tcpProxy:
      routes:
        - backendRef: {name: https-proxy}
"""


def test_ipam_reason_for_a_service_without_vip():
    rep = lint_example("rebel-base", {"clash.yaml": CLASH})
    st = build_status(compile_plans(rep.index).plans)
    rows = {r["Name"]: r for r in table(plain(st))[1]}
    assert rows["rogue"]["Status"] == "AddressAlreadyInUse"
    assert rows["rogue"]["VIP"] == "-"
    assert rows["https-proxy"]["Status"] == PLANNED_OK
    j = {s["name"]: s for s in st.to_json()["services"]}
    assert j["rogue"]["reason"] == "AddressAlreadyInUse" and "100.64.0.101" in j["rogue"]["message"]
    assert st.to_json()["summary"]["services"] == 2 and st.to_json()["summary"]["vips"] == 1


def test_usage_errors(tmp_path):
    assert run("status").exit_code == 2
    assert run("status", "--plan", str(tmp_path)).exit_code == 2  # no plans there
