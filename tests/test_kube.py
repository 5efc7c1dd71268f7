"""The cluster source, watch, Lease and status write-back, through the real `kubernetes`
client against tests/kube_fake.py — a FAKE API server (no Kubernetes API server can be
installed here; see that file for what it does and does not cover)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lbcli.kube.client import KubeError, connect
from lbcli.kube.deploy import rbac
from lbcli.kube.lease import LeaseLock
from lbcli.kube.resources import LEASE, NODE, lb_resources
from lbcli.kube.source import read_cluster
from lbcli.kube.status import desired, write_status
from lbcli.kube.watch import Backoff, Reflector
from lbcli.lint.engine import lint
from lbcli.manifest.loader import load

from .kube_fake import FakeApiServer

ROOT = Path(__file__).resolve().parent.parent
REBEL = ROOT / "examples" / "rebel-base"
K8S = ROOT / "examples" / "k8s-services"
pytestmark = pytest.mark.timeout(120)


def _served():
    return [(r.group, r.version, r.kind, r.plural, r.namespaced) for _, vs in lb_resources() for r in vs]


@pytest.fixture
def api(tmp_path):
    srv = FakeApiServer(_served()).start()
    srv.kc = srv.kubeconfig(tmp_path / "kubeconfig")
    yield srv
    srv.stop()


def _fill(srv, path=REBEL, extra=()):
    for r in load([str(path)]).resources:
        srv.put(copy.deepcopy(r.body))
    for obj in extra:
        srv.put(obj)


def _cli(*args, env=None):
    e = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})}
    e.pop("KUBERNETES_SERVICE_HOST", None)
    return subprocess.run([sys.executable, "-m", "lbcli", *args], capture_output=True, text=True, env=e, timeout=60)


# -- source ------------------------------------------------------------------------------

def test_cluster_set_lints_like_the_files(api):
    _fill(api)
    files = lint(load([str(REBEL)]))
    cluster = read_cluster(connect(api.kc))
    got = lint(cluster.load)
    assert sorted(r.ref for r in cluster.load.resources) == sorted(r.ref for r in files.load.resources)
    assert got.summary["errors"] == files.summary["errors"] == 0
    assert cluster.missing == []


def test_only_referenced_secrets_are_read(api):
    stranger = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "unrelated", "namespace": "default"},
                "type": "Opaque", "data": {"x": "c2VjcmV0"}}
    _fill(api, extra=[stranger])
    cs = read_cluster(connect(api.kc))
    names = {r.name for r in cs.load.resources if r.kind == "Secret"}
    assert "unrelated" not in names and names  # rebel-base references its TLS Secret(s)
    assert not any(v == "list" and r == "secrets" for v, g, r in api.verbs_used())
    got = [n for v, g, r, ns, n in api.requests if r == "secrets"]
    assert sorted(got) == sorted(names)


def _obj(kind, ns, name, **body):
    api_version = "discovery.k8s.io/v1" if kind == "EndpointSlice" else "v1"
    labels = body.pop("labels", None)
    meta = {"namespace": ns, "name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def test_services_the_set_uses_come_with_their_endpoints_only(api):
    strangers = [
        _obj("Service", "default", "unused", spec={"type": "ClusterIP", "ports": [{"port": 80}]}),
        _obj("EndpointSlice", "default", "unused-1", labels={"kubernetes.io/service-name": "unused"},
             addressType="IPv4", endpoints=[{"addresses": ["10.9.9.9"]}]),
        _obj("EndpointSlice", "other", "echo-1", labels={"kubernetes.io/service-name": "echo"},
             addressType="IPv4", endpoints=[{"addresses": ["10.9.9.8"]}]),  # another namespace's echo
        _obj("Endpoints", "default", "web", subsets=[{"addresses": [{"ip": "10.9.9.7"}]}]),  # web has a slice
    ]
    _fill(api, K8S, extra=strangers)
    cs = read_cluster(connect(api.kc))
    got = sorted(r.ref for r in cs.load.resources if r.kind in ("Service", "EndpointSlice", "Endpoints"))
    # echo: ClusterIP, referenced by the K8sService pool; web and api: LoadBalancer; api has no
    # slice, so its Endpoints are read by name (and only its)
    assert got == ["EndpointSlice/default/echo-abc12", "EndpointSlice/default/web-x7k2p", "Endpoints/default/api",
                   "Service/default/api", "Service/default/echo", "Service/default/web"]
    assert [(v, r, n) for v, g, r, ns, n in api.requests if r == "endpoints"] == [("get", "endpoints", "api")]
    assert lint(cs.load).summary["errors"] == 0


def test_compile_from_the_cluster_serves_k8s_services_like_the_files(api, tmp_path):
    _fill(api, K8S)
    files_out, kube_out = tmp_path / "f", tmp_path / "k"
    assert _cli("compile", str(K8S), "-o", str(files_out)).returncode == 0
    r = _cli("compile", "--kube", "--kubeconfig", api.kc, "-o", str(kube_out))
    assert r.returncode == 0, r.stderr
    for p in files_out.iterdir():
        assert (kube_out / p.name).read_bytes() == p.read_bytes(), p.name
    plan = json.loads((kube_out / "lb-t2-1.json").read_text())
    assert sorted(lst["service"] for lst in plan["tier2"]["listeners"]) == [
        "default/api:8443", "default/echo", "default/web:80"]


def test_pages_are_followed(api):
    for i in range(7):
        api.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n{i}", "labels": {"service.cilium.io/node": "t2"}},
                 "status": {"addresses": [{"type": "InternalIP", "address": f"10.0.0.{i + 1}"}]}})
    page = connect(api.kc).list(NODE, limit=3)
    assert [o["metadata"]["name"] for o in page.items] == [f"n{i}" for i in range(7)]
    assert all(o["kind"] == "Node" and o["apiVersion"] == "v1" for o in page.items)
    assert sum(1 for v, g, r, ns, n in api.requests if r == "nodes") == 3


def test_a_kind_the_cluster_does_not_serve_is_missing_not_an_error(tmp_path):
    srv = FakeApiServer([t for t in _served() if t[2] != "LBDeployment"]).start()
    try:
        cs = read_cluster(connect(srv.kubeconfig(tmp_path / "kc")))
        assert cs.missing == ["LBDeployment"]
    finally:
        srv.stop()


def test_older_version_is_used_when_the_best_is_not_served(tmp_path):
    served = [t for t in _served() if not (t[2] == "CiliumLoadBalancerIPPool" and t[1] == "v2")]
    srv = FakeApiServer(served).start()
    try:
        pool = {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool", "metadata": {"name": "p"},
                "spec": {"blocks": [{"cidr": "100.64.0.0/24"}]}}
        srv.put(pool)
        cs = read_cluster(connect(srv.kubeconfig(tmp_path / "kc")))
        assert cs.served["CiliumLoadBalancerIPPool"].version == "v2alpha1"
        assert [r.name for r in cs.load.resources if r.kind == "CiliumLoadBalancerIPPool"] == ["p"]
    finally:
        srv.stop()


def test_errors_are_values_with_status(api):
    api.fail_next = [403]
    with pytest.raises(KubeError) as e:
        connect(api.kc).list(NODE)
    assert e.value.status == 403
    with pytest.raises(KubeError) as e:
        connect(api.kc).get(LEASE, "kube-system", "nope")
    assert e.value.status == 404


BAD_SVC = {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBService",
           "metadata": {"name": "broken", "namespace": "default"},
           "spec": {"vipRef": {"name": "no-such-vip"}, "port": 70000,
                    "applications": {"tcpProxy": {"routes": [{"backendRef": {"name": "x"}}]}}}}


def test_findings_name_the_object_and_field_in_every_format(api, tmp_path):
    _fill(api, extra=[copy.deepcopy(BAD_SVC)])
    r = _cli("validate", "--kube", "--kubeconfig", api.kc, "-o", "json")
    assert r.returncode == 1, r.stderr
    probs = [p for p in json.loads(r.stdout)["problems"] if p.get("resource") == "LBService/default/broken"]
    assert probs and all(p["file"] is None and p["line"] is None for p in probs)
    assert any(p["field"] == "spec.port" for p in probs), probs
    text = _cli("validate", "--kube", "--kubeconfig", api.kc, "-o", "text").stdout
    assert "LBService/default/broken spec.port" in text and ":0:0" not in text
    assert "from the cluster" in text
    gh = _cli("validate", "--kube", "--kubeconfig", api.kc, "-o", "github").stdout
    line = next(x for x in gh.splitlines() if "spec.port" in x)
    assert line.startswith("::error title=") and "file=" not in line and "LBService/default/broken spec.port:" in line
    sarif = json.loads(_cli("validate", "--kube", "--kubeconfig", api.kc, "-o", "sarif").stdout)
    res = [x for x in sarif["runs"][0]["results"] if "spec.port" in json.dumps(x)]
    loc = res[0]["locations"][0]
    assert "physicalLocation" not in loc
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == "LBService/default/broken/spec.port"
    import xml.etree.ElementTree as ET

    junit = ET.fromstring(_cli("validate", "--kube", "--kubeconfig", api.kc, "-o", "junit").stdout)
    case = next(c for c in junit.iter("testcase") if c.get("name") == "LBService/default/broken")
    assert "LBService/default/broken spec.port" in case.find("failure").text


def test_cluster_secrets_never_reach_output(api):
    """A Secret's values (and kubectl's last-applied copy of them) appear in no format."""
    key_pem = "-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n"
    import base64

    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": "leaky", "namespace": "default",
                           "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps({"stringData": {"tls.key": "TOPSECRETMATERIAL"}})}},
              "data": {"tls.crt": base64.b64encode(b"not a cert TOPSECRETMATERIAL").decode(),
                       "tls.key": base64.b64encode(key_pem.encode()).decode()}}
    svc = copy.deepcopy(BAD_SVC)
    svc["spec"]["applications"] = {"httpsProxy": {"tlsConfig": {"certificates": [{"secretRef": {"name": "leaky"}}]},
                                                  "routes": [{"backendRef": {"name": "x"}}]}}
    _fill(api, extra=[secret, svc])
    for fmt in ("text", "json", "sarif", "github", "junit"):
        r = _cli("validate", "--kube", "--kubeconfig", api.kc, "-o", fmt)
        assert r.returncode in (0, 1), r.stderr
        assert "leaky" in r.stdout or fmt == "junit"  # the Secret is talked about...
        for needle in ("TOPSECRETMATERIAL", base64.b64encode(key_pem.encode()).decode()[:20], "VE9QU0VDUkVU"):
            assert needle not in r.stdout + r.stderr, fmt  # ...never shown


def test_usage_errors_exit_2(api, tmp_path):
    r = _cli("validate", "--kube", "--kubeconfig", str(tmp_path / "none"))
    assert r.returncode == 2 and "no kubeconfig" in r.stderr and "Traceback" not in r.stderr
    r = _cli("validate", "--kube", "--kubeconfig", api.kc, "--context", "nope")
    assert r.returncode == 2 and "nope" in r.stderr and "Traceback" not in r.stderr
    r = _cli("validate", str(REBEL), "--kube", "--kubeconfig", api.kc)
    assert r.returncode == 2 and "not both" in r.stderr
    dead = FakeApiServer([]).start()
    kc = dead.kubeconfig(tmp_path / "dead")
    dead.stop()
    r = _cli("validate", "--kube", "--kubeconfig", kc)
    assert r.returncode == 2 and "cannot reach" in r.stderr and "Traceback" not in r.stderr


def test_compile_and_status_from_the_cluster_match_the_files(api, tmp_path):
    _fill(api)
    files_out, kube_out = tmp_path / "f", tmp_path / "k"
    import shutil

    shutil.copytree(REBEL, tmp_path / "set")
    assert _cli("compile", str(tmp_path / "set"), "-o", str(files_out)).returncode == 0
    r = _cli("compile", "--kube", "--kubeconfig", api.kc, "-o", str(kube_out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in kube_out.iterdir()) == sorted(p.name for p in files_out.iterdir())
    for p in files_out.iterdir():
        assert (kube_out / p.name).read_bytes() == p.read_bytes(), p.name
    a = json.loads(_cli("lb", "status", "--plan", str(files_out), "-o", "json").stdout)
    r = _cli("lb", "status", "--kube", "--kubeconfig", api.kc, "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == a


def test_diff_from_the_cluster_against_the_applied_plan(api, tmp_path):
    _fill(api)
    node = next(r.name for r in load([str(REBEL)]).resources if r.kind == "Node")
    r = _cli("diff", "--kube", "--kubeconfig", api.kc, "--node", node, "--state-dir", str(tmp_path), "-o", "json")
    assert r.returncode == 1, r.stderr  # nothing applied yet: everything is a change
    assert json.loads(r.stdout)
    r = _cli("diff", "--kube", "--kubeconfig", api.kc, "--state-dir", str(tmp_path))
    assert r.returncode == 2 and "--node" in r.stderr


# -- status write-back and the Lease -----------------------------------------------------

def _compiled(api):
    from lbcli.compile.plan import compile_plans
    from lbcli.kube.source import allocations_of

    kube = connect(api.kc)
    cs = read_cluster(kube)
    report = lint(cs.load)
    return kube, cs, report, compile_plans(report.index, allocations_of(cs.load))


def test_status_is_written_once_and_keeps_its_address(api):
    _fill(api)
    kube, cs, report, compiled = _compiled(api)
    want = desired(compiled, report.index)
    res = write_status(kube, cs.served, want)
    assert res.written and not res.failed
    vip = next(r for r in cs.load.resources if r.kind == "LBVIP")
    stored = api.get("LBVIP", vip.namespace, vip.name)
    assert stored["status"]["addresses"]["ipv4"] == compiled.allocations[vip.ref]
    cond = stored["status"]["conditions"][0]
    assert cond["type"] == "lb.cilium.io/IPv4AddressAllocated" and cond["status"] == "True"
    again = write_status(kube, cs.served, want, now=datetime.now(timezone.utc) + timedelta(hours=1))
    assert again.written == [] and sorted(again.unchanged) == sorted(want)  # idempotent
    # the address recorded in status is kept by the next compile (the cluster's lock)
    _, _, _, compiled2 = _compiled(api)
    assert compiled2.allocations[vip.ref] == compiled.allocations[vip.ref]


def test_status_conflict_is_retried(api):
    _fill(api)
    kube, cs, report, compiled = _compiled(api)
    api.conflicts_to_inject = 2
    res = write_status(kube, cs.served, desired(compiled, report.index))
    assert res.conflicts == 2 and not res.failed
    api.conflicts_to_inject = 100
    vip = next(r for r in cs.load.resources if r.kind == "LBService")
    want = desired(compiled, report.index)
    want[vip.ref]["conditions"][0]["message"] = "changed"
    res = write_status(kube, cs.served, {vip.ref: want[vip.ref]})
    assert res.failed and "409" in res.failed[0]


def test_false_conditions_carry_ipam_reasons(api):
    vip = {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBVIP", "metadata": {"name": "nopool", "namespace": "other"},
           "spec": {"ipv4Request": "203.0.113.9"}}
    _fill(api, extra=[vip])
    kube, cs, report, compiled = _compiled(api)
    write_status(kube, cs.served, desired(compiled, report.index))
    cond = api.get("LBVIP", "other", "nopool")["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "NoPool")
    assert "addresses" not in api.get("LBVIP", "other", "nopool")["status"]


def test_lease_one_holder_takeover_after_expiry_and_release(api):
    a, b = LeaseLock(connect(api.kc), "a"), LeaseLock(connect(api.kc), "b")
    t0 = datetime.now(timezone.utc)
    assert a.try_acquire(t0) and not b.try_acquire(t0)
    assert a.try_acquire(t0 + timedelta(seconds=5))  # renew
    assert not b.try_acquire(t0 + timedelta(seconds=10))
    assert b.try_acquire(t0 + timedelta(seconds=25))  # a stopped renewing
    assert b.holder() == "b"
    assert api.get("Lease", "kube-system", "cilium-lb-status")["spec"]["leaseTransitions"] == 1
    b.release()
    assert a.try_acquire(t0 + timedelta(seconds=26))


def test_lease_race_has_one_winner(api):
    wins = []

    def race(name):
        wins.append((name, LeaseLock(connect(api.kc), name).try_acquire()))

    ts = [threading.Thread(target=race, args=(f"n{i}",)) for i in range(6)]
    [t.start() for t in ts]
    [t.join(30) for t in ts]
    assert sum(1 for _, w in wins if w) == 1, wins


def test_compile_write_status_cli(api, tmp_path):
    _fill(api)
    r = _cli("compile", "--kube", "--kubeconfig", api.kc, "-o", str(tmp_path / "p"), "--write-status")
    assert r.returncode == 0, r.stderr
    assert "status: " in r.stderr and " written" in r.stderr
    assert api.get("Lease", "kube-system", "cilium-lb-status")["spec"]["holderIdentity"] is None  # given back
    r = _cli("compile", "--kube", "--kubeconfig", api.kc, "-o", str(tmp_path / "p"), "--write-status")
    assert "0 written" in r.stderr
    LeaseLock(connect(api.kc), "agent-elsewhere").try_acquire()
    r = _cli("compile", "--kube", "--kubeconfig", api.kc, "-o", str(tmp_path / "p"), "--write-status")
    assert r.returncode == 0 and "held by agent-elsewhere" in r.stderr


# -- watch -------------------------------------------------------------------------------

def _node(name):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def _run(refl, stop):
    t = threading.Thread(target=refl.run, args=(stop,), daemon=True)
    t.start()
    return t


def _until(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_watch_delivers_a_change_within_a_second_and_resumes(api):
    api.put(_node("a"))
    syncs, events = [], []
    refl = Reflector(connect(api.kc), NODE, lambda items, rv: syncs.append([o["metadata"]["name"] for o in items]),
                     lambda typ, obj: events.append((typ, obj["metadata"]["name"], time.monotonic())), watch_timeout=1)
    stop = threading.Event()
    t = _run(refl, stop)
    try:
        assert _until(lambda: syncs == [["a"]])
        time.sleep(0.2)
        t0 = time.monotonic()
        api.put(_node("b"))
        assert _until(lambda: any(e[1] == "b" for e in events))
        assert next(e[2] for e in events if e[1] == "b") - t0 < 1.0
        assert _until(lambda: refl.stats.bookmarks >= 1)
        assert _until(lambda: refl.stats.watches >= 2, 5)  # the 1 s watch ended and resumed...
        api.delete(_node("a"))
        assert _until(lambda: ("DELETED", "a") in [(e[0], e[1]) for e in events])
        assert refl.stats.lists == 1  # ...without a relist
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()


def test_watch_relists_on_410_gone(api):
    api.put(_node("a"))
    syncs = []
    refl = Reflector(connect(api.kc), NODE, lambda items, rv: syncs.append(sorted(o["metadata"]["name"] for o in items)),
                     lambda *a: None, watch_timeout=1)
    stop = threading.Event()
    api.bookmark_interval = 60  # no bookmark moves the watch past the compaction point
    t = _run(refl, stop)
    try:
        assert _until(lambda: len(syncs) == 1)
        api.put(_node("b"))
        api.compact()  # the watch reconnects from an rv before this: 410
        assert _until(lambda: refl.stats.gone >= 1 and syncs[-1] == ["a", "b"])
        assert refl.stats.lists >= 2
    finally:
        stop.set()
        t.join(10)


def test_watch_backs_off_on_errors_and_recovers_after_a_dropped_connection(api):
    api.put(_node("a"))
    syncs, errors = [], []
    refl = Reflector(connect(api.kc), NODE, lambda items, rv: syncs.append(len(items)), lambda *a: None,
                     watch_timeout=2, backoff=Backoff(base=0.05, cap=0.2), on_error=errors.append)
    api.fail_next = [500, 503]
    api.drop_watch_after = 1  # the first watch is cut after its first event
    stop = threading.Event()
    t = _run(refl, stop)
    try:
        assert _until(lambda: len(syncs) == 1)
        assert [e.status for e in errors] == [500, 503]
        time.sleep(0.3)
        api.put(_node("b"))
        assert _until(lambda: any(e.status == 0 for e in errors))  # the dropped stream
        assert _until(lambda: len(syncs) >= 2 and syncs[-1] == 2)  # relisted after backoff
        assert refl.backoff.failures == 0  # reset by the success
    finally:
        stop.set()
        t.join(10)


def test_bounded_resync(api):
    api.put(_node("a"))
    syncs = []
    refl = Reflector(connect(api.kc), NODE, lambda items, rv: syncs.append(rv), lambda *a: None,
                     watch_timeout=30, resync=0.5)
    stop = threading.Event()
    t = _run(refl, stop)
    try:
        assert _until(lambda: len(syncs) >= 3, 8)
    finally:
        stop.set()
        t.join(10)


def test_backoff_is_jittered_and_capped():
    import random

    b = Backoff(base=1, cap=8, rng=random.Random(1))
    waits = [b.next() for _ in range(12)]
    assert all(0 <= w <= 8 for w in waits) and len(set(waits)) == 12
    assert max(waits[:1]) <= 1


# -- RBAC: what the code calls, recorded at the server, is what the manifests grant ------

def test_rbac_is_exactly_what_the_code_calls(api, tmp_path):
    rules = []
    for obj in rbac("kube-system"):
        if obj["kind"] in ("ClusterRole", "Role"):
            ns = obj["metadata"].get("namespace")
            rules += [{**r, "namespace": ns} for r in obj["rules"]]
    api.rbac = rules
    # a LoadBalancer Service without an EndpointSlice: its Endpoints are read by name
    _fill(api, extra=[_obj("Service", "default", "bare", spec={"type": "LoadBalancer", "ports": [{"port": 8080}]})])
    # everything the code does: read (validate/compile), status write-back, the Lease, watches
    r = _cli("compile", "--kube", "--kubeconfig", api.kc, "-o", str(tmp_path / "p"), "--write-status")
    assert r.returncode == 0, r.stderr
    api.conflicts_to_inject = 1  # a 409 makes the writer read the object again (get)
    kube, cs, report, compiled = _compiled(api)
    want = desired(compiled, report.index)
    for ref in want:
        want[ref]["conditions"][0]["message"] += " (again)"
    assert not write_status(kube, cs.served, want).failed
    from lbcli.kube.resources import LISTED

    targets = [vs[0] for _, vs in lb_resources()] + [listed.res for listed in LISTED]
    for res in targets:
        stop = threading.Event()
        refl = Reflector(kube, res, lambda *a: None, lambda *a: stop.set(), watch_timeout=1)
        t = _run(refl, stop)
        _until(lambda: refl.stats.watches >= 1, 5)
        stop.set()
        t.join(5)
    denied = [r for r in api.requests if not any(
        r[1] in x["apiGroups"] and r[2] in x["resources"] and r[0] in x["verbs"] for x in rules)]
    assert denied == []
    granted = {(v, g, res) for x in rules for g in x["apiGroups"] for res in x["resources"] for v in x["verbs"]}
    assert granted == api.verbs_used(), granted ^ api.verbs_used()


def test_the_client_refuses_a_call_rbac_does_not_grant(api):
    from lbcli.kube.resources import SECRET

    with pytest.raises(RuntimeError, match="not in lbcli/kube/permissions.py"):
        connect(api.kc).list(SECRET)  # Secrets are read by name only
    with pytest.raises(RuntimeError, match="not in lbcli/kube/permissions.py"):
        list(connect(api.kc).watch(SECRET, "1", 1))
    assert api.requests == []
