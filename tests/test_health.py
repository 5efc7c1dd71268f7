"""Tier 1 checks tier 2 (lbcli/agent/health/): the rise/fall state machine, the health-adjusted
plan (only a failed T2's slots move; a VIP without a healthy T2 leaves BGP), the probe's reading
of the tier-2 endpoint against a real socket server, and how status shows it. The daemons are
in tests/e2e/test_health_e2e.py."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from array import array
from collections import Counter

import pytest

from lbcli.agent.health.config import ProbeConfig, resolve
from lbcli.agent.health.probe import Target, judge, parse_page, probe_once
from lbcli.agent.health.state import HealthState
from lbcli.agent.health.table import adjust, refill
from lbcli.compile.plan import compile_plans
from lbcli.plan.types import NodePlan

from .lintkit import lint_example

SVC = "default/https-proxy"


def _node(name: str, ip: str) -> str:
    return f"""---
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels:
    service.cilium.io/node: t2
spec:
  podCIDRs: [10.244.{ip.rsplit('.', 1)[1]}.0/24]
status:
  addresses:
    - type: InternalIP
      address: {ip}
"""


@pytest.fixture(scope="module")
def t1_plan() -> NodePlan:
    """rebel-base with four tier-2 nodes, as lb-t1-1 gets it from compile."""
    extra = {"/extra/nodes.yaml": _node("lb-t2-3", "192.168.121.23") + _node("lb-t2-4", "192.168.121.24")}
    plans = compile_plans(lint_example("rebel-base", extra).index).plans
    plan = plans["lb-t1-1"]
    assert plan.tier1 is not None and len(plan.tier1.services[0].t2_nodes) == 4
    return plan


def _slots(table) -> list[str]:
    idx = array("H", base64.b64decode(table.table))
    return [table.t2_nodes[i] for i in idx]


def _table_of(plan: NodePlan, svc: str):
    s = next(s for s in plan.tier1.services if s.service == svc)
    return next(t for t in plan.tier1.maglev_tables if t.id == s.maglev_table)


# ---------------------------------------------------------------- state machine
def test_goes_down_after_fall_failures_in_a_row():
    hs = HealthState(rise=3, fall=2)
    hs.track({("s", "a"), ("s", "b")})
    assert hs.observe(("s", "a"), False, "refused") is None
    tr = hs.observe(("s", "a"), False, "refused")
    assert tr is not None and not tr.up and tr.reason == "refused"
    assert hs.down() == {"s": frozenset({"a"})}


def test_comes_back_after_rise_passes_in_a_row():
    hs = HealthState(rise=3, fall=1)
    hs.track({("s", "a")})
    assert hs.observe(("s", "a"), False) is not None
    assert hs.observe(("s", "a"), True) is None
    assert hs.observe(("s", "a"), True) is None
    tr = hs.observe(("s", "a"), True)
    assert tr is not None and tr.up and hs.down() == {}


def test_flapping_never_completes_a_transition():
    hs = HealthState(rise=2, fall=2)
    hs.track({("s", "a")})
    for i in range(20):  # fail, pass, fail, pass...: the streak never reaches 2
        assert hs.observe(("s", "a"), i % 2 == 1) is None
    assert hs.down() == {} and hs.pairs[("s", "a")].transitions == 0
    hs.observe(("s", "a"), False)
    assert hs.observe(("s", "a"), False) is not None
    for i in range(20):  # down now: pass, fail, pass... never brings it back
        assert hs.observe(("s", "a"), i % 2 == 0) is None
    assert hs.down() == {"s": frozenset({"a"})}


def test_track_follows_the_plan_and_seeds_what_the_host_shows():
    hs = HealthState(rise=2, fall=2)
    hs.track({("s", "a"), ("s", "b")}, down={("s", "b")})
    assert hs.down() == {"s": frozenset({"b"})}
    hs.track({("s", "a")})  # b left the plan: forgotten
    assert hs.down() == {} and set(hs.pairs) == {("s", "a")}
    assert hs.observe(("t", "x"), False) is None  # not tracked: ignored


def test_probe_config_bounds_and_precedence(t1_plan):
    assert resolve(t1_plan) == ProbeConfig()  # compile sets no tier1.healthCheck
    assert resolve(t1_plan, {"fall": 2, "rise": None}).fall == 2
    with pytest.raises(ValueError, match="interval"):
        ProbeConfig(interval_ms=5)
    with pytest.raises(ValueError, match="fall"):
        ProbeConfig(fall=0)


# ---------------------------------------------------------------- tables
def test_only_the_failed_t2_slots_move_and_spread_evenly(t1_plan):
    table = _table_of(t1_plan, SVC)
    before = _slots(table)
    after = _slots(refill(table, frozenset({"lb-t2-2"}), 99))
    moved = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert moved and all(before[i] == "lb-t2-2" for i in moved)
    assert len(moved) == before.count("lb-t2-2") and "lb-t2-2" not in after
    share = Counter(after[i] for i in moved)
    assert set(share) == {"lb-t2-1", "lb-t2-3", "lb-t2-4"}
    assert max(share.values()) - min(share.values()) < 0.05 * len(moved)  # Maglev's even spread


def test_refill_is_deterministic_and_reversible(t1_plan):
    table = _table_of(t1_plan, SVC)
    a = refill(table, frozenset({"lb-t2-1", "lb-t2-3"}), 7)
    b = refill(table, frozenset({"lb-t2-3", "lb-t2-1"}), 7)
    assert a == b
    assert sum(a.slots) == table.size and a.slots[table.t2_nodes.index("lb-t2-1")] == 0
    with pytest.raises(ValueError, match="no healthy"):
        refill(table, frozenset(table.t2_nodes), 7)


def test_adjusted_plan_is_a_valid_plan_and_recovery_restores_the_plan(t1_plan):
    adj, withdrawn = adjust(t1_plan, {SVC: frozenset({"lb-t2-2"})})
    assert withdrawn == [] and adj.bgp == t1_plan.bgp
    again = NodePlan.from_json(adj.to_json())  # schema checks: sha256, slots, table ids
    new = _table_of(again, SVC)
    assert new.id not in {t.id for t in t1_plan.tier1.maglev_tables}
    assert _slots(new) == _slots(refill(_table_of(t1_plan, SVC), frozenset({"lb-t2-2"}), 0))
    import hashlib

    assert hashlib.sha256(base64.b64decode(new.table)).hexdigest() == new.sha256
    same, none = adjust(t1_plan, {})
    assert same is t1_plan and none == []
    assert adjust(t1_plan, {SVC: frozenset({"not-a-t2"})})[0].tier1 == t1_plan.tier1


def test_no_healthy_t2_withdraws_the_vip_from_every_peer(t1_plan):
    adj, withdrawn = adjust(t1_plan, {SVC: frozenset(t1_plan.tier1.services[0].t2_nodes)})
    vip = t1_plan.tier1.services[0].vip
    assert [w.prefix for w in withdrawn] == [f"{vip}/32"] and withdrawn[0].services == (SVC,)
    before = [p.prefix for i in t1_plan.bgp.instances for peer in i.peers for p in peer.prefixes]
    after = [p.prefix for i in adj.bgp.instances for peer in i.peers for p in peer.prefixes]
    assert f"{vip}/32" in before and f"{vip}/32" not in after
    assert adj.tier1 == t1_plan.tier1  # nowhere better to send: the plan's table stays


def test_datapath_takes_the_adjusted_plan(t1_plan):
    from lbcli.agent.datapath.reconciler import desired_from_plan

    adj, _ = adjust(t1_plan, {SVC: frozenset({"lb-t2-1"})})
    want = desired_from_plan(adj)
    (content,) = [spec.content for spec in want.tables.values()]
    addrs = {socket.inet_ntoa(content[i:i + 4]) for i in range(0, len(content), 4)}
    ips = {n.name: n.ip for n in t1_plan.tier1.t2_nodes}
    assert ips["lb-t2-1"] not in addrs and addrs == {ips[n] for n in ("lb-t2-2", "lb-t2-3", "lb-t2-4")}


# ---------------------------------------------------------------- probe
PAGE = "cilium-lb-health v1 page 0 of 1\ndefault/a 1 0\ndefault/b 0\ndefault/c\n"


def test_page_parsing_and_judging():
    total, seen = parse_page(PAGE)
    assert total == 1 and seen == {"default/a": [1, 0], "default/b": [0], "default/c": []}
    verdict = judge(Target("t2", "1.2.3.4", ("default/a", "default/b", "default/c", "default/d")), seen)
    assert verdict["default/a"] == (True, None)
    assert not verdict["default/b"][0] and "backend" in verdict["default/b"][1]
    assert not verdict["default/c"][0]
    assert not verdict["default/d"][0] and "not served" in verdict["default/d"][1]
    udp = judge(Target("t2", "1.2.3.4", ("default/c", "default/d"), node_only=("default/d",)), seen)
    assert udp["default/d"] == (True, None) and not udp["default/c"][0]  # UDP: the node's answer speaks
    with pytest.raises(Exception, match="not a cilium-lb"):
        parse_page("<html>hello</html>")


class _Server:
    """A real TCP server on loopback answering like HAProxy's health frontend (or not)."""

    def __init__(self, mode: str):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.paths: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            req = conn.recv(4096).decode()
            path = req.split(" ")[1] if " " in req else ""
            self.paths.append(path)
            if self.mode == "silent":
                continue  # never answers (a hung machine)
            if self.mode == "paged":
                k = path.rsplit("/", 1)[1]
                body = f"cilium-lb-health v1 page {k} of 2\n" + ("default/a 1\n" if k == "0" else "default/b 2\n")
            else:
                body = PAGE
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n" + body.encode())
            conn.close()

    def close(self):
        self.sock.close()


