"""`cilium-lb diff`: modified copies of examples/rebel-base compiled with the CLI and compared
plan against plan and manifests against the last applied plan; lines, JSON entries, exit codes."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from .lintkit import compiled_json
from lbcli.cli.main import app
from lbcli.diff import diff_plan_sets, diff_plans
from lbcli.report.diff_text import line

from .certs import make_ca, make_leaf, tls_secret_yaml

ROOT = Path(__file__).resolve().parent.parent
REBEL = ROOT / "examples" / "rebel-base"
VIP_LABEL = "VIP 100.64.0.101:443 https-proxy"

def run(*args: str):
    return CliRunner().invoke(app, ["--color", "never", *args])


def compile_to(src: Path, out: Path) -> dict[str, dict]:
    r = run("compile", str(src), "-o", str(out))
    assert r.exit_code == 0, r.output
    return {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def rb(tmp_path):
    """(original plans dir, editable manifest copy, a function compiling the copy)."""
    old_dir = tmp_path / "plans-old"
    compile_to(REBEL, old_dir)
    copy = tmp_path / "rebel-base"
    shutil.copytree(REBEL, copy)

    def new_plans() -> Path:
        out = tmp_path / "plans-new"
        compile_to(copy, out)
        return out

    return old_dir, copy, new_plans


def diff_json(old: Path, new: Path, *extra: str) -> tuple[int, list[dict]]:
    r = run("diff", str(old), str(new), "-o", "json", *extra)
    assert r.exit_code in (0, 1), r.output
    return r.exit_code, json.loads(r.stdout)


def test_weight_change(rb):
    old, copy, new = rb
    edit(copy / "backends.yaml", "      weight: 2", "      weight: 3")
    new_dir = new()
    r = run("diff", str(old), str(new_dir))
    assert r.exit_code == 1
    assert f"{VIP_LABEL}: ~ backend 172.18.0.8:8080 weight 2 -> 3" in r.stdout
    code, changes = diff_json(old, new_dir)
    assert code == 1
    # only tier-2 nodes hold pools; tier 1 dispatches to T2 nodes, not backends
    assert changes == [
        {"section": "backendPools", "node": n, "object": VIP_LABEL, "field": "backend 172.18.0.8:8080 weight",
         "action": "update", "old": 2, "new": 3, "detail": None}
        for n in ("lb-t2-1", "lb-t2-2")
    ]


def test_added_backend(rb):
    old, copy, new = rb
    edit(copy / "backends.yaml", "  loadbalancing:", "    - ip: 172.18.0.9\n      port: 8080\n  loadbalancing:")
    new_dir = new()
    r = run("diff", str(old), str(new_dir))
    assert r.exit_code == 1
    assert f"{VIP_LABEL}: + backend 172.18.0.9:8080 (weight 1)" in r.stdout
    _, changes = diff_json(old, new_dir)
    assert {(c["node"], c["action"], c["field"]) for c in changes} == {
        (n, "create", "backend 172.18.0.9:8080") for n in ("lb-t2-1", "lb-t2-2")}
    assert changes[0]["new"] == {"address": "172.18.0.9", "port": 8080, "weight": 1, "status": "Active"}


def test_removed_service(rb):
    old, copy, new = rb
    text = (copy / "vip-service.yaml").read_text()
    head, sep, _ = text.partition("---\napiVersion: isovalent.com/v1alpha1\nkind: LBService")
    assert sep
    (copy / "vip-service.yaml").write_text(head)
    _, changes = diff_json(old, new())
    t1 = [(c["section"], c["object"], c["field"], c["action"]) for c in changes if c["node"] == "lb-t1-1"]
    assert ("tier1", "tier 1", "service 100.64.0.101:443/TCP", "delete") in t1
    assert ("bgp", "BGP peer 192.168.121.201", "prefix 100.64.0.101/32", "delete") in t1
    assert ("ipam", "LBVIP default/https-proxy", "ports", "delete") in t1  # the VIP stays, port 443 goes
    t2 = [(c["section"], c["object"], c["field"], c["action"]) for c in changes if c["node"] == "lb-t2-1"]
    assert ("tier2", "tier 2", f"listener {VIP_LABEL}", "delete") in t2
    assert ("tier2", "tier 2", "VIP", "delete") in t2
    assert ("backendPools", "backend pools", "pool default/https-proxy", "delete") in t2
    assert all(c["action"] == "delete" for c in changes)
    r = run("diff", str(old), str(copy.parent / "plans-new"))
    assert "tier 2: - listener VIP 100.64.0.101:443 https-proxy (httpsProxy -> default/https-proxy)" in r.stdout
    assert "BGP peer 192.168.121.201: - prefix 100.64.0.101/32 (default/https-proxy)" in r.stdout


NEW_SERVICE = """
---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata:
  namespace: default
  name: second
