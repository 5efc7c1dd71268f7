"""Tier 1 checks tier 2, on the rebel-base lab (real kernel, BIRD, FRR, HAProxy): both tier-1
nodes run `cilium-lb agent` (the tier-2 nodes were applied once and run no agent, so a failure
made here stays until the test repairs it). A T2 whose HAProxy dies, or whose backends all fail
in HAProxy's view, leaves the service's Maglev table (only its slots move; flows to the other
T2 stay, flows pinned to it are forgotten) and every new connection is served; it comes back
after it passes again. With no T2 serving, the tier-1 nodes withdraw the VIP: the router loses
the route (without a BGP session reset) and gets it back on recovery. Timings: bench/bench_t2_failure.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbcli.lab.rebel import BACKENDS, HOST, PASSWORD, T1, T2, USER, VIP, RebelLab

from .daemonkit import need_daemons, until

pytestmark = [pytest.mark.netns, pytest.mark.daemons]

ROOT = Path(__file__).resolve().parents[2]
PORT = 9966
SVC = "default/https-proxy"
WAIT = 30.0


_need = need_daemons


def _until(what: str, cond, timeout: float = WAIT) -> None:
    until(what, cond, timeout)


class HcLab:
    def __init__(self, rl: RebelLab, logdir: Path) -> None:
        self.rl, self.lab, self.logdir = rl, rl.lab, logdir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, node: str) -> None:
        log = open(self.logdir / f"{node}.log", "a")
        self.procs[node] = self.lab.popen(node, [
            sys.executable, "-m", "lbcli", "agent", str(self.rl.manifests), "--node", node,
            "--state-dir", str(self.lab.state_dir(node)), "--bpf-root", str(self.lab.bpf_root),
            "--interval", "1", "--log-format", "json", "--listen", f"{self.lab.ip_of(node)}:{PORT}"],
            stdout=log, stderr=subprocess.STDOUT)

    def stop(self, node: str) -> None:
        p = self.procs.pop(node)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=15) == 0

    def records(self, node: str) -> list[dict]:
        return [json.loads(line) for line in (self.logdir / f"{node}.log").read_text().splitlines()
                if line.startswith("{")]

    def facts(self, node: str) -> dict:
        p = self.lab.run_in("client", ["curl", "-sS", "--max-time", "3", f"http://{self.lab.ip_of(node)}:{PORT}/facts"],
                            check=False)
        return json.loads(p.stdout) if p.returncode == 0 and p.stdout else {}

    def healthy(self, node: str) -> int | None:
        return self.facts(node).get("services", {}).get(SVC, {}).get("t2HealthyByT1")

    def live_t2(self, node: str) -> set[str]:
        """The T2 addresses in the service's live Maglev table on tier-1 node `node`."""
        from lbcli.agent.datapath.maps import PinnedMaps

        with PinnedMaps(self.lab.bpf_root / node) as maps:
            k = next(v[0] for key, v in maps.read_services().items() if key[0] == VIP)
            raw = maps.read_table(k) or b""
        return {socket.inet_ntoa(raw[i:i + 4]) for i in range(0, len(raw), 4)}

    def table(self, node: str) -> bytes:
        from lbcli.agent.datapath.maps import PinnedMaps

        with PinnedMaps(self.lab.bpf_root / node) as maps:
            k = next(v[0] for key, v in maps.read_services().items() if key[0] == VIP)
            return maps.read_table(k) or b""

    def requests(self, n: int) -> tuple[int, set[str]]:
        """n new connections to the VIP: (failures, backends that answered)."""
        fails, seen = 0, set()
        for _ in range(n):
            p = self.lab.run_in("client", ["curl", "-sS", "--max-time", "3", "--cacert", str(self.rl.ca),
                                           "-u", f"{USER}:{PASSWORD}", "--resolve", f"{HOST}:443:{VIP}",
                                           f"https://{HOST}/"], check=False)
            if p.returncode == 0 and p.stdout.startswith("hello from be-"):
                seen.add(p.stdout.split()[-1])
            else:
                fails += 1
        return fails, seen

    def haproxy_pid(self, node: str) -> int:
        return int((self.lab.state_dir(node) / node / "haproxy" / "haproxy.pid").read_text().split()[0])

    def kill_haproxy(self, node: str) -> None:
        os.kill(self.haproxy_pid(node), signal.SIGKILL)
        ip = self.lab.ip_of(node)
        _until(f"{node}'s health endpoint is gone", lambda: self.lab.run_in(
            "client", ["curl", "-sS", "--max-time", "1", f"http://{ip}:10901/health"], check=False).returncode != 0)

    def established(self, node: str) -> int:
        return self.rl.router.bgp_neighbors()[self.lab.ip_of(node)].get("connectionsEstablished", 0)