def test_probe_reads_every_page_over_a_socket():
    srv = _Server("paged")
    try:
        res = asyncio.run(probe_once(Target("t2", "127.0.0.1", ("default/a", "default/b")), srv.port, 1.0))
    finally:
        srv.close()
    assert res.node_ok and res.services == {"default/a": (True, None), "default/b": (True, None)}
    assert srv.paths == ["/health/services/0", "/health/services/1"]


def test_probe_fails_the_node_when_refused_or_silent():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    res = asyncio.run(probe_once(Target("t2", "127.0.0.1", ("default/a",)), port, 0.5))
    assert not res.node_ok and not res.services["default/a"][0]
    srv = _Server("silent")
    try:
        res = asyncio.run(probe_once(Target("t2", "127.0.0.1", ("default/a",)), srv.port, 0.2))
    finally:
        srv.close()
    assert not res.node_ok and "no answer in 200 ms" in res.services["default/a"][1]
    assert res.seconds < 1.0 and res.timed_out


def test_a_timeout_the_prober_overslept_counts_neither_way():
    from lbcli.agent.health.probe import Result, conclusive

    down = {"s": (False, "no answer")}
    assert conclusive(Result("t2", False, down, 0.21, timed_out=True), 0.2)
    assert not conclusive(Result("t2", False, down, 1.5, timed_out=True), 0.2)  # starved: inconclusive
    assert conclusive(Result("t2", False, down, 1.5), 0.2)  # refused late is still refused


