"""`cilium-lb agent --kube`: the watched copy of the cluster (lbcli/kube/feed.py), the status
Lease and write-back (lbcli/kube/leader.py) and the agent loop on top, through the real
`kubernetes` client against tests/kube_fake.py — a FAKE API server (no Kubernetes API server can
be installed here; that file says what it does and does not cover). The node apply is replaced by
a recording one (the loop's `apply` hook): these tests are about what reaches the node and when."""

from __future__ import annotations

import copy
import io
import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lbcli.agent.daemon.events import EventLog
from lbcli.agent.daemon.loop import Agent
from lbcli.agent.reconciler import NodeContext
from lbcli.cli import agent_kube
from lbcli.kube.client import connect
from lbcli.kube.deploy import rbac
from lbcli.kube.feed import ClusterFeed
from lbcli.kube.resources import LISTED, lb_resources

from .kube_fake import FakeApiServer
from .test_kube import _cli, _fill, _served, _until

pytestmark = pytest.mark.timeout(180)
T1 = "lb-t1-1"
FAST = {"watch_timeout": 2, "backoff": (0.05, 0.3)}
LEASE = {"duration": 3, "renew": 0.3, "renew_deadline": 1.5, "retry": 0.2}


@pytest.fixture
def api(tmp_path):
    srv = FakeApiServer(_served()).start()
    srv.kc = srv.kubeconfig(tmp_path / "kubeconfig")
    _fill(srv)
    yield srv
    srv.stop()


class _Report:
    def to_dict(self) -> dict:
        return {"ok": True, "changes": 0, "withheld": [], "components": []}


class _Node:
    """An in-process agent on `node` with a recording apply: (monotonic time, plan) per run."""

    def __init__(self, api, node=T1, write_status=True, **start) -> None:
        self.out = io.StringIO()
        self.log = EventLog(node, "json", self.out)
        self.cluster = agent_kube.start(api.kc, None, node, self.log.emit, "kube-system", write_status, 300, 0.3,
                                        0.05, sync_timeout=20, writer_timing=LEASE, feed_options=FAST, **start)
        self.runs: list[tuple[float, object]] = []

        def apply(ctx, plan, secrets):
            self.runs.append((time.monotonic(), plan))
            return _Report()

        ctx = NodeContext(node, Path("/nonexistent"), Path("/nonexistent"))
        self.agent = Agent(ctx, agent_kube.loader(self.cluster, node, None, None), self.log, [], interval=3600,
                           apply=apply, feeds=[self.cluster])
        self.agent.start()
        self.thread = threading.Thread(target=self.agent.run, kwargs={"install_signals": False}, daemon=True)
        self.thread.start()
        assert _until(lambda: self.runs, 10)

    def stop(self) -> None:
        self.agent.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()

    def events(self) -> list[dict]:
        return [json.loads(x) for x in self.out.getvalue().splitlines()]

    def ports(self) -> list[int]:
        plan = self.runs[-1][1]
        return sorted(s.port for s in plan.tier1.services)

    def wait_for(self, since: int, cond, timeout: float = 5.0) -> float | None:
        """Seconds from now until a run after the `since`-th has a plan with `cond`."""
        t0 = time.monotonic()
        ok = _until(lambda: any(cond(p) for _, p in self.runs[since:]), timeout)
        return next(t for t, p in self.runs[since:] if cond(p)) - t0 if ok else None


def _svc(api):
    return copy.deepcopy(api.get("LBService", "default", "https-proxy"))


def _ports(plan):
    return sorted(s.port for s in plan.tier1.services)


def _fresh(obj):
    obj = copy.deepcopy(obj)
    for k in ("resourceVersion", "uid", "generation"):
        obj["metadata"].pop(k, None)
    obj.pop("status", None)
    return obj


# -- a change reaches the node -----------------------------------------------------------

