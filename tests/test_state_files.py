"""Faults without a lab: state files (durable writes, corruption detected, never read as
empty), BGP gated per VIP on earlier failures, and dry runs that report what apply would refuse.
The same behaviours against real daemons and kernels: tests/e2e/test_apply_faults.py."""

from __future__ import annotations

import copy

import json
import stat
import time
from pathlib import Path

import pytest

from lbcli.agent import engine as ap
from lbcli.agent import state as st
from lbcli.agent.reconciler import Change, ComponentResult, NodeContext, ObjectResult

VIP_A, VIP_B = "100.64.0.101", "100.64.0.102"


# ---- the state helper --------------------------------------------------------------------------

def test_round_trip_is_private_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "n" / "x.json"
    st.write(p, "x", {"a": [1, 2], "b": None})
    assert st.read(p, "x") == st.StateRead({"a": [1, 2], "b": None})
    assert stat.S_IMODE(p.stat().st_mode) == 0o600 and st.mirror_of(p).exists()
    assert sorted(f.name for f in p.parent.iterdir()) == ["x.json", "x.json.mirror"]
    assert json.loads(p.read_text())["format"] == st.FORMAT


def test_write_never_follows_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    for name in (".x.json.tmp", ".x.json.tmp.json"):  # the old, predictable temp names
        (tmp_path / name).symlink_to(victim)
    st.write(tmp_path / "x.json", "x", {"k": 1})
    assert victim.read_text() == "keep"


@pytest.mark.parametrize("damage,reason", [
    (lambda b: b"", "empty"),
    (lambda b: b[: len(b) // 2], "not JSON"),
    (lambda b: b.replace(b'"k": 1', b'"k": 2'), "checksum mismatch"),
    (lambda b: b"[1, 2]", "expected an object"),
    (lambda b: b.replace(b'"kind": "x"', b'"kind": "y"'), "expected 'x'"),
    (lambda b: b.replace(st.FORMAT.encode(), b"cilium-lb-state/9"), "unknown format"),
])
def test_a_damaged_primary_is_detected_and_recovered_from_the_mirror(tmp_path, damage, reason):
    p = tmp_path / "x.json"
    st.write(p, "x", {"k": 1})
    p.write_bytes(damage(p.read_bytes()))
    got = st.read(p, "x")
    assert got.data == {"k": 1} and reason in got.note and str(p) in got.note
    notes: list[str] = []
    assert st.load(p, "x", None, notes, repair=True) == {"k": 1} and notes
    assert st.read(p, "x").note is None  # repaired


def test_both_copies_damaged_is_an_error_naming_the_file_never_empty(tmp_path):
    p = tmp_path / "x.json"
    st.write(p, "x", {"k": 1})
    p.write_bytes(b"")
    st.mirror_of(p).write_bytes(b'{"format": "cil')
    with pytest.raises(st.StateCorrupt) as e:
        st.read(p, "x")
    assert str(p) in str(e.value) and "empty" in str(e.value) and "mirror" in str(e.value)


def test_wrong_shape_is_corrupt_and_legacy_bare_objects_still_read(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"vips": ["1.2.3.4"]}))  # as versions before the envelope wrote it
    check = st.shape(vips=list, originals=dict)
    assert st.read(p, "x", check).data == {"vips": ["1.2.3.4"]}
    p.write_text(json.dumps({"vips": "1.2.3.4"}))
    with pytest.raises(st.StateCorrupt, match="field 'vips': expected list"):
        st.read(p, "x", check)


def test_missing_is_none_and_remove_takes_both_copies(tmp_path):
    p = tmp_path / "x.json"
    assert st.read(p, "x").data is None
    st.write(p, "x", {})
    st.remove(p)
    assert not st.exists(p)


# ---- components reading their state -------------------------------------------------------------

def _ctx(tmp_path, dry_run=False) -> NodeContext:
    return NodeContext("n1", tmp_path / "state", tmp_path / "bpf", dry_run)