def test_prober_thread_probes_on_its_interval():
    from lbcli.agent.health.probe import Prober

    srv = _Server("plain")
    got = []
    done = threading.Event()

    def on(res):
        got.append(res)
        if len(got) >= 3:
            done.set()

    p = Prober(srv.port, 0.05, 0.5, on)
    p.set_targets([Target("t2", "127.0.0.1", ("default/a",))])
    p.start()
    try:
        assert done.wait(5)
    finally:
        p.stop()
        srv.close()
    assert all(r.services["default/a"] == (True, None) for r in got)


# ---------------------------------------------------------------- render and status
def test_health_pages_stay_under_haproxys_buffer_and_refuse_unsafe_names():
    from lbcli.agent.l7.render import HEALTH_PAGE_BYTES, L7RenderError, Rendered, _health_frontend, health_pages

    many = {f"ns/svc-{i:04d}": [f"bk_ns_svc-{i:04d}.ns_pool-{j}" for j in range(3)] for i in range(400)}
    pages = health_pages(many)
    assert len(pages) > 1 and sum(len(p) for p in pages) == 400
    r = Rendered("", "", service_backends=many)
    lines = [ln for ln in _health_frontend(10901, r, "192.0.2.1") if "lf-string" in ln]
    assert len(lines) == len(pages) and all(len(ln) < HEALTH_PAGE_BYTES + 200 for ln in lines)
    assert "bind 192.0.2.1:10901" in "\n".join(_health_frontend(10901, r, "192.0.2.1"))
    for bad in ({"ns/a\"b": []}, {"ns/a": ["bk_%[x]"]}, {"ns/a b": []}):
        with pytest.raises(L7RenderError, match="health endpoint"):
            _health_frontend(10901, Rendered("", "", service_backends=bad))
    with pytest.raises(L7RenderError, match="address"):
        _health_frontend(10901, Rendered("", ""), "not-an-ip")


