"""The agent's parts without a host: log records, watched roots, the loop's triggers (with a
recording apply in place of the node apply: the real one runs in tests/e2e/test_agent.py)."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli.agent.daemon.events import EventLog, change_records
from lbcli.agent.daemon.loop import Agent, SourceError
from lbcli.agent.daemon.watch import Watcher, roots
from lbcli.agent.reconciler import NodeContext

DOC = {"ok": False, "changes": 2, "withheld": [{"prefix": "100.64.0.1/32", "reason": "datapath failed: x"}],
       "components": [
           {"name": "datapath", "ok": False, "degraded": None, "error": None, "notes": [],
            "changes": [{"action": "update", "object": "table 0", "detail": "slots written: 1", "ok": True, "error": None},
                        {"action": "create", "object": "filter eth0 ingress", "detail": "", "ok": False, "error": "EPERM"}]},
           {"name": "bgp", "ok": True, "degraded": "peer down", "error": None, "notes": [], "changes": []}]}


def test_one_record_per_change_failure_and_withheld_prefix():
    recs = change_records(DOC, "period")
    assert [(r["event"], r.get("object") or r.get("prefix") or r.get("component")) for r in recs] == [
        ("change", "table 0"), ("change", "filter eth0 ingress"), ("degraded", "bgp"), ("withheld", "100.64.0.1/32")]
    assert recs[1]["error"] == "EPERM" and all(r["trigger"] == "period" for r in recs)


def test_log_lines_are_one_per_record_in_both_formats():
    out = io.StringIO()
    EventLog("n1", "json", out).emit_all(change_records(DOC, "start"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert first["node"] == "n1" and first["level"] == "info" and first["object"] == "table 0"
    assert json.loads(lines[1])["level"] == "error"
    out = io.StringIO()
    EventLog("n1", "text", out).emit({"event": "change", "detail": "two\nlines", "object": "a b"})
    line = out.getvalue()
    assert line.count("\n") == 1 and 'object="a b"' in line and "detail=two\\nlines " in line
    with pytest.raises(ValueError):
        EventLog("n1", "yaml", out)


def test_roots_watch_directories_and_only_the_given_files(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    f = tmp_path / "plan.json"
    f.write_text("{}")
    dirs, relevant = roots([d, f])
    assert dirs == sorted({d.resolve(), tmp_path.resolve()})
    assert relevant(str(d / "x.yaml")) and relevant(str(f.resolve()))
    assert not relevant(str(tmp_path / "other.json")) and not relevant(str(d / ".x.swp"))


def test_watcher_reports_a_debounced_change(tmp_path):
    seen: list[list[str]] = []
    got = threading.Event()
    w = Watcher([tmp_path], lambda p: (seen.append(p), got.set()), debounce_ms=50)
    w.start()
    try:
        time.sleep(0.3)
        for i in range(3):  # a burst
            (tmp_path / f"{i}.yaml").write_text("a: 1\n")
        assert got.wait(10)
    finally:
        w.stop()
        w.join(5)
    assert not w.is_alive() and seen and all(p.endswith(".yaml") for batch in seen for p in batch)


class _Report:
    def __init__(self, n: int) -> None:
        self.n = n

    def to_dict(self) -> dict:
        ch = [{"action": "update", "object": f"o{i}", "detail": "", "ok": True, "error": None} for i in range(self.n)]
        return {"ok": True, "changes": self.n, "withheld": [],
                "components": [{"name": "l7", "ok": True, "degraded": None, "error": None, "changes": ch}]}


def _agent(loads, changes, interval=0.05):
    calls = []

    def apply(ctx, plan, secrets):
        calls.append(plan)
        return _Report(changes.pop(0) if changes else 0)

    out = io.StringIO()
    it = iter(loads)

    def load():
        v = next(it)
        if isinstance(v, Exception):
            raise v
        return v, {}

    a = Agent(NodeContext("n1", Path("/nonexistent"), Path("/nonexistent")), load, EventLog("n1", "json", out),
              [], interval=interval, apply=apply)
    return a, calls, out


def test_period_runs_count_drift_repairs_and_a_bad_source_keeps_the_plan():
    a, calls, out = _agent(["p1", SourceError("bad.yaml:3:1 broken"), "p2"], [0, 2])
    a.start()
    a.reconcile("start")
    a.reconcile("period")          # two changes nobody asked for: drift repaired
    a.reconcile("source")          # the sources do not load: the plan in force stays
    assert calls == ["p1", "p1", "p1"]
    a.reconcile("reload")
    assert calls[-1] == "p2"
    assert a.stats.runs == {"start": 1, "period": 1, "source": 1, "reload": 1}
    assert a.stats.drift_repairs == {"l7": 2} and a.stats.source_errors == 1
    events = [json.loads(x)["event"] for x in out.getvalue().splitlines()]
    assert events == ["start", "change", "change", "source-rejected", "plan"]


def test_loop_runs_on_the_period_and_on_request_and_stops():
    a, calls, out = _agent(["p1", "p1"], [], interval=0.05)
    a.start()
    t = threading.Thread(target=a.run, kwargs={"install_signals": False})
    t.start()
    time.sleep(0.3)
    a.request("reload")
    time.sleep(0.2)
    a.stop()
    t.join(5)
    assert not t.is_alive()
    assert a.stats.runs["start"] == 1 and a.stats.runs["period"] >= 2 and a.stats.runs["reload"] == 1
    assert json.loads(out.getvalue().splitlines()[-1])["event"] == "stop"


def test_cli_refuses_bad_options_without_a_traceback(tmp_path):
    from lbcli.cli.main import app

    r = CliRunner().invoke(app, ["agent", "--node", "n1", "--listen", "nohost", str(tmp_path)])
    assert r.exit_code == 2 and "HOST:PORT" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["agent", "--node", "n1", "--state-dir", str(tmp_path), str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["lb", "status", "--watch", "--plan", str(tmp_path)])
    assert r.exit_code == 2 and "--agent" in r.output
    r = CliRunner().invoke(app, ["lb", "status", "--agent", "127.0.0.1:1"])
    assert r.exit_code == 2 and "agent 127.0.0.1:1" in r.output