def _corrupt_both(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"format": "cilium-lb-state/1", "kind": "rec')
    st.mirror_of(path).write_bytes(b"")


def test_receive_reset_with_lost_originals_fails_naming_the_file_and_keeps_it(tmp_path):
    from lbcli.agent.receive import ReceiveReconciler

    rec = ReceiveReconciler(_ctx(tmp_path))
    _corrupt_both(rec.state_file)
    res = rec.reset()
    assert not res.ok and str(rec.state_file) in res.error and "sysctl" in res.error
    assert rec.state_file.exists()  # a second reset must not report converged either
    assert not rec.reset().ok


def test_receive_recovers_its_originals_from_the_mirror(tmp_path):
    from lbcli.agent.receive import ReceiveReconciler

    rec = ReceiveReconciler(_ctx(tmp_path))
    record = {"device": None, "vips": [], "originals": {"net.ipv4.conf.all.arp_ignore": "0"}}
    st.write(rec.state_file, "receive", record)
    rec.state_file.write_bytes(rec.state_file.read_bytes()[:20])
    assert rec._state() == record and rec.notes and "recovered" in rec.notes[0]


def test_corrupt_state_in_apply_is_a_component_error_not_a_traceback(tmp_path, monkeypatch):
    from lbcli.agent.receive import ReceiveReconciler

    ctx = _ctx(tmp_path)
    _corrupt_both(ReceiveReconciler(ctx).state_file)
    rep = ap.apply_plan(ctx, _plan(), {}, only={"receive"})
    [res] = rep.components
    assert not rep.ok and "receive.json" in res.error and "corrupt" in res.error
    assert not rep.recorded


def test_bgp_summary_that_cannot_be_trusted_is_dropped_with_a_note(tmp_path):
    from lbcli.agent.bgp.reconciler import BgpReconciler

    rec = BgpReconciler(_ctx(tmp_path), settle_timeout=0)
    _corrupt_both(rec.paths.applied)
    obs = rec.observe()
    assert obs.applied is None and str(rec.paths.applied) in rec.notes[0]
    assert not st.exists(rec.paths.applied)


def test_datapath_state_lost_is_rebuilt_from_the_host(tmp_path):
    from lbcli.agent.datapath.reconciler import DatapathReconciler

    rec = DatapathReconciler(_ctx(tmp_path))
    _corrupt_both(rec.state_file)
    rec._state_from_host = lambda: {"device": "lb1vx", "uplink": "eth0"}  # what the host shows
    assert rec._state() == {"device": "lb1vx", "uplink": "eth0"}
    assert "rebuilt from the host" in rec.notes[0] and str(rec.state_file) in rec.notes[0]
    assert st.read(rec.state_file, "datapath").data == {"device": "lb1vx", "uplink": "eth0"}


def test_lost_pid_file_finds_the_running_daemon(tmp_path):
    """A truncated pid file must not make apply start a second daemon: the process table is
    searched for the one started with this node's files."""
    import subprocess
    import sys

    from lbcli.agent.bgp import daemon

    paths = daemon.BirdPaths.for_node(tmp_path, "n1")
    paths.dir.mkdir(parents=True)
    fake = tmp_path / "bird"  # a process whose argv looks like this node's BIRD
    fake.symlink_to(sys.executable)
    proc = subprocess.Popen([str(fake), "-c", "import time; time.sleep(30)", "-s", str(paths.ctl)])
    try:
        for _ in range(200):  # until the child has exec'd (before that its argv is pytest's)
            if str(paths.ctl).encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                break
            time.sleep(0.01)
        paths.pid.write_text("")
        assert daemon.read_pid(paths) == proc.pid
        paths.pid.write_text(f"{proc.pid}\n")
        assert daemon.read_pid(paths) == proc.pid
    finally:
        proc.kill()
        proc.wait()
    paths.pid.write_text("")
    assert daemon.read_pid(paths) is None


# ---- BGP gating ---------------------------------------------------------------------------------

def _rebel(edit=None) -> dict:
    """lb-t1-1's plan (JSON form) compiled from examples/rebel-base plus LBVIP/LBService
    default/b on VIP_B (the example's https-proxy is on VIP_A), the set edited by `edit(docs)`;
    lint errors fail."""
    import yaml

    from .lintkit import EXAMPLES, compiled_json, lint_texts

    docs = [d for f in sorted((EXAMPLES / "rebel-base").rglob("*.y*ml")) for d in yaml.safe_load_all(f.read_text()) if d]
    vip = next(d for d in docs if d["kind"] == "LBVIP")
    svc = next(d for d in docs if d["kind"] == "LBService")
    assert vip["spec"]["ipv4Request"] == VIP_A
    docs.append({**copy.deepcopy(vip), "metadata": {"namespace": "default", "name": "b"}, "spec": {"ipv4Request": VIP_B}})
    b = copy.deepcopy(svc)
    b["metadata"] = {"namespace": "default", "name": "b"}
    b["spec"]["vipRef"] = {"name": "b"}
    docs.append(b)
    if edit is not None:
        edit(docs)
    report = lint_texts({"rebel.yaml": yaml.safe_dump_all(docs, sort_keys=False)})
    assert report.summary["errors"] == 0, [str(x) for x in report.problems]
    return compiled_json(report.index).plans["lb-t1-1"]


def _plan():
    """Compile's tier-1 plan with two services, on VIP_A and VIP_B, both announced."""
    from lbcli.plan.types import NodePlan

    return NodePlan.from_json(_rebel())


def _prefixes(plan) -> list[str]:
    return [a.prefix for i in plan.bgp.instances for p in i.peers for a in p.prefixes]


def test_a_failed_service_entry_withholds_only_its_vip():
    ch = Change("datapath", "create", f"service {VIP_A}:80/TCP", vips=(VIP_A,))
    res = ComponentResult("datapath", [ObjectResult(ch, False, "map full")])
    plan = _plan()
    gated, withheld = ap.gate_announcements(plan, [res])
    assert _prefixes(gated) == [f"{VIP_B}/32"] and _prefixes(plan) == [f"{VIP_A}/32", f"{VIP_B}/32"]
    assert [(w.prefix, "map full" in w.reason) for w in withheld] == [(f"{VIP_A}/32", True)]


@pytest.mark.parametrize("res", [
    ComponentResult("datapath", error="program tier1: load failed"),
    ComponentResult("datapath", [ObjectResult(Change("datapath", "create", "filter eth0 ingress"), False, "busy")]),
])
def test_a_component_wide_failure_withholds_every_vip_it_serves(res):
    gated, withheld = ap.gate_announcements(_plan(), [res])
    assert _prefixes(gated) == [] and [w.prefix for w in withheld] == [f"{VIP_A}/32", f"{VIP_B}/32"]


def test_failures_that_do_not_affect_serving_withhold_nothing():
    ok_state = Change("datapath", "update", "state", vips=())
    res = [ComponentResult("datapath", [ObjectResult(ok_state, False, "disk full")]),
           ComponentResult("receive", error="boom")]  # a tier-1 node: receive serves nothing here
    gated, withheld = ap.gate_announcements(_plan(), res)
    assert withheld == [] and _prefixes(gated) == _prefixes(_plan())


def _pod_cidr_plan(pod_cidr: str = "10.1.1.0/24"):
    """_plan() on a node with PodCIDR `pod_cidr`, which it announces (advertisementType PodCIDR)
    besides the two VIPs."""
    from lbcli.plan.types import NodePlan

    def edit(docs):
        node = next(d for d in docs if d["kind"] == "Node" and d["metadata"]["name"] == "lb-t1-1")
        node["spec"].update(podCIDR=pod_cidr, podCIDRs=[pod_cidr])
        adv = next(d for d in docs if d["kind"] == "IsovalentBGPAdvertisement")
        adv["spec"]["advertisements"].append({"advertisementType": "PodCIDR"})

    return NodePlan.from_json(_rebel(edit))


@pytest.mark.parametrize("res", [
    ComponentResult("network", error="NetworkError: no link holds the node's internalIP 192.168.1.1"),
    ComponentResult("network", [ObjectResult(Change("network", "create", "route 10.1.2.0/24"), False, "busy")]),
])
def test_a_failed_network_component_withholds_the_node_pod_cidr(res):
    plan = _pod_cidr_plan()
    gated, withheld = ap.gate_announcements(plan, [res])
    assert _prefixes(gated) == [f"{VIP_A}/32", f"{VIP_B}/32"]  # the VIPs do not depend on it
    [w] = withheld
    assert w.prefix == "10.1.1.0/24" and w.reason.startswith("network") and ("busy" in w.reason or "internalIP" in w.reason)


def test_a_failed_bandwidth_object_does_not_withhold_the_pod_cidr():
    from lbcli.agent.network.desired import Tbf
    from lbcli.agent.network.reconciler import NetworkReconciler

    ch = NetworkReconciler._change("create", "tbf for default/x", Tbf(None, 10**6, "default/x", "no local device"))
    res = ComponentResult("network", [ObjectResult(ch, False, "no local device")])
    plan = _pod_cidr_plan()
    gated, withheld = ap.gate_announcements(plan, [res])
    assert withheld == [] and _prefixes(gated) == _prefixes(plan)
    ok = ComponentResult("network", [ObjectResult(Change("network", "create", "route 10.1.2.0/24"), True)])
    assert ap.gate_announcements(plan, [ok]) == (plan, [])


class _Fake:
    """A component on the engine's contract: desired, observe, diff, per-object apply."""

    def __init__(self, name, fail=False, seen=None):
        self.name, self.fail, self.seen, self.notes = name, fail, seen, []

    def desired(self, plan, secrets):
        return plan

    def observe(self):
        return None

    def diff(self, desired, observed):
        if self.seen is not None:
            self.seen.append(desired)
        return [Change(self.name, "update", f"{self.name} thing", critical=True)]

    def apply(self, change):
        if self.fail:
            raise RuntimeError("tc program failed to load")

    def reset(self):
        return ComponentResult(self.name)


def test_apply_announces_only_after_the_datapath_worked(tmp_path, monkeypatch):
    seen: list = []
    fail = {"datapath": True}
    monkeypatch.setattr(ap, "COMPONENTS", [
        ("datapath", lambda ctx: _Fake("datapath", fail["datapath"])),
        ("bgp", lambda ctx: _Fake("bgp", seen=seen)),
    ])
    ctx = _ctx(tmp_path)
    rep = ap.apply_plan(ctx, _plan(), {})
    assert not rep.ok and not rep.recorded and _prefixes(seen[-1]) == []
    doc = rep.to_dict()
    assert [w["prefix"] for w in doc["withheld"]] == [f"{VIP_A}/32", f"{VIP_B}/32"]
    assert "tc program failed to load" in doc["withheld"][0]["reason"]
    fail["datapath"] = False  # repaired
    rep = ap.apply_plan(ctx, _plan(), {})
    assert rep.ok and rep.recorded and _prefixes(seen[-1]) == [f"{VIP_A}/32", f"{VIP_B}/32"]


def test_text_report_names_the_withheld_vip_and_why(capsys):
    from lbcli.report.apply_text import render

    render({"node": "n1", "dryRun": False, "ok": False, "changes": 0, "recorded": False,
            "components": [{"name": "datapath", "ok": False, "degraded": None, "error": "load failed",
                            "notes": [], "changes": []}],
            "withheld": [{"prefix": f"{VIP_A}/32", "reason": "datapath failed: load failed"}]})
    out = capsys.readouterr().out
    assert f"not announced {VIP_A}/32" in out and "datapath failed: load failed" in out


# ---- dry runs report what apply would refuse ----------------------------------------------------

def _bgp_plan():
    """_plan() with MD5 authentication on the peer (Secret kube-system/bgp-auth)."""
    import base64

    from lbcli.plan.types import NodePlan

    def edit(docs):
        next(d for d in docs if d["kind"] == "IsovalentBGPPeerConfig")["spec"]["authSecretRef"] = "bgp-auth"
        docs.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"namespace": "kube-system", "name": "bgp-auth"},
                     "data": {"password": base64.b64encode(b"fine-pw").decode()}})

    return NodePlan.from_json(_rebel(edit))


