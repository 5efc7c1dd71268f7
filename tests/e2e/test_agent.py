"""`cilium-lb agent` on the rebel-base lab (real kernel, BIRD, FRR, HAProxy): it adopts what a
one-shot apply programmed without a flap, repairs drift made behind its back (a Maglev slot, the
tc filter, a VIP on a T2's lo, HAProxy and BIRD killed, a frontend disabled or a server put in
maint through HAProxy's socket, a BGP protocol disabled through BIRD's), reloads on SIGHUP and
on a source change, serves status/facts/metrics that `lb status --agent` reads, and leaves
everything serving when it stops. Two kinds of agents: on lb-t1-1/lb-t2-1 polling only
(`--no-events`, a full run every 0.5 s), on lb-t1-2/lb-t2-2 event-driven with a period of an
hour, so what they repair was reported by netlink or a pidfd. Timings are the benchmarks'
business (bench/bench_agent.py)."""

from __future__ import annotations

import json
import mmap
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbcli.lab.rebel import HOST, PASSWORD, T1, T2, USER, VIP, RebelLab

from .daemonkit import need_daemons, until

pytestmark = [pytest.mark.netns, pytest.mark.daemons]

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ("lb-t1-1", "lb-t2-1")
EVENT_AGENTS = ("lb-t1-2", "lb-t2-2")  # --interval 3600: only events make them act
PORT = 9965
WAIT = 20.0  # bounded waits: the agents run every 0.5 s
START_WAIT = 180.0


_need = need_daemons


FILTER = r"""
import json, sys
from lbcli.agent.host import netlink as nl
print(json.dumps([[f.link, f.prog_id] for f in nl.all_filters() if f.kind == "bpf"]))
"""


