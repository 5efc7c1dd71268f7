"""One HAProxy master-worker per node: where its files live, start, check, seamless reload
(master CLI `reload` + `expose-fd listeners`), stop. It runs in the caller's network namespace."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lbcli.agent.host import proc
from lbcli.agent.l7.runtime import MasterClient, RuntimeClient, RuntimeError_


class HAProxyError(Exception):
    pass


@dataclass(frozen=True)
class HAProxyPaths:
    dir: Path

    @classmethod
    def for_node(cls, state_dir: Path, node: str) -> "HAProxyPaths":
        # absolute: the daemon does not run in our working directory
        return cls(Path(state_dir).absolute() / node / "haproxy")

    @property
    def config(self) -> Path:
        return self.dir / "haproxy.cfg"

    @property
    def users(self) -> Path:
        return self.dir / "users.cfg"

    @property
    def files(self) -> Path:
        return self.dir / "files"

    @property
    def staging(self) -> Path:
        return self.dir / "staging"

    @property
    def pidfile(self) -> Path:
        return self.dir / "haproxy.pid"

    @property
    def master_sock(self) -> Path:
        return self.dir / "master.sock"

    @property
    def stats_sock(self) -> Path:
        return self.dir / "stats.sock"

    @property
    def log(self) -> Path:
        return self.dir / "haproxy.log"


def check_config(binary: str, config: Path, users: Path) -> str | None:
    """`haproxy -c`: None when valid, else HAProxy's alerts (configs hold no secrets)."""
    proc = subprocess.run(
        [binary, "-c", "-q", "-f", str(config), "-f", str(users)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode == 0:
        return None
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if "ALERT" in l or "error" in l.lower()]
    return "\n".join(lines[-10:]) or f"haproxy -c exited {proc.returncode}"


class HAProxyProcess:
    def __init__(self, paths: HAProxyPaths, binary: str = "haproxy"):
        self.paths = paths
        self.binary = binary
        self.master = MasterClient(paths.master_sock)
        self.runtime = RuntimeClient(paths.stats_sock)

    def master_pid(self) -> int | None:
        """The live master's pid, only if it is ours (guards against pid reuse). The pid file
        is a hint: when it is missing, unreadable, or names a process that is not ours (lost,
        truncated), the process table is searched for the master started with this node's
        config file, so a second master is never started."""
        try:
            pid = int(self.paths.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is not None and self._ours(pid):  # also while it re-executes for a reload
            return pid
        found = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and self._is_master(int(e.name))]
        return min(found) if found else None

    def _owns(self, pid: int) -> bool:
        cmdline = proc.cmdline(pid)
        return any(b"haproxy" in a for a in cmdline[:1]) and str(self.paths.config).encode() in cmdline

    def _ours(self, pid: int) -> bool:
        """Ours, or a haproxy binary between exec and argv (a master re-executing)."""
        if self._owns(pid):
            return True
        if proc.cmdline(pid) not in ([], [b""]):
            return False
        try:
            return os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("haproxy")
        except OSError:
            return False

    def _is_master(self, pid: int) -> bool:
        # workers share the master's command line: the master is the one whose parent is not ours
        return self._owns(pid) and not proc.is_zombie(pid) and not self._ours(proc.ppid(pid) or 0)

    def running(self) -> bool:
        return self.master_pid() is not None

    def _workers(self) -> list[int]:
        return [p.pid for p in self.master.show_proc() if p.kind == "worker" and not p.old]

    def _wait_ready(self, timeout: float, old_workers: set[int]) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        # the pid, not master_pid(): while the master re-executes, its cmdline is briefly empty
        pid = self.master_pid()
        while time.monotonic() < deadline:
            try:
                workers = set(self._workers())
                if workers and not workers & old_workers:
                    self.runtime.command("show info")
                    return
            except RuntimeError_ as e:
                last = str(e)
            if pid is None:
                pid = self.master_pid()
            elif not proc.alive(pid):
                break
            time.sleep(0.05)
        raise HAProxyError(f"HAProxy did not come up ({last or 'no new worker'}); see {self.paths.log}")

    def start(self, timeout: float = 15.0) -> int:
        self.paths.dir.mkdir(parents=True, exist_ok=True)
        for stale in (self.paths.master_sock, self.paths.stats_sock):
            stale.unlink(missing_ok=True)
        cmd = [
            self.binary, "-W", "-D",
            "-S", f"{self.paths.master_sock},mode,600",
            "-p", str(self.paths.pidfile),
            "-f", str(self.paths.config), "-f", str(self.paths.users),
        ]  # fmt: skip
        with open(self.paths.log, "ab") as log:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=timeout)
        if proc.returncode != 0:
            raise HAProxyError(f"haproxy exited {proc.returncode}: {self._log_tail()}")
        self._wait_ready(timeout, set())
        pid = self.master_pid()
        if pid is None:
            raise HAProxyError(f"haproxy master not running: {self._log_tail()}")
        return pid

    def reload(self, timeout: float = 15.0) -> None:
        """Seamless: the master re-executes with the files on disk, the new worker takes the
        listening sockets over, old workers finish their connections (hard-stop-after)."""
        old = set(self._workers())
        self.master.reload()
        try:
            self._wait_ready(timeout, old)
        except HAProxyError as e:
            raise HAProxyError(f"reload failed, previous workers keep serving: {e}: {self._log_tail()}") from e

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.master_pid()
        if pid is None:
            return
        # SIGUSR1: soft stop (finish connections); SIGTERM then SIGKILL if it lingers
        for sig, wait in ((signal.SIGUSR1, timeout / 2), (signal.SIGTERM, timeout / 2), (signal.SIGKILL, 2.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not proc.alive(pid):
                    return
                time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            lines = self.paths.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(l for l in lines[-8:] if l.strip())