@pytest.mark.parametrize("password", ['pa"ss', "pa\nss", "back\\slash", "x" * 81])
def test_dry_run_reports_a_password_bird_cannot_take(tmp_path, password):
    ctx = _ctx(tmp_path, dry_run=True)
    rep = ap.apply_plan(ctx, _bgp_plan(), {"kube-system/bgp-auth": {"password": password.encode()}},
                        only={"bgp"})
    [res] = rep.components
    assert not rep.ok and "password" in res.error and password not in json.dumps(rep.to_dict())
    assert not (ctx.state_dir / "n1" / "bird").exists()  # nothing touched


def test_dry_run_runs_bird_p_on_the_rendered_config(tmp_path, monkeypatch):
    from lbcli.agent.bgp import daemon

    if daemon.find_bird() is None:
        pytest.skip("bird not installed")
    ctx = _ctx(tmp_path, dry_run=True)
    secrets = {"kube-system/bgp-auth": {"password": b"fine-pw"}}
    rep = ap.apply_plan(ctx, _bgp_plan(), secrets, only={"bgp"})
    assert rep.ok, rep.to_dict()
    monkeypatch.setattr("lbcli.agent.bgp.reconciler.render_bird_conf", lambda *a, **k: "protocol nonsense {\n")
    rep = ap.apply_plan(ctx, _bgp_plan(), secrets, only={"bgp"})
    assert not rep.ok and "bird -p rejected" in rep.components[0].error
    assert not (ctx.state_dir / "n1" / "bird").exists()


