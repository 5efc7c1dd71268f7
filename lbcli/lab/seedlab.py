"""`cilium-lb lab`: the seed lab (rebel-base) on one machine, left running for a person to try.

    up      namespaces `<prefix>-*` (router, client, 2 T1 + 2 T2 nodes, 2 backends, the segment),
            an FRR router (BGP + BFD to the T1 nodes), two HTTP backends, and `cilium-lb agent`
            in every node's namespace, serving its status on <node ip>:9965. Idempotent: what
            runs is kept, what is missing is started; a half-built lab is removed and rebuilt.
    status  what runs: per namespace its processes (agent, BIRD, HAProxy, backend, FRR) and the
            router's next hops for the VIP
    down    kills every process in the lab's namespaces, deletes them, stops the FRR instance,
            unmounts the lab's bpffs and removes the files it made; safe to run again

Everything lives in one directory (default /var/lib/cilium-lb-lab): the manifests (a copy of
examples/rebel-base with the backends on the lab segment), each node's state directory, the
bpffs the agents pin maps in, logs, pid files and `lab.json`. Processes are started detached
(their own session), so `up` returns and they keep running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .rebel import BACKEND, BACKENDS, HOST, T1, T2, TOPOLOGY, USER, VIP, RebelLab
from .testbed import CLIENT, ROUTER, SEGMENT, Lab, cleanup, namespaces

PREFIX = "cilblab"
DEFAULT_DIR = Path("/var/lib/cilium-lb-lab")
AGENT_PORT = 9965
NODES = T1 + T2
FRR_LIB = Path("/usr/lib/frr")
# what `up` runs, by name: a missing one is refused before anything is touched
TOOLS = ("ip", "tc", "mount", "haproxy", "bird", "clang", "vtysh", "curl")
FRR_DAEMONS = ("zebra", "bgpd", "bfdd")
MADE = ("manifests", "state", "logs", "run", "ca.pem", "netrc", "lab.json")  # removed by down


# A request loop run in the client namespace: one new TLS connection per request to the VIP for
# `seconds`; prints {"ok", "failed", "errors", "longestGapSeconds"} (the longest time between two
# successful answers) as JSON; SIGTERM ends it early (the summary is still printed).
# argv: seconds ca-file host vip user password
REQUEST_LOOP = r"""
import base64, http.client, json, signal, socket, ssl, sys, time
seconds, ca, host, vip, user, pw = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
ctx = ssl.create_default_context(cafile=ca)
auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
ok = failed = 0; errors = {}; last = time.monotonic(); gap = 0.0
end = time.monotonic() + seconds
while time.monotonic() < end and not stop:
    try:
        raw = socket.create_connection((vip, 443), timeout=2)
        c = http.client.HTTPSConnection(host, 443, context=ctx, timeout=2)
        c.sock = ctx.wrap_socket(raw, server_hostname=host)
        c.request("GET", "/", headers={"Authorization": auth, "Host": host})
        r = c.getresponse(); body = r.read(); c.close()
        if r.status != 200 or not body.startswith(b"hello from be-"):
            raise OSError(f"HTTP {r.status}")
        ok += 1; now = time.monotonic(); gap = max(gap, now - last); last = now
    except Exception as e:
        failed += 1; k = type(e).__name__ + ": " + str(e)[:80]; errors[k] = errors.get(k, 0) + 1
    time.sleep(0.01)
