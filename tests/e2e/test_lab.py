"""`cilium-lb lab up|status|down` as a user runs it (real kernel, FRR, BIRD, HAProxy, the agents):
up builds the seed lab and prints a curl command that reaches the VIP from the client and an
`lb status` command that reads the agents; a second up changes nothing; an agent restarted under
a request loop fails no request and resets no BGP session; down leaves nothing behind and is
safe to run twice."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.netns, pytest.mark.daemons]

ROOT = Path(__file__).resolve().parents[2]


def _need() -> None:
    from lbcli.lab.seedlab import preflight

    problems = preflight()
    if problems:
        pytest.skip("; ".join(problems))


def cli(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "lbcli", "--color", "never", "lab", *args], capture_output=True,
                       text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if check and p.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def _left(prefix: str, workdir: Path) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left = [ln.split()[0] for ln in out.splitlines() if ln.startswith(prefix + "-")]
    left += [m.split()[1] for m in Path("/proc/self/mounts").read_text().splitlines() if str(workdir) in m]
    left += [str(p) for p in (Path("/etc/frr") / f"{prefix}r", Path("/var/run/frr") / f"{prefix}r") if p.exists()]
    return left + ([str(workdir)] if workdir.exists() else [])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _need()
    prefix = f"lt{secrets.token_hex(3)}"
    workdir = tmp_path_factory.mktemp("lab") / "lab"
    args = ("--dir", str(workdir), "--prefix", prefix)
    try:
        up = cli("up", *args)
        yield prefix, workdir, args, up
    finally:
        cli("down", *args, check=False)


def _commands(up: subprocess.CompletedProcess, prefix: str) -> tuple[list[str], list[str]]:
    lines = [ln.strip() for ln in up.stdout.splitlines()]
    curl = next(shlex.split(ln) for ln in lines if ln.startswith(f"ip netns exec {prefix}-client curl"))
    status = next(shlex.split(ln) for ln in lines if ln.startswith(f"ip netns exec {prefix}-client cilium-lb lb status"))
    return curl, status


def test_up_prints_a_curl_that_reaches_the_vip_and_an_lb_status_that_reads_the_agents(lab):
    prefix, workdir, args, up = lab
    curl, status = _commands(up, prefix)
    p = subprocess.run(curl, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.startswith("hello from be-"), p.stderr
    # the printed `cilium-lb` is this checkout's CLI here
    i = status.index("cilium-lb")
    argv = status[:i] + ["env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "lbcli"] + status[i + 1:] + ["-o", "json"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["summary"]["observed"] is True
    svc = next(s for s in doc["services"] if s["name"] == "https-proxy")
    assert svc["bgpPeers"]["actual"] == 1 and svc["hcT2Backends"]["actual"] == 2, svc
    st = json.loads(cli("status", *args, "-o", "json").stdout)
    assert st["state"] == "up" and len(st["vipNextHops"]) == 2
    assert {p["name"] for p in st["processes"] if p["running"]} >= {"router", "be-a", "lb-t1-1 bird", "lb-t2-2 haproxy"}


def test_a_second_up_changes_nothing(lab):
    prefix, workdir, args, _ = lab
    before = json.loads(cli("status", *args, "-o", "json").stdout)["processes"]
    again = cli("up", *args)
    assert "agent lb-" not in again.stderr and "namespaces" not in again.stderr  # nothing started
    assert json.loads(cli("status", *args, "-o", "json").stdout)["processes"] == before


def test_an_agent_restarted_under_load_fails_no_request_and_keeps_bgp(lab):
    from lbcli.lab.frr import FrrRouter
    from lbcli.lab.seedlab import SeedLab

    prefix, workdir, args, _ = lab
    sl = SeedLab(workdir, prefix)
    router: FrrRouter = sl.router()
    established = {a: n["connectionsEstablished"] for a, n in router.bgp_neighbors().items()}
    loop = sl.request_loop(300.0)  # ended below, once the new agent has adopted what runs
    time.sleep(2)
    pid = sl.agent_pid("lb-t1-1")
    log = workdir / "logs" / "lb-t1-1.log"
    mark = len(log.read_text().splitlines())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while sl.agent_pid("lb-t1-1") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    cli("up", *args)  # starts the missing agent
    deadline = time.monotonic() + 180
    while not ((sl.agent_status("lb-t1-1") or {}).get("lastRun")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sl.agent_status("lb-t1-1")["lastRun"]["trigger"] == "start"
    time.sleep(1)
    loop.terminate()
    out, err = loop.communicate(timeout=60)
    summary = json.loads(out)
    assert summary["ok"] > 0 and summary["failed"] == 0, summary
    assert {a: n["connectionsEstablished"] for a, n in router.bgp_neighbors().items()} == established
    after = [json.loads(ln) for ln in log.read_text().splitlines()[mark:] if ln.startswith("{")]
    assert [r["event"] for r in after if r["event"] in ("stop", "start")] == ["stop", "start"]
    assert not [r for r in after if r["event"] == "change"], after  # adopted: nothing changed


def test_down_leaves_nothing_and_is_safe_twice(lab):
    prefix, workdir, args, _ = lab
    first = cli("down", *args)
    assert re.search(rf"namespace {prefix}-lb-t1-1", first.stdout)
    assert _left(prefix, workdir) == []
    second = cli("down", *args)
    assert "nothing to remove" in second.stdout
    st = cli("status", *args, "-o", "json", check=False)
    assert st.returncode == 1 and json.loads(st.stdout)["state"] == "down"
