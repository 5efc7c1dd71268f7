"""Event-driven drift detection (lbcli/agent/daemon/monitor.py): rtnetlink messages map to the
components that own what changed, a daemon's exit is seen through its pidfd, a burst becomes
one request, and the loop runs just those components (plus BGP) unless the last run failed."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from lbcli.agent.daemon.events import EventLog
from lbcli.agent.daemon.loop import Agent, merge_reports
from lbcli.agent.daemon.monitor import Monitor, components_for
from lbcli.agent.reconciler import NodeContext

ROOT = Path(__file__).resolve().parents[1]


def test_events_map_to_the_components_that_own_them():
    assert components_for(["RTM_DELTFILTER"]) == {"datapath"}
    assert components_for(["RTM_DELADDR"]) == {"receive", "network"}
    assert components_for(["RTM_NEWROUTE", "RTM_DELQDISC"]) == {"network", "datapath"}
    assert components_for(["RTM_NEWNEIGH", ""]) == set()


def _wait(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_a_daemon_exit_is_one_debounced_drift_of_its_component():
    child = subprocess.Popen(["sleep", "60"])
    seen: list[tuple[set, list]] = []
    m = Monitor(lambda comps, why: seen.append((comps, why)), lambda: {"l7": child.pid, "bgp": None},
                debounce=0.05, netlink=False)
    m.start()
    try:
        time.sleep(0.2)
        assert seen == []  # nothing happened: nothing reported
        child.kill()
        child.wait()
        assert _wait(lambda: seen)
        time.sleep(0.2)
        assert len(seen) == 1 and seen[0][0] == {"l7"} and f"pid {child.pid} exited" in seen[0][1][0]
    finally:
        m.stop()
        m.join(5)
    assert not m.is_alive()


def test_a_refresh_watches_the_new_pid():
    pids = {"bgp": None}
    seen: list[set] = []
    m = Monitor(lambda comps, why: seen.append(comps), lambda: dict(pids), debounce=0.0, netlink=False)
    m.start()
    child = subprocess.Popen(["sleep", "60"])
    try:
        pids["bgp"] = child.pid
        m.refresh()
        time.sleep(0.1)
        child.kill()
        child.wait()
        assert _wait(lambda: seen == [{"bgp"}])
    finally:
        m.stop()
        m.join(5)


NETLINK = r"""
import json, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from lbcli.agent.daemon.monitor import Monitor
seen = []
m = Monitor(lambda comps, why: seen.append([sorted(comps), why]), lambda: {}, debounce=0.1)
m.start()
assert m.ready.wait(30)
time.sleep(0.3)
quiet = list(seen)
subprocess.run(["ip", "addr", "add", "100.64.9.9/32", "dev", "lo"], check=True)
subprocess.run(["tc", "qdisc", "add", "dev", "lo", "clsact"], check=True)
deadline = time.monotonic() + 5
while time.monotonic() < deadline and not seen:
    time.sleep(0.02)
time.sleep(0.3)
m.stop(); m.join(5)
print(json.dumps({"quiet": quiet, "seen": seen, "error": m.error}))
"""


def test_netlink_changes_in_the_namespace_are_reported(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        pytest.skip("needs root and iproute2 to make a namespace")
    ns = f"lbmon-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        time.sleep(0.1)
        p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", NETLINK, str(ROOT)],
                           capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["error"] is None and out["quiet"] == []
    comps = set().union(*(set(c) for c, _ in out["seen"]))
    reasons = {r for _, why in out["seen"] for r in why}
    assert {"receive", "datapath"} <= comps and {"RTM_NEWADDR", "RTM_NEWQDISC"} <= reasons
    assert len(out["seen"]) <= 2  # a burst is debounced into one report (two at most if split)


class _Rep:
    def __init__(self, ok=True, names=("network", "l7", "bgp")):
        self.ok, self.names = ok, names

    def to_dict(self):
        return {"ok": self.ok, "changes": 0, "withheld": [], "recorded": self.ok,
                "components": [{"name": n, "ok": self.ok, "degraded": None, "error": None if self.ok else "x",
                                "changes": []} for n in self.names]}


def test_an_event_runs_its_components_and_bgp_unless_the_last_run_failed():
    calls: list = []
    results = [_Rep(True), _Rep(True, ("l7", "bgp")), _Rep(False), _Rep(True)]

    def apply(ctx, plan, secrets, only=None):
        calls.append(only)
        return results.pop(0)

    from types import SimpleNamespace

    plan = SimpleNamespace(bgp=object())  # a plan with a bgp section: BGP joins every event run
    a = Agent(NodeContext("n1", Path("/nonexistent"), Path("/nonexistent")), lambda: (plan, {}),
              EventLog("n1", "json", io.StringIO()), [], interval=3600, apply=apply)
    a.start()
    t = threading.Thread(target=a.run, kwargs={"install_signals": False})
    t.start()
    try:
        assert _wait(lambda: len(calls) == 1)
        a.request("event", {"l7"})
        assert _wait(lambda: len(calls) == 2)
        assert calls[1] == {"l7", "bgp"}
        # the merged report keeps the components the event run did not touch
        assert [c["name"] for c in a.report["components"]] == ["network", "l7", "bgp"]
        a.request("reload")
        assert _wait(lambda: len(calls) == 3) and calls[2] is None  # failed: report not ok
        a.request("event", {"datapath"})
        assert _wait(lambda: len(calls) == 4) and calls[3] is None  # widened to a full run
    finally:
        a.stop()
        t.join(5)
    assert a.stats.runs == {"start": 1, "event": 2, "reload": 1}


def test_merge_reports_replaces_only_what_ran():
    full = _Rep(True).to_dict()
    part = {"ok": False, "changes": 1, "withheld": [{"prefix": "p", "reason": "r"}], "recorded": False,
            "components": [{"name": "l7", "ok": False, "degraded": None, "error": "boom", "changes": []}]}
    m = merge_reports(full, part)
    assert [(c["name"], c["ok"]) for c in m["components"]] == [("network", True), ("l7", False), ("bgp", True)]
    assert m["ok"] is False and m["withheld"] == part["withheld"]
    assert merge_reports(None, part) is part


def test_event_runs_that_keep_changing_things_back_off():
    times: list[float] = []

    def apply(ctx, plan, secrets, only=None):
        times.append(time.monotonic())
        return _Changes()

    a = Agent(NodeContext("n1", Path("/nonexistent"), Path("/nonexistent")), lambda: (None, {}),
              EventLog("n1", "json", io.StringIO()), [], interval=3600, apply=apply)
    a.start()
    t = threading.Thread(target=a.run, kwargs={"install_signals": False})
    t.start()
    try:
        for n in range(2, 8):  # something fights the agent: every run changes, every change is an event
            assert _wait(lambda: len(times) >= n - 1)
            a.request("event", {"datapath"})
        assert _wait(lambda: len(times) >= 7, timeout=10)
    finally:
        a.stop()
        t.join(5)
    gaps = [b - a_ for a_, b in zip(times, times[1:])]
    assert gaps[-1] >= 0.35 and gaps[-1] > 2 * min(gaps[:3])  # waits 0.1, 0.2, 0.4 s after three in a row
    assert not t.is_alive()


class _Changes:
    def to_dict(self):
        return {"ok": True, "changes": 1, "withheld": [], "components": [
            {"name": "datapath", "ok": True, "degraded": None, "error": None,
             "changes": [{"action": "update", "object": "x", "detail": "", "ok": True, "error": None}]}]}