gap = max(gap, time.monotonic() - last)
print(json.dumps({"ok": ok, "failed": failed, "errors": errors, "longestGapSeconds": round(gap, 3)}))
"""


class LabRefused(Exception):
    """The lab cannot be handled here (not root, a tool missing, no manifests): say why, exit 2."""


def examples_dir() -> Path | None:
    """examples/rebel-base beside the package (a source checkout or an editable install)."""
    here = Path(__file__).resolve().parents[2] / "examples" / "rebel-base"
    return here if (here / "nodes.yaml").is_file() else None


def preflight(which: Callable[[str], str | None] = shutil.which, euid: int | None = None) -> list[str]:
    """Why the lab cannot be built here (empty: it can)."""
    problems = []
    if (os.geteuid() if euid is None else euid) != 0:
        problems.append("must run as root (network namespaces, bpffs, BPF programs, daemons)")
    missing = [t for t in TOOLS if which(t) is None]
    missing += [f"{FRR_LIB}/{d}" for d in FRR_DAEMONS if not (FRR_LIB / d).exists()]
    if missing:
        problems.append("missing: " + ", ".join(missing) + " (install them with `bash scripts/setup.sh`)")
    return problems


@dataclass
class Proc:
    name: str
    namespace: str
    pid: int | None
    running: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "namespace": self.namespace, "pid": self.pid, "running": self.running,
                "detail": self.detail}


@dataclass
class Status:
    prefix: str
    dir: str
    namespaces: list[str]
    processes: list[Proc] = field(default_factory=list)
    vip_next_hops: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        if not self.namespaces:
            return "down"
        if len(self.namespaces) == len(expected_namespaces(self.prefix)) and all(p.running for p in self.processes) \
                and len(self.vip_next_hops) == len(T1):
            return "up"
        return "degraded"

    def to_dict(self) -> dict:
        return {"prefix": self.prefix, "dir": self.dir, "state": self.state, "namespaces": self.namespaces,
                "processes": [p.to_dict() for p in self.processes], "vip": VIP,
                "vipNextHops": self.vip_next_hops}


def expected_namespaces(prefix: str) -> list[str]:
    names = [SEGMENT, CLIENT, ROUTER, *NODES, *BACKENDS]
    return sorted(f"{prefix}-{n}" for n in names)


class SeedLab:
    def __init__(self, directory: Path = DEFAULT_DIR, prefix: str = PREFIX, examples: Path | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.dir = Path(directory).absolute()
        self.prefix = prefix
        self.examples = examples
        self.progress = progress or (lambda msg: None)
        self.lab = Lab(TOPOLOGY, prefix=prefix, workdir=self.dir)
        self.rebel = RebelLab(examples or Path("/nonexistent"), self.dir)
        self.rebel.lab = self.lab

    # -- names ------------------------------------------------------------------------------
    @property
    def bpf_root(self) -> Path:
        return self.lab.bpf_root

    def _pidfile(self, name: str) -> Path:
        return self.dir / "run" / f"{name}.pid"

    def router(self):
        from .frr import FrrBfdProfile, FrrConfig, FrrNeighbor, FrrRouter
        from .rebel import ASN

        return FrrRouter(f"{self.prefix}r", self.lab.ns(ROUTER), FrrConfig(
            asn=ASN, router_id=TOPOLOGY.router_ip, bfd_profile=FrrBfdProfile(), connect_retry=1,
            neighbors=tuple(FrrNeighbor(TOPOLOGY.node(n).ip, ASN, bfd=True, description=n) for n in T1)))

    def agent_addresses(self) -> list[str]:
        return [f"{TOPOLOGY.node(n).ip}:{AGENT_PORT}" for n in NODES]

    def instructions(self) -> list[str]:
        client = self.lab.ns(CLIENT)
        agents = " ".join(f"--agent {a}" for a in self.agent_addresses())
        return [
            f"Reach the VIP from the client namespace (basic auth from {self.dir / 'netrc'}):",
            f"  ip netns exec {client} curl --cacert {self.dir / 'ca.pem'} --netrc-file {self.dir / 'netrc'} "
            f"--resolve {HOST}:443:{VIP} https://{HOST}/",
            "Service table, live from the four agents:",
            f"  ip netns exec {client} cilium-lb lb status {agents}",
            "Logs: " + str(self.dir / "logs") + "/<node>.log    Stop: cilium-lb lab down" + self._where(),
        ]

    def _where(self) -> str:
        out = "" if self.dir == DEFAULT_DIR else f" --dir {self.dir}"
        return out + ("" if self.prefix == PREFIX else f" --prefix {self.prefix}")

    # -- up -----------------------------------------------------------------------------------
    def up(self, timeout: float = 180.0) -> bool:
        """Build (or complete) the lab; True when the VIP answers the client through BGP."""
        problems = preflight()
        if problems:
            raise LabRefused("; ".join(problems))
        if self.examples is None or not (self.examples / "nodes.yaml").is_file():
            raise LabRefused(f"no seed manifests at {self.examples}: give --manifests DIR (examples/rebel-base)")
        have = namespaces(self.prefix)
        if have and (have != expected_namespaces(self.prefix) or not (self.dir / "lab.json").exists()):
            self.progress(f"an incomplete lab with prefix {self.prefix} is there: removing it first")
            self.down()
            have = []
        if not have:
            self.progress("namespaces, links and addresses")
            self.down()  # files a killed `up` may have left
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o755)
            self.rebel.prepare()
            (self.dir / "netrc").write_text(f"machine {HOST} login {USER} password {_password()}\n")
            os.chmod(self.dir / "netrc", 0o600)
            self.lab.create()
            (self.dir / "lab.json").write_text(json.dumps({"prefix": self.prefix, "vip": VIP}) + "\n")
        if not _is_bpffs(self.bpf_root):
            self.bpf_root.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "-t", "bpf", "bpf", str(self.bpf_root)], check=True, capture_output=True)
        router = self.router()
        if not router.running():
            self.progress("FRR router")
            router.start()
        for name in BACKENDS:
            self._spawn(f"backend-{name}", name, [sys.executable, "-c", BACKEND, name])
        for node in T2 + T1:
            self._spawn(f"agent-{node}", node, [
                sys.executable, "-m", "lbcli", "agent", str(self.rebel.manifests), "--node", node,
                "--state-dir", str(self.lab.state_dir(node)), "--bpf-root", str(self.bpf_root),
                "--log-format", "json", "--listen", f"{TOPOLOGY.node(node).ip}:{AGENT_PORT}"])
        self.progress("waiting for the agents to converge and the router to learn the VIP")
        return self.wait_serving(timeout)

    def wait_serving(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        router = self.router()
        while time.monotonic() < deadline:
            try:
                hops = router.kernel_nexthops(f"{VIP}/32")
            except Exception:
                hops = []
            if len(hops) == len(T1) and self.curl().returncode == 0:
                return True
            time.sleep(0.5)
        return False

    def curl(self) -> subprocess.CompletedProcess:
        return self.lab.run_in(CLIENT, ["curl", "-sS", "--max-time", "3", "--cacert", str(self.dir / "ca.pem"),
                                        "--netrc-file", str(self.dir / "netrc"), "--resolve", f"{HOST}:443:{VIP}",
                                        f"https://{HOST}/"], check=False)

    def request_loop(self, seconds: float) -> subprocess.Popen:
        """REQUEST_LOOP in the client namespace (stdout: its JSON summary)."""
        from .rebel import PASSWORD

        return subprocess.Popen(["ip", "netns", "exec", self.lab.ns(CLIENT), sys.executable, "-c", REQUEST_LOOP,
                                 str(seconds), str(self.dir / "ca.pem"), HOST, VIP, USER, PASSWORD],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def agent_pid(self, node: str) -> int | None:
        return self._alive(f"agent-{node}", node)

    def agent_status(self, node: str) -> dict | None:
        """The agent's /status, asked from the client namespace (None: no answer)."""
        p = self.lab.run_in(CLIENT, ["curl", "-sf", "--max-time", "2",
                                     f"http://{TOPOLOGY.node(node).ip}:{AGENT_PORT}/status"], check=False)
        return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None

    def _spawn(self, name: str, node: str, argv: list[str]) -> None:
        """Start `argv` detached in the node's namespace unless it runs already."""
        if self._alive(name, node) is not None:
            return
        self.progress(name.replace("-", " ", 1))
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.dir / "run").mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        pkg_parent = str(Path(__file__).resolve().parents[2])  # run the same lbcli as this CLI
        env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        with open(self.dir / "logs" / f"{node}.log", "ab") as log:
            p = subprocess.Popen(["ip", "netns", "exec", self.lab.ns(node), *argv], stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                 cwd="/")
        self._pidfile(name).write_text(f"{p.pid}\n")

    def _alive(self, name: str, node: str) -> int | None:
        """The pid of `name` if it runs: its pid file names a live process in the node's
        namespace (a reused pid elsewhere does not count)."""
        try:
            pid = int(self._pidfile(name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        from ..agent.host import proc

        try:
            same = os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{self.lab.ns(node)}").st_ino
        except OSError:
            return None
        return pid if same and proc.alive(pid) else None

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> Status:
        st = Status(self.prefix, str(self.dir), namespaces(self.prefix))
        if not st.namespaces:
            return st
        from ..agent.bgp import daemon as bird
        from ..agent.l7.process import HAProxyPaths, HAProxyProcess

        router = self.router()
        pids = router.pids()
        st.processes.append(Proc("router", self.lab.ns(ROUTER), pids.get("bgpd"), router.running(),
                                 "FRR " + ", ".join(sorted(pids)) if pids else "FRR not running"))
        for name in BACKENDS:
            pid = self._alive(f"backend-{name}", name)
            st.processes.append(Proc(name, self.lab.ns(name), pid, pid is not None, "HTTP backend :8080"))
        for node in NODES:
            pid = self._alive(f"agent-{node}", node)
            st.processes.append(Proc(node, self.lab.ns(node), pid, pid is not None,
                                     f"agent, listening {TOPOLOGY.node(node).ip}:{AGENT_PORT}"))
            state = self.lab.state_dir(node)
            if node in T1:
                b = bird.read_pid(bird.BirdPaths.for_node(state, node))
                st.processes.append(Proc(f"{node} bird", self.lab.ns(node), b, b is not None, "BIRD"))
            else:
                h = HAProxyProcess(HAProxyPaths.for_node(state, node)).master_pid()
                st.processes.append(Proc(f"{node} haproxy", self.lab.ns(node), h, h is not None, "HAProxy master"))
        try:
            st.vip_next_hops = router.kernel_nexthops(f"{VIP}/32")
        except Exception:
            st.vip_next_hops = []
        return st

    # -- down -----------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Remove everything the lab made; returns what was removed (empty: nothing was there)."""
        removed = []
        for node in NODES:  # agents first: they would repair what is being removed
            pid = self._alive(f"agent-{node}", node)
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        removed += [f"namespace {ns}" for ns in cleanup(self.prefix)]
        router = self.router()
        if router.etc.exists() or router.run.exists():
            router.stop()
            removed.append(f"FRR instance {router.name}")
        if _is_bpffs(self.bpf_root):
            subprocess.run(["umount", "-l", str(self.bpf_root)], capture_output=True)
            removed.append(f"bpffs {self.bpf_root}")
        for name in MADE + ("bpf",):
            p = self.dir / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(str(p))
            elif p.exists() or p.is_symlink():
                p.unlink()
                removed.append(str(p))
        try:
            self.dir.rmdir()  # only when empty: a directory the user shares is left alone
        except OSError:
            pass
        return removed


def _is_bpffs(path: Path) -> bool:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(len(f) > 2 and f[1] == str(path) and f[2] == "bpf" for f in (m.split() for m in mounts))


def _password() -> str:
    from .rebel import PASSWORD

    return PASSWORD