class AgentLab:
    def __init__(self, rl: RebelLab, logdir: Path) -> None:
        self.rl, self.lab, self.logdir = rl, rl.lab, logdir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, node: str) -> None:
        log = open(self.logdir / f"{node}.log", "a")
        mode = ["--interval", "3600"] if node in EVENT_AGENTS else ["--interval", "0.5", "--no-events"]
        self.procs[node] = self.lab.popen(node, [
            sys.executable, "-m", "lbcli", "agent", str(self.rl.manifests), "--node", node,
            "--state-dir", str(self.lab.state_dir(node)), "--bpf-root", str(self.lab.bpf_root),
            *mode, "--log-format", "json", "--listen", f"{self.lab.ip_of(node)}:{PORT}"],
            stdout=log, stderr=subprocess.STDOUT)

    def records(self, node: str) -> list[dict]:
        return [json.loads(line) for line in (self.logdir / f"{node}.log").read_text().splitlines()
                if line.startswith("{")]

    def get(self, node: str, path: str) -> str:
        p = self.lab.run_in("client", ["curl", "-sS", "--max-time", "3", f"http://{self.lab.ip_of(node)}:{PORT}{path}"],
                            check=False)
        return p.stdout if p.returncode == 0 else ""

    def status(self, node: str) -> dict:
        text = self.get(node, "/status")
        return json.loads(text) if text else {}

    def wait_runs(self, node: str, trigger: str, more_than: int = 0, timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status(node)
            if st.get("runs", {}).get(trigger, 0) > more_than:
                return st
            time.sleep(0.1)
        raise AssertionError(f"{node}: no {trigger} run within {timeout} s: {self.status(node)}")

    def filters(self, node: str) -> list:
        return json.loads(self.lab.run_in(node, [sys.executable, "-c", FILTER]).stdout)

    def curl_ok(self) -> bool:
        p = self.lab.run_in("client", ["curl", "-sS", "--max-time", "5", "--cacert", str(self.rl.ca),
                                       "-u", f"{USER}:{PASSWORD}", "--resolve", f"{HOST}:443:{VIP}",
                                       f"https://{HOST}/"], check=False)
        return p.returncode == 0 and p.stdout.startswith("hello from be-")

    def established(self, node: str) -> int:
        return self.rl.router.bgp_neighbors()[self.lab.ip_of(node)].get("connectionsEstablished", 0)


def _until(what: str, cond, timeout: float = WAIT) -> None:
    until(what, cond, timeout)


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    _need()
    rl = RebelLab(ROOT / "examples" / "rebel-base", tmp_path_factory.mktemp("agent"))
    with rl.running():
        al = AgentLab(rl, tmp_path_factory.mktemp("agent-logs"))
        lab = rl.lab
        before = {
            "established": al.established("lb-t1-1"), "filters": al.filters("lb-t1-1"),
            "haproxy": _pid(lab.state_dir("lb-t2-1") / "lb-t2-1" / "haproxy" / "haproxy.pid"),
            "bird": _pid(lab.state_dir("lb-t1-1") / "lb-t1-1" / "bird" / "bird.pid"),
        }
        for node in AGENTS + EVENT_AGENTS:
            al.start(node)
        for node in AGENTS:  # four agents compile and adopt at once: slow on a busy machine
            al.wait_runs(node, "period", timeout=START_WAIT)
        for node in EVENT_AGENTS:
            al.wait_runs(node, "start", timeout=START_WAIT)
        al.before = before
        yield al
        for p in al.procs.values():
            if p.poll() is None:
                p.kill()


def test_starting_adopts_what_runs_without_a_flap(agents):
    lab = agents.lab
    for node in AGENTS:
        changes = [r for r in agents.records(node) if r["event"] == "change"]
        assert changes == [], (node, changes)
        assert agents.status(node)["converged"] is True
    b = agents.before
    assert agents.established("lb-t1-1") == b["established"]  # no BGP session reset
    assert agents.filters("lb-t1-1") == b["filters"]  # the same program, never detached
    assert _pid(lab.state_dir("lb-t2-1") / "lb-t2-1" / "haproxy" / "haproxy.pid") == b["haproxy"]
    assert _pid(lab.state_dir("lb-t1-1") / "lb-t1-1" / "bird" / "bird.pid") == b["bird"]
    assert agents.curl_ok()


def _changes(agents, node: str, component: str, trigger: str = "period") -> list[dict]:
    return [r for r in agents.records(node) if r["event"] == "change" and r["component"] == component
            and r["trigger"] == trigger and r["ok"]]


def test_a_corrupted_maglev_slot_is_repaired(agents):
    from lbcli.agent.datapath import libbpf as bpf
    from lbcli.agent.datapath.maps import PinnedMaps, _buffer_bytes

    pin = agents.lab.bpf_root / "lb-t1-1"
    with PinnedMaps(pin) as maps:
        k, ts = sorted(maps.read_tables().items())[0]
        good = maps.read_table(k)
        buf = ts.buffers[ts.active]
    fd = bpf.map_fd_by_id(buf)
    try:
        with mmap.mmap(fd, _buffer_bytes(ts.size)) as mm:
            view = memoryview(mm).cast("I")
            view[7] = view[7] ^ 1  # one slot of the live table now names another T2
            view.release()
    finally:
        os.close(fd)
    with PinnedMaps(pin) as maps:
        assert maps.read_table(k) != good
    _until("the slot is repaired", lambda: _table(pin, k) == good)
    _until("the repair is logged", lambda: any(r["object"] == f"table {k}" for r in _changes(agents, "lb-t1-1", "datapath")))


def _table(pin: Path, k: int) -> bytes | None:
    from lbcli.agent.datapath.maps import PinnedMaps

    with PinnedMaps(pin) as maps:
        return maps.read_table(k)


def test_a_deleted_tc_filter_is_attached_again(agents):
    lab = agents.lab
    assert agents.filters("lb-t1-1")
    lab.run_in("lb-t1-1", ["tc", "filter", "del", "dev", "eth0", "ingress"])  # (the agent may be quicker than a check)
    _until("the filter is attached again",
           lambda: any(r["object"].startswith("filter eth0") for r in _changes(agents, "lb-t1-1", "datapath")))
    assert agents.filters("lb-t1-1") != []
    _until("the VIP answers", agents.curl_ok)


def test_a_vip_removed_from_a_t2_lo_comes_back(agents):
    lab = agents.lab
    lab.run_in("lb-t2-1", ["ip", "addr", "del", f"{VIP}/32", "dev", "lo"])
    _until("the VIP is on lo again",
           lambda: f"{VIP}/32" in lab.run_in("lb-t2-1", ["ip", "-o", "addr", "show", "dev", "lo"]).stdout)
    _until("the repair is logged", lambda: _changes(agents, "lb-t2-1", "receive"))


def test_killed_haproxy_is_started_again(agents):
    lab = agents.lab
    pidfile = lab.state_dir("lb-t2-1") / "lb-t2-1" / "haproxy" / "haproxy.pid"
    old = _pid(pidfile)
    os.kill(old, signal.SIGKILL)

    def back() -> bool:
        try:
            pid = _pid(pidfile)
        except (OSError, ValueError, IndexError):
            return False
        return pid != old and Path(f"/proc/{pid}").exists()

    _until("HAProxy runs again", back)
    _until("the restart is logged", lambda: _changes(agents, "lb-t2-1", "l7"))
    _until("the VIP answers", agents.curl_ok)


def test_killed_bird_is_started_again_and_announces(agents):
    lab = agents.lab
    pidfile = lab.state_dir("lb-t1-1") / "lb-t1-1" / "bird" / "bird.pid"
    old = _pid(pidfile)
    established = agents.established("lb-t1-1")
    os.kill(old, signal.SIGKILL)
    _until("BIRD runs again and the session is back",
           lambda: agents.established("lb-t1-1") > established, timeout=40)
    _until("the restart is logged", lambda: _changes(agents, "lb-t1-1", "bgp"))
    assert agents.rl.wait_for_nexthops(len(T1), timeout=30)


def _stats_cmd(agents, node: str, command: str) -> str:
    from lbcli.agent.l7.runtime import send_command

    return send_command(agents.lab.state_dir(node) / node / "haproxy" / "stats.sock", command)


def _frontend_status(agents, node: str, fe: str) -> str:
    from lbcli.agent.l7.runtime import parse_stat_rows

    rows = parse_stat_rows(_stats_cmd(agents, node, "show stat"))
    return next(r.status for r in rows if r.kind == "frontend" and r.proxy == fe)


def test_a_frontend_disabled_and_a_server_in_maint_through_haproxys_socket_are_repaired(agents):
    from lbcli.agent.l7.runtime import ADMIN_FORCED_MAINT, parse_servers_state

    node = "lb-t2-1"
    from lbcli.agent.l7.render import frontend_name

    fe = frontend_name("default/https-proxy")
    assert _frontend_status(agents, node, fe) == "OPEN"
    server = parse_servers_state(_stats_cmd(agents, node, "show servers state"))[0]
    _stats_cmd(agents, node, f"disable frontend {fe}")
    _stats_cmd(agents, node, f"set server {server.backend}/{server.server} state maint")
    _until("the frontend is open again", lambda: _frontend_status(agents, node, fe) == "OPEN")

    def ready() -> bool:
        st = {(s.backend, s.server): s for s in parse_servers_state(_stats_cmd(agents, node, "show servers state"))}
        return not st[(server.backend, server.server)].admin_state & ADMIN_FORCED_MAINT

    _until("the server is ready again", ready)
    want = {f"frontend {fe}", f"server {server.backend}/{server.server}"}  # the runtime API, no reload
    _until("the repairs are logged", lambda: want <= {r["object"] for r in _changes(agents, node, "l7")})
    _until("the VIP answers", agents.curl_ok)


def test_a_bgp_protocol_disabled_through_birds_socket_is_enabled(agents):
    from lbcli.agent.bgp.control import BirdControl
    from lbcli.agent.bgp.status import protocol_states

    node = "lb-t1-1"
    ctl = BirdControl(agents.lab.state_dir(node) / node / "bird" / "bird.ctl")
    states = protocol_states(list(ctl.check("show protocols").lines))
    static = next(p for p in states if p.startswith("lb_vips"))
    ctl.check(f"disable {static}")  # the VIP's route is gone from BIRD: withdrawn from the router
    _until("the protocol is up again",
           lambda: protocol_states(list(ctl.check("show protocols").lines))[static] == "up")
    _until("the repair is logged", lambda: any(r["object"] == f"protocol {static}" for r in _changes(agents, node, "bgp")))
    assert agents.rl.wait_for_nexthops(len(T1), timeout=30)


def test_event_driven_agents_repair_what_netlink_and_pidfds_report(agents):
    """lb-t1-2 and lb-t2-2 run a full reconcile once an hour: a repair is an `event` run."""
    lab = agents.lab
    for node in EVENT_AGENTS:
        st = agents.status(node)
        assert st["events"]["enabled"] and st["events"]["error"] is None, st
    # tc filter deleted on a T1
    lab.run_in("lb-t1-2", ["tc", "filter", "del", "dev", "eth0", "ingress"])
    _until("the filter is attached again by an event run",
           lambda: any(r["object"].startswith("filter eth0") for r in _changes(agents, "lb-t1-2", "datapath", "event")))
    assert agents.filters("lb-t1-2")
    # the VIP removed from a T2's lo
    lab.run_in("lb-t2-2", ["ip", "addr", "del", f"{VIP}/32", "dev", "lo"])
    _until("the VIP is back on lo by an event run", lambda: _changes(agents, "lb-t2-2", "receive", "event"))
    assert f"{VIP}/32" in lab.run_in("lb-t2-2", ["ip", "-o", "addr", "show", "dev", "lo"]).stdout
    # HAProxy killed on the T2, BIRD killed on the T1
    hap = lab.state_dir("lb-t2-2") / "lb-t2-2" / "haproxy" / "haproxy.pid"
    os.kill(_pid(hap), signal.SIGKILL)
    _until("HAProxy is started again by an event run", lambda: _changes(agents, "lb-t2-2", "l7", "event"))
    bird = lab.state_dir("lb-t1-2") / "lb-t1-2" / "bird" / "bird.pid"
    os.kill(_pid(bird), signal.SIGKILL)
    _until("BIRD is started again by an event run", lambda: _changes(agents, "lb-t1-2", "bgp", "event"), timeout=40)
    for node in EVENT_AGENTS:
        assert agents.status(node)["runs"].get("period", 0) == 0  # none of it was the safety net
    assert agents.rl.wait_for_nexthops(len(T1), timeout=30)
    _until("the VIP answers", agents.curl_ok)


def test_sighup_and_a_source_change_reload(agents):
    node = "lb-t2-1"
    proc = agents.procs[node]
    runs = agents.status(node)["runs"]
    proc.send_signal(signal.SIGHUP)
    agents.wait_runs(node, "reload", runs.get("reload", 0))
    f = agents.rl.manifests / "backends.yaml"
    f.write_text(f.read_text() + "\n# touched by the agent test\n")
    agents.wait_runs(node, "source", runs.get("source", 0))
    assert not [r for r in agents.records(node) if r.get("trigger") in ("reload", "source") and r["event"] == "change"]


def test_status_metrics_and_lb_status_read_the_agents(agents, tmp_path):
    assert agents.curl_ok()
    metrics = agents.get("lb-t1-1", "/metrics")
    assert f'cilium_lb_vip_packets_total{{node="lb-t1-1",port="443",protocol="TCP",service="default/https-proxy",vip="{VIP}"}}' in metrics
    assert 'cilium_lb_bgp_session_established{address="192.168.121.201",node="lb-t1-1",peer=' in metrics
    assert "cilium_lb_reconcile_runs_total" in metrics and "cilium_lb_drift_repairs_total" in metrics
    facts = json.loads(agents.get("lb-t2-1", "/facts"))
    assert facts["services"]["default/https-proxy"]["backendsHealthy"] == 2
    p = agents.lab.run_in("client", [sys.executable, "-m", "lbcli", "lb", "status", "-o", "json",
                                     *[a for n in AGENTS for a in ("--agent", f"{agents.lab.ip_of(n)}:{PORT}")]],
                          check=False)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["summary"]["observed"] is True
    svc = next(s for s in doc["services"] if s["name"] == "https-proxy")
    assert svc["bgpPeers"]["actual"] == 1 and svc["hcT2Backends"]["actual"] == 2, svc


def test_sigterm_stops_and_leaves_everything_serving(agents):
    lab = agents.lab
    haproxy = _pid(lab.state_dir("lb-t2-1") / "lb-t2-1" / "haproxy" / "haproxy.pid")
    established = agents.established("lb-t1-1")
    for node in AGENTS + EVENT_AGENTS:
        agents.procs[node].send_signal(signal.SIGTERM)
    for node in AGENTS + EVENT_AGENTS:
        assert agents.procs[node].wait(timeout=15) == 0
        assert agents.records(node)[-1]["event"] == "stop"
    time.sleep(1.0)
    assert agents.curl_ok()
    assert Path(f"/proc/{haproxy}").exists()
    assert agents.established("lb-t1-1") == established
    assert agents.filters("lb-t1-1")