@pytest.fixture(scope="module")
def hc(tmp_path_factory):
    _need()
    rl = RebelLab(ROOT / "examples" / "rebel-base", tmp_path_factory.mktemp("hc"))
    with rl.running():
        h = HcLab(rl, tmp_path_factory.mktemp("hc-logs"))
        try:
            for node in T1:
                h.start(node)
            for node in T1:
                _until(f"{node} sees both T2 nodes", lambda node=node: h.healthy(node) == 2)
            yield h
        finally:
            for p in h.procs.values():
                if p.poll() is None:
                    p.kill()


@pytest.fixture
def healthy_again(hc):
    """After each test: every T2 serves again (re-applied) and both T1 nodes see it."""
    yield
    for node in T2:
        hc.rl.apply(node)
    for node in T1:
        _until(f"{node} sees both T2 nodes again", lambda node=node: hc.healthy(node) == 2)


def test_starting_changes_nothing_when_all_is_healthy(hc):
    for node in T1:
        assert not [r for r in hc.records(node) if r["event"] in ("change", "t2-down", "vip-withdrawn")]
        assert len(hc.live_t2(node)) == 2


def test_a_dead_haproxy_leaves_the_table_and_comes_back(hc, healthy_again):
    from lbcli.agent.datapath.flows import count

    dead, alive = hc.lab.ip_of("lb-t2-1"), hc.lab.ip_of("lb-t2-2")
    fails, _ = hc.requests(8)  # flows pinned to both T2 nodes
    assert fails == 0
    before = {n: hc.table(n) for n in T1}
    flows_alive = {n: count(hc.lab.bpf_root / n).get(alive, 0) for n in T1}
    hc.kill_haproxy("lb-t2-1")
    for node in T1:
        _until(f"{node} stops sending to lb-t2-1", lambda node=node: hc.live_t2(node) == {alive})
    for node in T1:  # only lb-t2-1's slots moved, and flows to lb-t2-2 stayed in the flow table
        after = hc.table(node)
        moved = [i for i in range(0, len(after), 4) if after[i:i + 4] != before[node][i:i + 4]]
        assert moved and all(socket.inet_ntoa(before[node][i:i + 4]) == dead for i in moved)
        flows = count(hc.lab.bpf_root / node)
        assert flows.get(dead, 0) == 0 and flows.get(alive, 0) >= flows_alive[node]
        assert hc.healthy(node) == 1
        assert any(r["event"] == "t2-down" and r["t2"] == "lb-t2-1" for r in hc.records(node))
    fails, seen = hc.requests(12)
    assert fails == 0 and seen  # every new connection went to lb-t2-2
    hc.rl.apply("lb-t2-1")  # HAProxy back
    for node in T1:
        _until(f"{node} sends to lb-t2-1 again", lambda node=node: hc.table(node) == before[node])
    assert hc.requests(6)[0] == 0


