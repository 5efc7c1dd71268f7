"""Fixtures for end-to-end tests on network namespaces: a lab (lbcli.lab) with node plans
applied through the real reconcilers (`python -m lbcli.lab.nodecmd` inside each node)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from lbcli.lab import Lab
from lbcli.lab.plans import LabService, node_plans

def pytest_configure(config):
    """A run stopped with SIGTERM (a CI time-out, `kill`) tears its namespaces and daemons down:
    KeyboardInterrupt makes pytest run the fixtures' finalizers at session end."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


VIP, PORT = "100.64.0.101", 80
SERVICE = LabService("default/echo", VIP, PORT)

# A TCP server on a tier-2 node bound to VIP:port: greets with the node name, then echoes lines.
SERVER = r"""
import socket, sys, threading
name = sys.argv[1].encode()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], int(sys.argv[3]))); s.listen(512)
def serve(c):
    with c:
        c.sendall(name + b"\n")
        f = c.makefile("rb")
        for line in f:
            c.sendall(name + b" " + line)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

# Client: one connection per source port, prints {sport: node} as JSON.
CLIENT = r"""
import json, socket, sys
src, vip, port, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
out = {}
for sport in range(first, first + count):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.settimeout(3)
    try:
        s.bind((src, sport)); s.connect((vip, port))
        out[sport] = s.makefile("rb").readline().decode().strip()
    except OSError as exc:
        out[sport] = "error: %s" % exc
    finally:
        s.close()
print(json.dumps(out))
"""


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates network namespaces, links and BPF programs")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (iproute2)")


class LabDriver:
    """A lab plus the helpers the tests share: apply/reset plans, servers, clients."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.plan_dir = lab.workdir / "plans"
        self.plan_dir.mkdir(parents=True, exist_ok=True)
        self.servers_started = False
        self.datapath = "tc"  # tier-1 flavour passed to every nodecmd (--datapath)

    def nodecmd(self, node: str, command: str, plan: dict | None = None, component: str = "datapath,receive",
                check: bool = True) -> dict:
        argv = [sys.executable, "-m", "lbcli.lab.nodecmd", command, "--node", node,
                "--state-dir", str(self.lab.state_dir(node)), "--bpf-root", str(self.lab.bpf_root),
                "--component", component, "--datapath", self.datapath]
        if plan is not None:
            path = self.plan_dir / f"{node}.json"
            path.write_text(json.dumps(plan, sort_keys=True))
            argv += ["--plan", str(path)]
        proc = self.lab.run_in(node, argv, check=False, cwd=str(Path(__file__).parents[2]))
        if check and proc.returncode != 0:
            raise AssertionError(f"{command} on {node} failed: {proc.stdout}\n{proc.stderr}")
        return json.loads(proc.stdout) if proc.stdout.strip() else {"stderr": proc.stderr}

    def apply_all(self, plans: dict[str, dict]) -> dict[str, dict]:
        return {node: self.nodecmd(node, "apply", plan) for node, plan in plans.items()}

    def counters(self, node: str) -> dict:
        return self.nodecmd(node, "counters")

    def start_servers(self, vip: str = VIP, port: int = PORT) -> None:
        for node in self.lab.topology.tier("t2"):
            self.lab.popen(node.name, [sys.executable, "-c", SERVER, node.name, vip, str(port)])
        deadline = time.monotonic() + 10
        for node in self.lab.topology.tier("t2"):
            while time.monotonic() < deadline:
                ss = self.lab.run_in(node.name, ["ss", "-Hltn", f"sport = :{port}"]).stdout
                if vip in ss:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"server on {node.name} did not start")

    def connect_many(self, first_port: int, count: int, vip: str = VIP, port: int = PORT) -> dict[int, str]:
        proc = self.lab.run_in("client", [sys.executable, "-c", CLIENT, self.lab.topology.client_ip, vip,
                                          str(port), str(first_port), str(count)], timeout=120)
        return {int(k): v for k, v in json.loads(proc.stdout).items()}


@pytest.fixture
def lab_driver():
    _require_root()
    with Lab() as lab:
        lab.mount_bpffs()
        yield LabDriver(lab)


@pytest.fixture
def plans(lab_driver):
    return node_plans(lab_driver.lab.topology, [SERVICE])