def test_created_changed_deleted_lbservice_reaches_the_node_within_a_second(api):
    """Each change asks for a reconcile (`kube-changed`) within a second and the node's apply
    gets the new plan (the bound on that includes lint + compile on a busy machine: 5 s)."""
    node = _Node(api)

    def step(change, want):
        n, seen = len(node.runs), len(node.events())
        t0, w0 = time.monotonic(), time.time()
        change()
        assert node.wait_for(n, lambda p: _ports(p) == want) is not None
        applied = next(t for t, p in node.runs[n:] if _ports(p) == want) - t0
        asked = next(e for e in node.events()[seen:] if e["event"] == "kube-changed" and "LBService" in e["kinds"])
        asked_after = datetime.strptime(asked["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() - w0
        assert asked_after < 1.0, asked_after
        assert applied < 5.0, applied

    try:
        assert node.ports() == [443]
        svc = _svc(api)
        changed = copy.deepcopy(svc)
        changed["spec"]["port"] = 8443
        step(lambda: api.put(changed), [8443])
        step(lambda: api.delete(changed), [])
        step(lambda: api.put(_fresh(svc)), [443])
        triggers = {e.get("trigger") for e in node.events() if e["event"] == "plan"}
        assert triggers == {"source"}
    finally:
        node.stop()


def test_a_burst_of_changes_is_debounced_into_few_runs(api):
    node = _Node(api)
    try:
        time.sleep(1.0)  # the status write-back's own echo has settled
        n = len(node.runs)
        svc = _svc(api)
        for port in range(9000, 9020):
            svc["spec"]["port"] = port
            svc["metadata"].pop("resourceVersion")
            api.put(svc)
        assert node.wait_for(n, lambda p: _ports(p) == [9019]) is not None
        time.sleep(0.5)
        assert len(node.runs) - n <= 4, len(node.runs) - n  # not 20
    finally:
        node.stop()


# -- the watch: 410, errors, slow and dropped connections --------------------------------

def test_relist_after_410_keeps_the_copy_right(api):
    api.bookmark_interval = 60  # no bookmark moves a watch past the compaction point
    feed = ClusterFeed(connect(api.kc, connections=30), T1, watch_timeout=1, backoff=(0.05, 0.3))
    feed.start()
    try:
        assert feed.wait_synced(10) == []
        svc = _svc(api)
        svc["spec"]["port"] = 7443
        api.put(copy.deepcopy(api.get("Node", None, "lb-t2-2")))  # history moves on...
        api.compact()  # ...and is compacted past what the LBService watch has seen
        time.sleep(1.5)  # the watches end (1 s) and reconnect from before the compaction: 410
        api.put(svc)
        assert _until(lambda: feed.reflectors["LBService"].stats.gone >= 1, 10)
        assert _until(lambda: any(r.body["spec"].get("port") == 7443 for r in feed.load().resources
                                  if r.kind == "LBService"), 10)
        assert feed.reflectors["LBService"].stats.lists >= 2
    finally:
        feed.stop()


def test_500s_and_dropped_connections_back_off_and_recover(api):
    logged = []
    feed = ClusterFeed(connect(api.kc, connections=30), T1, lambda rec, level=None: logged.append(rec),
                       watch_timeout=2, backoff=(0.05, 0.3))
    api.fail_next = [500] * 12 + [503] * 4  # the first lists fail
    feed.start()
    try:
        assert feed.wait_synced(15) == []  # bounded: backoff is capped at 0.3 s
        assert any(r["event"] == "kube-watch-error" and r["status"] in (500, 503) for r in logged)
        time.sleep(0.3)
        gen = feed.generation
        api.drop_watch_after = 1  # the next watch that gets an event is cut after it
        svc = _svc(api)
        svc["spec"]["port"] = 6443
        api.put(svc)
        assert _until(lambda: feed.generation > gen, 5)
        svc["spec"]["port"] = 6444
        svc["metadata"].pop("resourceVersion")
        api.put(svc)
        assert _until(lambda: any(r.body["spec"].get("port") == 6444 for r in feed.load().resources
                                  if r.kind == "LBService"), 10)
        errors = sum(len(r.stats.errors) for r in feed.reflectors.values())
        assert errors >= 16  # every injected failure was seen and retried
        assert all(r.backoff.failures == 0 for r in feed.reflectors.values())  # reset by success
        assert all(len(r.stats.errors) <= 20 for r in feed.reflectors.values())  # a bounded record
    finally:
        feed.stop()


def test_slow_api_server_still_delivers(api):
    api.delay = 0.2  # every answer waits 200 ms
    feed = ClusterFeed(connect(api.kc, connections=30), T1, watch_timeout=2, backoff=(0.05, 0.3))
    feed.start()
    try:
        assert feed.wait_synced(30) == []
        svc = _svc(api)
        svc["spec"]["port"] = 5443
        api.put(svc)
        assert _until(lambda: any(r.body["spec"].get("port") == 5443 for r in feed.load().resources
                                  if r.kind == "LBService"), 10)
    finally:
        feed.stop()


def test_crd_installed_later_is_picked_up_and_403_is_reported(api):
    deploy = next(r for _, vs in lb_resources() for r in vs if r.kind == "LBDeployment")
    key = (deploy.group, deploy.version, deploy.plural)
    api.types.pop(key)  # the CRD is not installed: every version 404s
    rules = [{**r, "namespace": o["metadata"].get("namespace")} for o in rbac("kube-system")
             if o["kind"] in ("ClusterRole", "Role") for r in o["rules"]]
    api.rbac = [r for r in rules if r["resources"] != ["pods"]]  # the Pod grant is missing
    feed = ClusterFeed(connect(api.kc, connections=30), T1, watch_timeout=2, backoff=(0.05, 0.3))
    feed.start()
    try:
        assert feed.wait_synced(3) == ["Pod"]
        assert "403" in feed.errors("Pod")
        assert "LBDeployment" in feed.missing and "CRD not installed" in feed.errors("LBDeployment")
        api.rbac = rules
        api.types[key] = ("LBDeployment", True)
        api.put({"apiVersion": deploy.api_version, "kind": "LBDeployment",
                 "metadata": {"name": "d", "namespace": "default"},
                 "spec": {"services": {"labelSelector": {"matchLabels": {"a": "b"}}}}})
        assert feed.wait_synced(5) == []
        assert _until(lambda: any(r.kind == "LBDeployment" for r in feed.load().resources), 5)
        assert "LBDeployment" not in feed.missing
    finally:
        feed.stop()


# -- Pods and Secrets --------------------------------------------------------------------

def _pod(name, node, ann=None, ip="10.0.1.5"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "annotations": ann or {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
            "status": {"podIP": ip, "phase": "Running"}}


def test_only_this_nodes_bandwidth_pods_are_kept_and_status_churn_is_no_change(api):
    bw = {"kubernetes.io/egress-bandwidth": "10M"}
    api.put(_pod("here", T1, bw))
    api.put(_pod("plain", T1))
    api.put(_pod("there", "lb-t2-1", bw))
    feed = ClusterFeed(connect(api.kc, connections=30), T1, watch_timeout=2)
    feed.start()
    try:
        assert feed.wait_synced(10) == []
        pods = [r for r in feed.load().resources if r.kind == "Pod"]
        assert [p.name for p in pods] == ["here"]
        assert set(pods[0].body) == {"apiVersion", "kind", "metadata", "spec", "status"}
        assert pods[0].body["spec"] == {"nodeName": T1}  # cut down to what the bandwidth manager reads
        gen = feed.generation
        p = copy.deepcopy(api.get("Pod", "default", "here"))
        p["status"]["phase"] = "Succeeded"  # status churn
        api.put(p)
        api.put(_pod("plain2", T1))  # a Pod without annotations
        time.sleep(0.5)
        assert feed.generation == gen
        p["metadata"]["annotations"]["kubernetes.io/egress-bandwidth"] = "20M"
        api.put(p)
        assert _until(lambda: feed.generation > gen, 5)
        there = [e for e in api.requests if e[2] == "pods"]
        assert there and all(v in ("list", "watch") for v, *_ in there)
    finally:
        feed.stop()
    # the field selector asked the server for this node's Pods only: the fake filtered by it
    got = [r for r in feed.load().resources if r.kind == "Pod"]
    assert {p.name for p in got} == {"here"}


def test_referenced_secrets_are_read_by_name_and_polled(api):
    feed = ClusterFeed(connect(api.kc, connections=30), T1, watch_timeout=2, secret_poll=0.2)
    feed.start()
    try:
        assert feed.wait_synced(10) == []
        secrets = {r.name for r in feed.load().resources if r.kind == "Secret"}
        assert secrets == {"https-proxy", "base-users"}
        gen = feed.generation
        s = copy.deepcopy(api.get("Secret", "default", "base-users"))
        s["data"] = {k: v for k, v in s["data"].items()}
        s["metadata"]["labels"] = {"rotated": "yes"}
        api.put(s)
        assert _until(lambda: feed.generation > gen, 5)  # seen by the poll, not a watch
        got = next(r for r in feed.load().resources if r.kind == "Secret" and r.name == "base-users")
        assert got.body["metadata"]["labels"] == {"rotated": "yes"}
        verbs = {(v, res) for v, g, res, *_ in api.requests if res == "secrets"}
        assert verbs == {("get", "secrets")}  # never list, never watch
    finally:
        feed.stop()


# -- status: one writer, 409 retried ------------------------------------------------------

def test_two_agents_do_not_both_write_status_and_the_second_takes_over(api):
    a = _Node(api, node="lb-t2-1")
    b = _Node(api, node="lb-t2-2")
    try:
        both = []
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                both.append(a.cluster.writer.is_leader() and b.cluster.writer.is_leader())
                time.sleep(0.01)

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        assert _until(lambda: a.cluster.writer.is_leader() or b.cluster.writer.is_leader(), 5)
        leader, other = (a, b) if a.cluster.writer.is_leader() else (b, a)
        vip = api.get("LBVIP", "default", "https-proxy")
        assert _until(lambda: (api.get("LBVIP", "default", "https-proxy").get("status") or {}).get("addresses"), 5)
        time.sleep(1.0)
        assert other.cluster.writer.writes == 0 and other.cluster.writer.results == []
        # a change the status reflects: the new LBVIP's condition is written by the leader only
        other_vip = {"apiVersion": vip["apiVersion"], "kind": "LBVIP",
                     "metadata": {"name": "nopool", "namespace": "other"}, "spec": {"ipv4Request": "203.0.113.9"}}
        api.put(other_vip)
        assert _until(lambda: (api.get("LBVIP", "other", "nopool").get("status") or {}).get("conditions"), 5)
        assert _until(lambda: leader.cluster.writer.writes >= 3, 5)  # counted once its round ends
        assert other.cluster.writer.writes == 0
        # the leader stops (gives the Lease back): the other takes over and writes the next change
        leader.stop()
        assert _until(lambda: other.cluster.writer.is_leader(), 5)
        api.put({**_fresh(other_vip), "spec": {"ipv4Request": "203.0.113.10"}})
        assert _until(lambda: other.cluster.writer.writes >= 1, 5)
        stop.set()
        t.join(2)
        assert not any(both), "two agents held the status Lease at once"
        assert any(e["event"] == "lease-acquired" for e in other.events())
    finally:
        for n in (a, b):
            if n.thread.is_alive():
                n.stop()


def test_stale_status_conflicts_are_retried_until_written(api):
    node = _Node(api, node="lb-t2-1")
    try:
        assert _until(lambda: node.cluster.writer.writes >= 2, 5)
        api.races_on_status = 2  # another writer changes the object between our read and write
        svc = _svc(api)
        svc["spec"]["vipRef"]["name"] = "missing-vip"  # its VIPExist condition turns False
        api.put(svc)

        def cond():
            c = (api.get("LBService", "default", "https-proxy").get("status") or {}).get("conditions") or [{}]
            return c[0].get("status") == "False" and c[0].get("reason")
        assert _until(cond, 8)
        assert _until(lambda: sum(r.conflicts for r in node.cluster.writer.results) == 2, 5)
        assert api.races_on_status == 0 and not any(r.failed for r in node.cluster.writer.results)
        assert api.get("LBService", "default", "https-proxy")["metadata"]["labels"]["raced"] == "0"  # theirs kept
    finally:
        node.stop()


def test_no_write_status_takes_no_lease(api):
    node = _Node(api, node="lb-t2-1", write_status=False)
    try:
        time.sleep(0.5)
        assert api.get("Lease", "kube-system", "cilium-lb-status") is None
        assert not any(res.endswith("/status") for _, _, res, *_ in api.requests)
    finally:
        node.stop()


# -- RBAC: the agent calls exactly what the manifests grant -------------------------------

def test_the_agent_needs_nothing_the_manifests_do_not_grant(api):
    rules = [{**r, "namespace": o["metadata"].get("namespace")} for o in rbac("kube-system")
             if o["kind"] in ("ClusterRole", "Role") for r in o["rules"]]
    api.rbac = rules
    node = _Node(api, node="lb-t2-1")
    try:
        assert _until(lambda: node.cluster.writer.writes >= 2, 5)
        forbidden = [e for e in node.events() if e.get("status") == 403 or "403" in str(e.get("error", ""))]
        assert forbidden == []
        used = api.verbs_used()
        for res in [vs[0] for _, vs in lb_resources()] + [listed.res for listed in LISTED]:
            assert ("watch", res.group, res.plural) in used and ("list", res.group, res.plural) in used
        assert ("get", "", "secrets") in used
        assert not {("list", "", "secrets"), ("watch", "", "secrets")} & used
    finally:
        node.stop()


def test_manifests_run_the_agent_with_kube():
    from lbcli.kube.deploy import daemonset

    c = daemonset("lb-system", "img")["spec"]["template"]["spec"]["containers"][0]
    cmd = c["command"] + c.get("args", [])
    assert cmd[:3] == ["cilium-lb", "agent", "--kube"]
    assert cmd[cmd.index("--node") + 1] == "$(NODE_NAME)" and cmd[cmd.index("--lease-namespace") + 1] == "$(POD_NAMESPACE)"
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"NODE_NAME": "spec.nodeName", "POD_NAMESPACE": "metadata.namespace"}


# -- the command line --------------------------------------------------------------------

def test_agent_kube_usage_errors_exit_2(api, tmp_path):
    r = _cli("agent", "--kube", "examples/rebel-base", "--node", T1)
    assert r.returncode == 2 and "one source" in r.stderr and "Traceback" not in r.stderr
    r = _cli("agent", "--kube", "--lease-namespace", "a/../b", "--node", T1)
    assert r.returncode == 2 and "not a namespace name" in r.stderr
    r = _cli("agent", "--kube", "--kubeconfig", str(tmp_path / "nope"), "--node", T1)
    assert r.returncode == 2 and "no kubeconfig" in r.stderr and "Traceback" not in r.stderr
    api.rbac = []  # everything forbidden
    r = _cli("agent", "--kube", "--kubeconfig", api.kc, "--node", T1, "--sync-timeout", "2")
    assert r.returncode == 2 and "could not list" in r.stderr and "403" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_status_echo_and_node_heartbeats_do_not_reconcile(api):
    node = _Node(api, node="lb-t2-1")
    try:
        assert _until(lambda: node.cluster.writer.writes >= 2, 5)
        time.sleep(0.5)
        n, gen = len(node.runs), node.cluster.feed.generation
        vip = copy.deepcopy(api.get("LBVIP", "default", "https-proxy"))
        vip["status"]["conditions"][0]["message"] = "someone else's words"
        api.put(vip)  # a conditions-only change: what the status writer itself makes
        kn = copy.deepcopy(api.get("Node", None, "lb-t2-2"))
        kn.setdefault("status", {})["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": "now"}]
        api.put(kn)  # kubelet's heartbeat
        time.sleep(0.6)
        assert node.cluster.feed.generation == gen and len(node.runs) == n
        kn["metadata"]["labels"]["service.cilium.io/node"] = "t1"
        kn["metadata"].pop("resourceVersion")
        api.put(kn)  # a label the pipeline reads
        assert _until(lambda: len(node.runs) > n, 2)
    finally:
        node.stop()


def test_a_set_that_does_not_load_at_start_is_waited_out(api):
    vip = {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBVIP", "metadata": {"name": "nopool", "namespace": "other"},
           "spec": {"ipv4Request": "203.0.113.9"}}
    api.put(vip)  # an error finding: the set does not load
    out = io.StringIO()
    log = EventLog(T1, "json", out)
    cluster = agent_kube.start(api.kc, None, T1, log.emit, "kube-system", True, 300, 5, 0.05, sync_timeout=20,
                               writer_timing=LEASE, feed_options=FAST)
    runs = []

    def apply(ctx, plan, secrets):
        runs.append(plan)
        return _Report()

    agent = Agent(NodeContext(T1, Path("/nonexistent"), Path("/nonexistent")), agent_kube.loader(cluster, T1, None, None),
                  log, [], interval=3600, apply=apply, feeds=[cluster])
    t = threading.Thread(target=agent_kube.first_load, args=(agent, cluster, log.emit, 0.05), daemon=True)
    t.start()
    try:
        assert _until(lambda: any(json.loads(x)["event"] == "source-rejected" for x in out.getvalue().splitlines()), 10)
        # meanwhile the status writer marks the broken object
        assert _until(lambda: ((api.get("LBVIP", "other", "nopool").get("status") or {}).get("conditions") or [{}])[0]
                      .get("reason") == "NoPool", 5)
        assert "addresses" not in (api.get("LBVIP", "default", "https-proxy").get("status") or {})  # not flagged: untouched
        assert t.is_alive() and agent.plan is None
        api.delete(api.get("LBVIP", "other", "nopool"))
        t.join(10)
        assert not t.is_alive() and agent.plan is not None
        rejected = [json.loads(x) for x in out.getvalue().splitlines() if '"source-rejected"' in x]
        assert len(rejected) == 1 and "vip-in-pool" in rejected[0]["error"]
    finally:
        cluster.stop()


def test_one_shot_read_keeps_bandwidth_pods_of_the_node_or_of_all(api):
    from lbcli.kube.source import read_cluster

    bw = {"kubernetes.io/ingress-bandwidth": "5M", "other": "x"}
    api.put(_pod("here", T1, bw))
    api.put(_pod("there", "lb-t2-1", bw, ip="10.0.2.5"))
    api.put(_pod("plain", T1))
    kube = connect(api.kc)
    mine = [r for r in read_cluster(kube, T1).load.resources if r.kind == "Pod"]
    every = [r for r in read_cluster(kube).load.resources if r.kind == "Pod"]
    assert [p.name for p in mine] == ["here"] and sorted(p.name for p in every) == ["here", "there"]
    assert mine[0].body["metadata"]["annotations"] == {"kubernetes.io/ingress-bandwidth": "5M"}


def test_status_endpoint_shows_the_watches_and_the_writer(api):
    from lbcli.agent.daemon.server import status_doc

    node = _Node(api, node="lb-t2-1")
    try:
        assert _until(lambda: node.cluster.writer.writes >= 2, 5)
        doc = status_doc(node.agent)
        kinds = doc["kube"]["kinds"]
        assert set(kinds) == {k for k, _ in lb_resources()} | {listed.res.kind for listed in LISTED}
        assert kinds["LBService"]["objects"] == 1 and kinds["LBService"]["lists"] >= 1 and kinds["Node"]["objects"] == 4
        assert doc["kube"]["secrets"] == 2 and doc["kube"]["ignored"] == 0  # no Service events yet
        assert doc["statusWriter"]["leader"] is True and doc["statusWriter"]["identity"] == "lb-t2-1"
        json.dumps(doc)  # served as JSON
    finally:
        node.stop()


def test_a_status_write_that_keeps_failing_backs_off_and_logs_once(api):
    rules = [{**r, "namespace": o["metadata"].get("namespace")} for o in rbac("kube-system")
             if o["kind"] in ("ClusterRole", "Role") for r in o["rules"]]
    api.rbac = [r for r in rules if not r["resources"][0].endswith("/status")]  # status updates forbidden
    node = _Node(api, node="lb-t2-1")
    try:
        time.sleep(2.5)
        puts = sum(1 for v, g, res, *_ in api.requests if res.endswith("/status"))
        failed = [e for e in node.events() if e["event"] == "status-failed"]
        assert failed and all("403" in e["error"] for e in failed), [e["error"] for e in failed]
        assert len(failed) == 2  # one per object, not one per retry
        assert puts <= 2 * 4  # retries after 0.4, 0.8, 1.6 s: bounded, not a busy loop
        api.rbac = rules
        assert _until(lambda: node.cluster.writer.writes >= 2, 10)  # and it gets through once allowed
    finally:
        node.stop()


# -- the change filter: Services and EndpointSlices the set does not use -----------------

def _k8s_api(tmp_path):
    from .test_kube import K8S

    srv = FakeApiServer(_served()).start()
    srv.kc = srv.kubeconfig(tmp_path / "kubeconfig")
    _fill(srv, K8S)
    return srv


def _service(name, type_="ClusterIP", ips=None):
    meta = {"namespace": "default", "name": name}
    if ips:
        meta["annotations"] = {"lbipam.cilium.io/ips": ips}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"type": type_, "selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def _slice(name, service, address, ns="default"):
    labels = {"kubernetes.io/service-name": service} if service else {}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": ns, "name": name, "labels": labels}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}]}


def _pool_addresses(plan, pool="default/echo"):
    p = plan.tier2.pool(pool) if plan.tier2 else None
    return sorted(b.address for b in p.backends) if p else None


def _quiet(node, seconds=0.6):
    """Wait until no run started for `seconds` (bounded: 10 s); the number of runs then."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        n = len(node.runs)
        time.sleep(seconds)
        if len(node.runs) == n:
            return n
    raise AssertionError("the agent never went quiet")


def test_churn_on_unused_services_and_slices_asks_for_no_reconcile(tmp_path):
    """Endpoint churn of Services the set does not use (a ClusterIP Service no pool names, a
    slice without a Service, one in another namespace) changes the copy but asks for no
    reconcile; the same churn on the slice of a used Service does, within the debounce."""
    api = _k8s_api(tmp_path)
    node = _Node(api, node="lb-t2-1", write_status=False)
    try:
        api.put(_service("other"))  # ClusterIP, no pool names it
        n, gen = _quiet(node), node.cluster.feed.generation
        assert _pool_addresses(node.runs[-1][1]) == ["10.244.3.10", "10.244.4.11"]
        ignored = node.cluster.feed.ignored
        for i in range(30):
            for sl in (_slice("other-a", "other", f"10.9.0.{i}"), _slice("orphan", None, f"10.9.1.{i}"),
                       _slice("ghost-a", "no-such-service", f"10.9.2.{i}"),
                       _slice("echo-elsewhere", "echo", f"10.9.3.{i}", ns="kube-system")):
                api.put(sl)
        api.delete(_slice("other-a", "other", "-"))
        assert _until(lambda: node.cluster.feed.ignored >= ignored + 121, 10), node.cluster.feed.ignored - ignored
        time.sleep(0.4)  # more than the debounce
        assert len(node.runs) == n and node.cluster.feed.generation == gen
        assert ("default", "orphan") in node.cluster.feed._objects["EndpointSlice"]  # the copy is current

        # the used Service's slice: its new endpoint reaches the node
        sl = copy.deepcopy(api.get("EndpointSlice", "default", "echo-abc12"))
        sl["endpoints"][0]["addresses"] = ["10.244.3.99"]
        sl["metadata"].pop("resourceVersion")
        seen = len(node.events())
        t0 = time.time()
        api.put(sl)
        assert node.wait_for(n, lambda p: _pool_addresses(p) == ["10.244.3.99", "10.244.4.11"]) is not None
        asked = next(e for e in node.events()[seen:] if e["event"] == "kube-changed")
        asked_after = datetime.strptime(asked["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc).timestamp() - t0
        assert asked["kinds"] == ["EndpointSlice"] and asked_after < 1.0, (asked, asked_after)
        n = _quiet(node)
        api.delete(sl)  # deleting the used Service's one slice: the pool has no endpoint left
        assert node.wait_for(n, lambda p: _pool_addresses(p) == []) is not None
    finally:
        node.stop()
        api.stop()


def test_a_service_or_slice_that_becomes_used_or_unused_reconciles(tmp_path):
    api = _k8s_api(tmp_path)
    api.put(_service("other"))
    api.put(_slice("other-a", "other", "10.9.0.1"))
    node = _Node(api, node="lb-t2-1", write_status=False)
    try:
        feed = node.cluster.feed
        n = _quiet(node)
        # a pool starts to reference the Service: its endpoints become the pool's
        pool = copy.deepcopy(api.get("LBBackendPool", "default", "echo"))
        pool["spec"]["backends"][0]["k8sServiceRef"]["name"] = "other"
        pool["metadata"].pop("resourceVersion")
        api.put(pool)
        assert node.wait_for(n, lambda p: _pool_addresses(p) == ["10.9.0.1"]) is not None
        # now its slice is used: churn on it reconciles
        n = _quiet(node)
        api.put(_slice("other-a", "other", "10.9.0.2"))
        assert node.wait_for(n, lambda p: _pool_addresses(p) == ["10.9.0.2"]) is not None
        # a slice of the Service appears (a relabelled slice moves from unused to used)
        n = _quiet(node)
        api.put(_slice("moved", "unrelated", "10.9.0.7"))
        time.sleep(0.4)
        assert len(node.runs) == n
        api.put(_slice("moved", "other", "10.9.0.7"))
        assert node.wait_for(n, lambda p: _pool_addresses(p) == ["10.9.0.2", "10.9.0.7"]) is not None
        n = _quiet(node)
        api.put(_slice("moved", "unrelated", "10.9.0.7"))  # and back: used before, not after
        assert node.wait_for(n, lambda p: _pool_addresses(p) == ["10.9.0.2"]) is not None

        # a ClusterIP Service becomes type LoadBalancer: it is served (a tier-1 entry on the
        # T1 node's plan; on this T2 node a listener) -- and changing back removes it
        n = _quiet(node)
        before = feed.ignored
        api.put(_service("late", ips="100.64.0.121"))
        api.put(_slice("late-a", "late", "10.9.5.1"))
        time.sleep(0.4)
        assert len(node.runs) == n and feed.ignored == before + 2

        def listens(p):
            return any(lst.service.startswith("default/late") for lst in p.tier2.listeners)

        api.put(_service("late", "LoadBalancer", ips="100.64.0.121"))
        assert node.wait_for(n, listens) is not None
        n = _quiet(node)
        api.put(_service("late", "ClusterIP", ips="100.64.0.121"))
        assert node.wait_for(n, lambda p: not listens(p)) is not None
    finally:
        node.stop()
        api.stop()


def test_relists_and_resyncs_compare_only_what_is_used(tmp_path):
    """A relist (410 Gone, or the bounded resync) hands every slice over again: unused ones
    that changed while the watch was away ask for no reconcile, a used one that changed does."""
    api = _k8s_api(tmp_path)
    api.bookmark_interval = 60  # no bookmark moves a watch past the compaction point
    api.put(_service("other"))
    api.put(_slice("other-a", "other", "10.9.0.1"))
    logged = []
    feed = ClusterFeed(connect(api.kc, connections=30), "lb-t2-1", lambda r, level=None: logged.append(r),
                       watch_timeout=1, backoff=(0.05, 0.3), debounce=0.05, max_delay=0.2)
    asked = []
    feed.start()
    try:
        assert feed.wait_synced(10) == []
        feed.load()
        feed.attach(asked.append)
        refl = feed.reflectors["EndpointSlice"]

        def relisted_after(obj):
            """Change `obj` unseen by the open watches (the history is compacted at once, under
            the server's lock), so the relist after their 410 is what hands it over."""
            lists, gen = refl.stats.lists, feed.generation
            with api.lock:
                api.put(obj)
                api.compact()
            assert _until(lambda: refl.stats.lists > lists, 10)
            time.sleep(0.3)  # the debounce
            return feed.generation != gen

        ignored = feed.ignored
        assert not relisted_after(_slice("other-a", "other", "10.9.0.2"))
        assert not asked and feed.ignored == ignored, [r for r in logged if r["event"] != "kube-synced"]  # a relist is no event: nothing counted
        assert feed._objects["EndpointSlice"][("default", "other-a")]["endpoints"][0]["addresses"] == ["10.9.0.2"]
        used = copy.deepcopy(api.get("EndpointSlice", "default", "echo-abc12"))
        used["endpoints"][0]["addresses"] = ["10.244.3.98"]
        used["metadata"].pop("resourceVersion")
        assert relisted_after(used)
        assert _until(lambda: asked == ["source"], 2)
        assert any(r.kind == "EndpointSlice" and "10.244.3.98" in json.dumps(r.body) for r in feed.load().resources)
    finally:
        feed.stop()
        api.stop()