def test_a_service_whose_backends_all_fail_on_one_t2_leaves_only_there(hc, healthy_again):
    node_ip = hc.lab.ip_of("lb-t2-2")
    for ip in BACKENDS.values():  # lb-t2-2 loses its backends (HAProxy's checks fail), lb-t2-1 does not
        hc.lab.run_in("lb-t2-2", ["ip", "route", "add", "blackhole", f"{ip}/32"])
    try:
        for node in T1:
            _until(f"{node} stops sending to lb-t2-2", lambda node=node: hc.live_t2(node) == {hc.lab.ip_of("lb-t2-1")},
                   timeout=45)
        assert node_ip not in hc.live_t2("lb-t1-1")
        reason = [r for r in hc.records("lb-t1-1") if r["event"] == "t2-down" and r["t2"] == "lb-t2-2"][-1]["detail"]
        assert "backend" in reason  # the node answered; HAProxy said no server is usable
        assert hc.requests(8)[0] == 0
    finally:
        for ip in BACKENDS.values():
            hc.lab.run_in("lb-t2-2", ["ip", "route", "del", "blackhole", f"{ip}/32"], check=False)
    for node in T1:
        _until(f"{node} sends to lb-t2-2 again", lambda node=node: len(hc.live_t2(node)) == 2, timeout=45)


def test_no_healthy_t2_withdraws_the_vip_and_recovery_announces_it(hc, healthy_again):
    router = hc.rl.router
    sessions = {n: hc.established(n) for n in T1}
    assert len(router.kernel_nexthops(f"{VIP}/32")) == 2
    for node in T2:
        hc.kill_haproxy(node)
    _until("the router has no route to the VIP", lambda: router.kernel_nexthops(f"{VIP}/32") == [])
    for node in T1:
        assert any(r["event"] == "vip-withdrawn" for r in hc.records(node))
        assert hc.healthy(node) == 0
    for node in T2:
        hc.rl.apply(node)
    assert hc.rl.wait_for_nexthops(2, timeout=WAIT)
    assert {n: hc.established(n) for n in T1} == sessions  # reconfigured, never reset
    for node in T1:
        assert any(r["event"] == "vip-announced" for r in hc.records(node))
    _until("the VIP answers again", lambda: hc.requests(1)[0] == 0)


def test_a_restarted_agent_adopts_a_failed_t2_without_a_flap(hc, healthy_again):
    hc.kill_haproxy("lb-t2-1")
    alive = hc.lab.ip_of("lb-t2-2")
    _until("lb-t1-1 stops sending to lb-t2-1", lambda: hc.live_t2("lb-t1-1") == {alive})
    hc.stop("lb-t1-1")
    n = len(hc.records("lb-t1-1"))
    table = hc.table("lb-t1-1")
    hc.start("lb-t1-1")
    _until("the agent runs again", lambda: hc.healthy("lb-t1-1") == 1)
    time.sleep(1.5)  # a few probes and a period run
    new = hc.records("lb-t1-1")[n:]
    assert any(r["event"] == "health-adopted" for r in new)
    assert not [r for r in new if r["event"] == "change" and r["component"] == "datapath"], new
    assert hc.table("lb-t1-1") == table


def test_lb_status_shows_tier1s_view_live(hc, healthy_again):
    hc.kill_haproxy("lb-t2-1")
    for node in T1:
        _until(f"{node} sees one T2", lambda node=node: hc.healthy(node) == 1)
    p = hc.lab.run_in("client", [sys.executable, "-m", "lbcli", "lb", "status", "-o", "json",
                                 *[a for n in T1 for a in ("--agent", f"{hc.lab.ip_of(n)}:{PORT}")]], check=False)
    assert p.returncode == 0, p.stderr
    svc = next(s for s in json.loads(p.stdout)["services"] if s["name"] == "https-proxy")
    assert svc["hcT1T2"] == {"total": 2, "actual": 1}, svc
    metrics = hc.lab.run_in("client", ["curl", "-sS", f"http://{hc.lab.ip_of('lb-t1-1')}:{PORT}/metrics"]).stdout
    assert 'cilium_lb_t2_health_up{node="lb-t1-1",service="default/https-proxy",t2="lb-t2-1"} 0.0' in metrics
    assert 'cilium_lb_t2_health_transitions_total{node="lb-t1-1",service="default/https-proxy",t2="lb-t2-1",to="down"}' in metrics