spec:
  ipv4Request: "100.64.0.102"
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata:
  namespace: default
  name: second
spec:
  vipRef:
    name: second
  port: 80
  applications:
    httpProxy:
      routes:
        - match:
            hostNames: [second.acme.io]
          backendRef:
            name: https-proxy
"""


def test_new_vip(rb):
    old, copy, new = rb
    with (copy / "vip-service.yaml").open("a") as f:
        f.write(NEW_SERVICE)
    new_dir = new()
    r = run("diff", str(old), str(new_dir))
    assert r.exit_code == 1
    assert "BGP peer 192.168.121.201: + prefix 100.64.0.102/32 (default/second)" in r.stdout
    assert "IPAM: + LBVIP default/second 100.64.0.102 (pool lb-pool, ports 80)" in r.stdout
    assert "tier 1: + service 100.64.0.102:80/TCP (default/second, T2 nodes lb-t2-1, lb-t2-2)" in r.stdout
    assert "tier 2: + listener VIP 100.64.0.102:80 second (httpProxy -> default/https-proxy)" in r.stdout
    assert "tier 2: + VIP 100.64.0.102" in r.stdout
    _, changes = diff_json(old, new_dir)
    assert all(c["action"] == "create" for c in changes)
    prefix = [c for c in changes if c["section"] == "bgp"]
    assert [c["node"] for c in prefix] == ["lb-t1-1", "lb-t1-2"]
    assert prefix[0]["new"]["services"] == ["default/second"]
    # the existing service is untouched: nothing about 100.64.0.101 changed
    assert not any("100.64.0.101" in c["object"] + c["field"] for c in changes)


def test_bgp_prefix_attributes(rb):
    old, copy, new = rb
    edit(copy / "bgp.yaml", "      service:\n        addresses:",
         "      attributes:\n        communities:\n          standard: [\"64512:100\"]\n        localPreference: 200\n"
         "      service:\n        addresses:")
    new_dir = new()
    r = run("diff", str(old), str(new_dir))
    assert r.exit_code == 1
    assert "BGP peer 192.168.121.201: + prefix 100.64.0.101/32 communities 64512:100" in r.stdout
    assert "BGP peer 192.168.121.201: ~ prefix 100.64.0.101/32 localPreference none -> 200" in r.stdout
    _, changes = diff_json(old, new_dir)
    assert {(c["node"], c["field"], c["action"], c["old"], c["new"]) for c in changes} == {
        (n, f, a, o, v) for n in ("lb-t1-1", "lb-t1-2") for f, a, o, v in (
            ("prefix 100.64.0.101/32 communities", "create", None, "64512:100"),
            ("prefix 100.64.0.101/32 localPreference", "update", None, 200))}


def test_certificate_change_shows_digests_never_material(rb):
    old, copy, new = rb
    ca = make_ca()
    leaf = make_leaf(ca, ["https-proxy.acme.io"])
    secrets = (copy / "secrets.yaml").read_text()
    start = secrets.index("---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: https-proxy")
    end = secrets.index("\n#", start)
    (copy / "secrets.yaml").write_text(secrets[:start] + "---\n" + tls_secret_yaml("https-proxy", leaf, ca=ca) + secrets[end:])
    new_dir = new()
    r = run("diff", str(old), str(new_dir))
    assert r.exit_code == 1
    old_sha = json.loads((old / "lb-t2-1.json").read_text())["tier2"]["listeners"][0]["tls"]["certificates"][0]["sha256"]
    new_sha = json.loads((new_dir / "lb-t2-1.json").read_text())["tier2"]["listeners"][0]["tls"]["certificates"][0]["sha256"]
    assert old_sha != new_sha
    assert f"{VIP_LABEL}: ~ certificate default/https-proxy changed (sha256 {old_sha[:8]}.. -> {new_sha[:8]}..)" in r.stdout
    _, changes = diff_json(old, new_dir)
    assert [(c["node"], c["field"], c["old"], c["new"]) for c in changes] == [
        (n, "certificate default/https-proxy", old_sha, new_sha) for n in ("lb-t2-1", "lb-t2-2")]
    everything = r.stdout + json.dumps(changes)
    for material in (leaf.key_pem, leaf.cert_pem):
        assert material.decode() not in everything
        assert base64.b64encode(material).decode()[:40] not in everything


def _slots(plan: dict) -> list[str]:
    t = plan["tier1"]["maglevTables"][plan["tier1"]["services"][0]["maglevTable"]]
    raw = base64.b64decode(t["table"])
    return [t["t2Nodes"][i] for i in memoryview(raw).cast("H")]


def test_t2_node_leaves_tier1_with_maglev_detail_and_node_removed(rb):
    old, copy, new = rb
    docs = (copy / "nodes.yaml").read_text().split("\n---\n")
    (copy / "nodes.yaml").write_text("\n---\n".join(d for d in docs if "name: lb-t2-2\n" not in d))
    new_dir = new()
    before, after = json.loads((old / "lb-t1-1.json").read_text()), json.loads((new_dir / "lb-t1-1.json").read_text())
    moved = sum(a != b for a, b in zip(_slots(before), _slots(after)))
    assert 0 < moved < len(_slots(before))
    sha = lambda p: p["tier1"]["maglevTables"][0]["sha256"][:8]  # noqa: E731
    r = run("diff", str(old), str(new_dir))
    assert r.exit_code == 1
    assert (f"tier 1 100.64.0.101:443/TCP: ~ T2 nodes lb-t2-1, lb-t2-2 -> lb-t2-1 "
            f"(maglev table sha256 {sha(before)}.. -> {sha(after)}.., {moved} slots changed)") in r.stdout
    _, changes = diff_json(old, new_dir)
    gone = [c for c in changes if c["node"] == "lb-t2-2"]
    assert gone and all(c["action"] == "delete" for c in gone)
    assert {"section": "node", "object": "node lb-t2-2", "field": "node", "action": "delete"}.items() <= gone[0].items()
    assert "node lb-t2-2: - node (tiers t2)" in r.stdout


def test_no_changes_exit_0(rb):
    old, _, new = rb
    new_dir = new()
    r = run("diff", str(old), str(new_dir))
    assert r.exit_code == 0 and "no changes" in r.stdout
    assert diff_json(old, new_dir) == (0, [])
    # single plan files too
    assert run("diff", str(old / "lb-t1-1.json"), str(new_dir / "lb-t1-1.json")).exit_code == 0


def test_manifests_against_applied_plan(rb, tmp_path):
    old, copy, _ = rb
    state = tmp_path / "state"
    # nothing applied yet: everything is an addition
    r = run("diff", str(copy), "--node", "lb-t1-1", "--state-dir", str(state), "-o", "json")
    assert r.exit_code == 1
    changes = json.loads(r.stdout)
    assert changes and {c["action"] for c in changes} == {"create"} and {c["node"] for c in changes} == {"lb-t1-1"}
    assert {"node", "ipam", "tier1", "bgp"} <= {c["section"] for c in changes}
    assert "network" not in {c["section"] for c in changes}  # apply makes no network changes
    # applied = what compiles now: no changes
    (state / "lb-t1-1").mkdir(parents=True)
    (state / "lb-t1-1" / "applied-plan.json").write_bytes((old / "lb-t1-1.json").read_bytes())
    r = run("diff", str(copy), "--node", "lb-t1-1", "--state-dir", str(state))
    assert r.exit_code == 0, r.output
    # a change in the manifests shows against the applied plan, as plan-vs-plan would say it
    with (copy / "vip-service.yaml").open("a") as f:
        f.write(NEW_SERVICE)
    r = run("diff", str(copy), "--node", "lb-t1-1", "--state-dir", str(state), "-o", "json")
    assert r.exit_code == 1
    new_dir = tmp_path / "plans-new"
    compile_to(copy, new_dir)
    expected = [c for c in diff_json(old, new_dir)[1] if c["node"] == "lb-t1-1"]
    assert json.loads(r.stdout) == expected
    # a plan directory against the applied plan works the same way
    r = run("diff", str(new_dir), "--node", "lb-t1-1", "--state-dir", str(state), "-o", "json")
    assert r.exit_code == 1 and json.loads(r.stdout) == expected


def test_errors_exit_2(rb, tmp_path):
    old, copy, new = rb
    assert run("diff", str(copy)).exit_code == 2  # manifests without --node
    r = run("diff", str(copy), "--node", "nope", "--state-dir", str(tmp_path / "s"))
    assert r.exit_code == 2 and "no node named 'nope'" in r.output
    assert run("diff", str(old), str(copy)).exit_code == 2  # a plan and manifests
    assert run("diff", str(old), str(new()), "--node", "nope").exit_code == 2
    bad = tmp_path / "state" / "lb-t1-1"
    bad.mkdir(parents=True)
    (bad / "applied-plan.json").write_text("{not json")
    r = run("diff", str(copy), "--node", "lb-t1-1", "--state-dir", str(tmp_path / "state"))
    assert r.exit_code == 2 and "applied-plan.json" in r.output
    # lint errors are errors here (exit 1 would mean "changes")
    edit(copy / "vip-service.yaml", "  port: 443", "  port: 99999")
    assert run("diff", str(copy), "--node", "lb-t1-1", "--state-dir", str(tmp_path / "s")).exit_code == 2


def test_identity_not_position():
    from lbcli.compile.plan import compile_plans

    from .lintkit import lint_example

    plans = compiled_json(lint_example("rebel-base").index).plans
    t2 = plans["lb-t2-1"]
    shuffled = json.loads(json.dumps(t2))
    pool = shuffled["tier2"]["backendPools"][0]
    pool["backends"].reverse()
    assert diff_plans(t2, shuffled) == []
    pool["backends"][0]["weight"] = 7  # was 172.18.0.8's 2, now at index 0
    [c] = diff_plans(t2, shuffled)
    assert (c.field, c.old, c.new) == ("backend 172.18.0.8:8080 weight", 2, 7)
    assert line(c) == f"{VIP_LABEL}: ~ backend 172.18.0.8:8080 weight 2 -> 7"


def test_sections_limit_and_plan_sets():
    from lbcli.compile.plan import compile_plans

    from .lintkit import lint_example

    plans = compiled_json(lint_example("rebel-base").index).plans
    t1 = plans["lb-t1-1"]
    changed = json.loads(json.dumps(t1))
    changed["bgp"]["instances"][0]["peers"][0]["timers"]["holdTimeSeconds"] = 9
    changed["network"]["masquerade"] = False  # apply never changes it: diff does not list it
    assert {c.section for c in diff_plans(t1, changed)} == {"bgp"}
    assert [c.section for c in diff_plans(t1, changed, sections=["bgp"])] == ["bgp"]
    with pytest.raises(ValueError):
        diff_plans(t1, changed, sections=["tier3"])
    assert diff_plan_sets(plans, plans) == []
    removed = diff_plan_sets(plans, {k: v for k, v in plans.items() if k != "lb-t1-2"})
    assert removed and {c.node for c in removed} == {"lb-t1-2"} and {c.action for c in removed} == {"delete"}