def test_status_shows_the_tier1_view_and_the_most_pessimistic_t1_wins(t1_plan):
    from lbcli.status import build_status
    from lbcli.status.observed import merge

    t1a = {"node": "lb-t1-1", "services": {SVC: {"t2HealthyByT1": 4}}}
    t1b = {"node": "lb-t1-2", "services": {SVC: {"t2HealthyByT1": 3}}}
    t2s = [{"node": f"lb-t2-{i}", "services": {SVC: {"t2Healthy": 1, "backendsHealthy": 2}}} for i in (1, 2)]
    obs = merge([t1a, t1b, *t2s])
    f = obs.get(SVC)
    assert (f.t2_healthy_by_t1, f.t2_healthy) == (3, 2)
    row = next(r for r in build_status({"lb-t1-1": t1_plan}, obs).services if r.name == "https-proxy")
    assert row.hc_t1_t2.actual == 3


def test_monitor_turns_probe_results_into_a_health_run_and_facts(t1_plan, tmp_path):
    import io

    from lbcli.agent.daemon.events import EventLog
    from lbcli.agent.health.monitor import HealthMonitor
    from lbcli.agent.health.probe import Result
    from lbcli.agent.reconciler import NodeContext

    asked, out = [], io.StringIO()
    mon = HealthMonitor(NodeContext("lb-t1-1", tmp_path / "state", tmp_path / "bpf"), asked.append,
                        EventLog("lb-t1-1", "json", out), {"fall": 2, "rise": 2}, enabled=False)
    mon.set_plan(t1_plan, seed_from_host=True)  # nothing pinned: everything starts up
    assert mon.adjust(t1_plan) is t1_plan
    down = Result("lb-t2-3", False, {SVC: (False, "tier-2 node: refused")}, 0.001)
    mon._on_result(down)
    assert asked == [] and mon.facts()["services"][SVC]["t2HealthyByT1"] == 4
    mon._on_result(down)
    assert asked == ["health"] and mon.facts()["services"][SVC]["t2HealthyByT1"] == 3
    adj = mon.adjust(t1_plan)
    assert "lb-t2-3" not in set(_slots(_table_of(adj, SVC)))
    assert mon.components() == {"datapath"}  # the VIP stays announced: BGP is left to period runs
    ip = {n.name: n.ip for n in t1_plan.tier1.t2_nodes}["lb-t2-3"]
    assert mon._purge_ready == {(t1_plan.tier1.services[0].vip, 443, "TCP", ip)}
    events = [line for line in out.getvalue().splitlines() if '"t2-down"' in line]
    assert len(events) == 1 and "refused" in events[0]
    facts = mon.facts()["health"]
    assert facts["services"][SVC]["lb-t2-3"]["up"] is False and facts["config"]["fall"] == 2
    for t2 in ("lb-t2-1", "lb-t2-2", "lb-t2-4"):
        for _ in range(2):
            mon._on_result(Result(t2, False, {SVC: (False, "tier-2 node: refused")}, 0.001))
    gone = mon.adjust(t1_plan)
    assert mon.components() == {"datapath", "bgp"} and [w["prefix"] for w in mon.facts()["health"]["withdrawn"]]
    assert all(p.prefix != f"{t1_plan.tier1.services[0].vip}/32" for i in gone.bgp.instances for x in i.peers for p in x.prefixes)
    mon.adjust(t1_plan)
    assert mon.components() == {"datapath"}  # nothing moved since
    metrics = {m.name: m for m in mon.metrics("lb-t1-1")}
    ups = {s.labels["t2"]: s.value for s in metrics["cilium_lb_t2_health_up"].samples}
    assert ups == {"lb-t2-1": 0, "lb-t2-2": 0, "lb-t2-3": 0, "lb-t2-4": 0}
    downs = {s.labels["t2"]: s.value for s in metrics["cilium_lb_t2_health_transitions"].samples
             if s.labels["to"] == "down"}
    assert downs == {"lb-t2-1": 1, "lb-t2-2": 1, "lb-t2-3": 1, "lb-t2-4": 1}
