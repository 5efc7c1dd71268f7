"""Compile: the rebel-base plans a reader can check by hand, determinism, IPAM stability and
conditions, tier selection, BGP prefixes, and refusing a set with errors."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.compile.maglev import build_table
from lbcli.compile.plan import compile_plans, dumps

from .lintkit import EXAMPLES, lint_example, lint_texts, compiled_json

POOL = """
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: p}
spec:
  blocks: [{cidr: 100.64.1.0/28}]
"""


def vip(name: str, req: str | None = None, ann: str = "") -> str:
    spec = f'  ipv4Request: "{req}"\n' if req else "  {}\n"
    return f"apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata:\n  name: {name}\n  namespace: default\n{ann}spec:\n" + (spec if req else "  {}\n")


def rebel():
    rep = lint_example("rebel-base")
    assert [(p.rule, p.resource) for p in rep.problems] == []
    return compiled_json(rep.index)


def test_rebel_base_plans_by_hand():
    c = rebel()
    assert sorted(c.plans) == ["lb-t1-1", "lb-t1-2", "lb-t2-1", "lb-t2-2"]
    t1 = c.plans["lb-t1-1"]
    assert t1["node"]["tiers"] == ["t1"] and t1["tier2"] is None
    svc = t1["tier1"]["services"][0]
    assert (svc["vip"], svc["port"], svc["protocol"]) == ("100.64.0.101", 443, "TCP")
    assert svc["t2Nodes"] == ["lb-t2-1", "lb-t2-2"]
    table = t1["tier1"]["maglevTables"][svc["maglevTable"]]
    raw = base64.b64decode(table["table"])
    assert len(raw) == 2 * table["size"] == 2 * 16381
    expected = build_table([("lb-t2-1", 1), ("lb-t2-2", 1)], 16381)
    assert list(memoryview(raw).cast("H")) == list(expected)
    assert sum(table["slots"]) == 16381 and abs(table["slots"][0] - table["slots"][1]) <= 1
    peer = t1["bgp"]["instances"][0]["peers"][0]
    assert (peer["address"], peer["asn"], peer["bfd"]["detectMultiplier"]) == ("192.168.121.201", 64512, 3)
    assert [p["prefix"] for p in peer["prefixes"]] == ["100.64.0.101/32"]
    t2 = c.plans["lb-t2-1"]
    assert t2["tier1"] is None and t2["bgp"] is None and t2["tier2"]["vips"] == ["100.64.0.101"]
    lst = t2["tier2"]["listeners"][0]
    assert lst["type"] == "httpsProxy" and lst["routes"][0]["persistence"]["headers"] == ["sticky"]
    pool = t2["tier2"]["backendPools"][0]
    assert [(b["address"], b["weight"]) for b in pool["backends"]] == [("172.18.0.7", 1), ("172.18.0.8", 2)]
    assert pool["algorithm"] == "consistentHashing" and pool["tableSize"] == 65537


def test_plans_hold_no_secret_material():
    c = rebel()
    text = b"".join(dumps(p) for p in c.plans.values())
    for material in c.secrets["lb-t2-1"].values():
        for value in material.values():
            assert value not in text and base64.b64encode(value) not in text
    assert set(c.secrets["lb-t2-1"]) == {"default/https-proxy", "default/base-users"}


def test_byte_identical_across_processes(tmp_path):
    outs = []
    for seed in ("1", "2"):
        d = tmp_path / seed
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
        subprocess.run([sys.executable, "-m", "lbcli", "compile", str(EXAMPLES / "rebel-base"), "-o", str(d)],
                       check=True, env=env, capture_output=True)
        outs.append({p.name: p.read_bytes() for p in sorted(d.glob("*.json"))})
    assert outs[0] == outs[1] and len(outs[0]) == 4


def test_shared_parts_serialise_as_the_whole_plan():
    """Listeners and pools are built once and shared by both tier-2 plans, and written as their
    own pieces; every plan's bytes are still exactly orjson's of its whole JSON form, and each
    tier-2 node still gets the material of the Secrets its listeners name."""
    import orjson

    from lbcli.compile.plan import dump_parts

    c = compile_plans(lint_example("rebel-base").index)
    a, b = c.plans["lb-t2-1"].tier2, c.plans["lb-t2-2"].tier2
    assert a.listeners[0] is b.listeners[0] and a.backend_pools[0] is b.backend_pools[0]
    for plan in c.plans.values():
        whole = orjson.dumps(plan.to_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
        assert dumps(plan) == b"".join(dump_parts(plan)) == whole
        assert len(dump_parts(plan)) == (1 if plan.tier2 is None else 1 + 2 * len(plan.tier2.backend_pools))
    assert c.secrets["lb-t2-1"] == c.secrets["lb-t2-2"]
    assert set(c.secrets["lb-t2-2"]) == {"default/https-proxy", "default/base-users"}


def test_plans_written_whole_through_partial_writes(tmp_path, monkeypatch):
    """A plan written in pieces survives writev writing a few bytes at a time."""
    import os

    from lbcli.compile.output import write_plans

    c = compile_plans(lint_example("rebel-base").index)
    real = os.writev
    monkeypatch.setattr(os, "writev", lambda fd, views: real(fd, [bytes(views[0][:7])]))
    written, _ = write_plans(tmp_path, c.plans)
    monkeypatch.setattr(os, "writev", real)
    assert len(written) == 4
    for node, plan in c.plans.items():
        assert (tmp_path / f"{node}.json").read_bytes() == dumps(plan)
    assert write_plans(tmp_path, c.plans) == ([], [])  # the pieces compare equal to the files


def test_adding_a_vip_never_moves_another():
    from lbcli.compile.ipam import allocate

    base = {"pool.yaml": POOL, "a.yaml": vip("a"), "b.yaml": vip("b")}

    first = allocate(lint_texts(base).index).assignments
    more = dict(base)
    for i in range(8):
        more[f"n{i}.yaml"] = vip(f"n{i}")
    second = allocate(lint_texts(more).index).assignments
    for ref in ("LBVIP/default/a", "LBVIP/default/b"):
        assert first[ref]["ipv4"] == second[ref]["ipv4"]
    assert len({a["ipv4"] for a in second.values()}) == 10


def test_ipam_conditions_use_isovalent_reasons():
    from lbcli.compile.ipam import allocate

    files = {
        "pool.yaml": POOL,
        "a.yaml": vip("a", "100.64.1.5"),
        "b.yaml": vip("b", "100.64.1.5"),
        "c.yaml": vip("c", "100.99.0.1"),
    }
    res = allocate(lint_texts(files).index)
    reasons = {c["ref"]: c["reason"] for c in res.conditions}
    assert reasons == {"LBVIP/default/b": "AddressAlreadyInUse", "LBVIP/default/c": "NoPool"}
    assert res.address("LBVIP/default/a") == "100.64.1.5"
    full = {"pool.yaml": POOL.replace("/28", "/31")} | {f"v{i}.yaml": vip(f"v{i}") for i in range(3)}
    res = allocate(lint_texts(full).index)
    assert [c["reason"] for c in res.conditions] == ["NoAvailableAddress"]


def test_compile_cli_refuses_errors_and_writes_plans(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in (EXAMPLES / "rebel-base").glob("*.yaml"):
        (bad / p.name).write_text(p.read_text())
    svc = bad / "vip-service.yaml"
    svc.write_text(svc.read_text().replace("port: 443", "port: 70000"))
    r = CliRunner().invoke(app, ["compile", str(bad), "-o", str(tmp_path / "out")])
    assert r.exit_code == 1 and "70000" in r.stderr and not (tmp_path / "out").exists()
    r = CliRunner().invoke(app, ["compile", str(EXAMPLES / "rebel-base"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    plans = sorted(p.name for p in (tmp_path / "out").glob("*.json"))
    assert plans == ["lb-t1-1.json", "lb-t1-2.json", "lb-t2-1.json", "lb-t2-2.json"]
    doc = json.loads((tmp_path / "out" / "lb-t2-2.json").read_text())
    assert doc["kind"] == "NodePlan"


def test_examples_all_compile():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        rep = lint_example(name)
        assert not [p for p in rep.problems if p.severity.label == "error"], rep.problems
        c = compiled_json(rep.index)
        assert c.plans and any(p["tier2"] and p["tier2"]["listeners"] for p in c.plans.values()), name


def test_bgp_auth_secret_is_read_from_bgp_secrets_namespace():
    """cilium-config's `bgp-secrets-namespace` moves BGP auth Secrets; the compiler looks where
    the lint rules look (one definition), so a validated password is the one BIRD gets."""
    cfg = (EXAMPLES / "rebel-base" / "cilium-config.yaml").read_text() + "  bgp-secrets-namespace: bgp\n"
    peer = (EXAMPLES / "rebel-base" / "bgp.yaml").read_text().replace(
        "  bfdProfileRef: router-bfd", "  bfdProfileRef: router-bfd\n  authSecretRef: router-auth")
    secret = ("apiVersion: v1\nkind: Secret\nmetadata: {name: router-auth, namespace: bgp}\n"
              "stringData: {password: s3cret-pw}\n")
    rep = lint_example("rebel-base", {
        str(EXAMPLES / "rebel-base" / "cilium-config.yaml"): cfg,
        str(EXAMPLES / "rebel-base" / "bgp.yaml"): peer, "auth.yaml": secret})
    assert not [p for p in rep.problems if p.severity.name == "ERROR"], rep.problems
    plans = compiled_json(rep.index)
    peers = [p for plan in plans.plans.values() for inst in (plan.get("bgp") or {}).get("instances", [])
             for p in inst["peers"]]
    assert peers and all(p["auth"]["secretRef"] == "bgp/router-auth" for p in peers)
    assert all(refs["bgp/router-auth"]["password"] == b"s3cret-pw"
               for node, refs in plans.secrets.items() if plans.plans[node].get("bgp"))