def test_l7_preflight_runs_haproxy_check_outside_the_node_dir(tmp_path):
    from lbcli.agent.l7.reconciler import L7Reconciler

    rec = L7Reconciler(_ctx(tmp_path, dry_run=True), binary="false")  # a checker that rejects all
    called = []
    rec._render = lambda model, secrets, base: called.append(base) or _Rendered()
    from lbcli.agent.l7.reconciler import Install

    ch = Change("l7", "create", "haproxy n1", spec=Install(type("D", (), {"model": None, "secrets": None})(), True))
    res = rec.preflight([ch])
    assert not res.ok and "haproxy -c" in res.results[0].error
    assert called and not str(called[0]).startswith(str(tmp_path)) and not rec.paths.dir.exists()


class _Rendered:
    files: dict = {}
    config = "global\n"
    users = ""


def test_flock_serialises_applies_on_a_node(tmp_path):
    import subprocess
    import sys

    ctx = _ctx(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pathlib import Path\nfrom lbcli.agent.engine import node_lock\n"
        "from lbcli.agent.reconciler import NodeContext\n"
        f"with node_lock(NodeContext('n1', Path({str(ctx.state_dir)!r}), Path('/nonexistent'))):\n"
        "    print('held', flush=True); time.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ap.LockTimeout, match="apply.lock"):
            with ap.node_lock(ctx, timeout=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()
    with ap.node_lock(ctx, timeout=5):  # released when its holder is killed
        pass


# ---- the engine's contract: retries, deleting what is gone, batches, critical failures -------

class _Flaky:
    name = "flaky"

    def __init__(self, failures):
        self.failures, self.calls, self.batches = list(failures), [], []

    def apply(self, change):
        self.calls.append(change.object)
        if self.failures:
            raise self.failures.pop(0)
        return "done"

    def apply_batch(self, changes):
        self.batches.append([c.object for c in changes])
        if self.failures:
            raise self.failures.pop(0)


def test_engine_retries_transient_failures_a_bounded_number_of_times():
    import errno

    comp = _Flaky([OSError(errno.EBUSY, "busy")])
    res = ap.execute(comp, [Change("flaky", "create", "a")])
    assert res.ok and res.results[0].attempts == 2 and res.results[0].change.detail == "done"
    comp = _Flaky([OSError(errno.EBUSY, "busy")] * (ap.ATTEMPTS + 1))
    res = ap.execute(comp, [Change("flaky", "create", "a")])
    assert not res.ok and res.results[0].attempts == ap.ATTEMPTS and len(comp.calls) == ap.ATTEMPTS
    comp = _Flaky([ValueError("rejected")])  # not transient: one attempt
    res = ap.execute(comp, [Change("flaky", "create", "a")])
    assert not res.ok and len(comp.calls) == 1 and res.results[0].error == "rejected"


def test_engine_deleting_what_is_missing_is_success_creating_it_is_not():
    import errno

    res = ap.execute(_Flaky([OSError(errno.ENODEV, "no such device")]), [Change("flaky", "delete", "dev x")])
    assert res.ok
    res = ap.execute(_Flaky([OSError(errno.ENODEV, "no such device")]), [Change("flaky", "create", "dev x")])
    assert not res.ok


def test_engine_batches_consecutive_changes_and_stops_after_a_critical_failure():
    comp = _Flaky([])
    changes = [Change("flaky", "create", "t1", batch="t"), Change("flaky", "create", "t2", batch="t"),
               Change("flaky", "create", "s1"), Change("flaky", "create", "t3", batch="t")]
    res = ap.execute(comp, changes)
    assert res.ok and comp.batches == [["t1", "t2"], ["t3"]] and comp.calls == ["s1"]
    comp = _Flaky([RuntimeError("load failed")])
    res = ap.execute(comp, [Change("flaky", "create", "program", critical=True), Change("flaky", "create", "after")])
    assert res.error == "program: load failed" and comp.calls == ["program"]
    assert [r.ok for r in res.results] == [False]
