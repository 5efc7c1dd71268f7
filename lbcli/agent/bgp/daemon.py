"""Files and process of one node's BIRD: config, control socket, pid file, log.

Everything lives under `<state_dir>/<node>/bird/`, so several nodes run BIRD on one machine,
each started inside its own network namespace (the one the agent runs in). A config change is
a `configure` on the control socket, never a restart: sessions stay up.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lbcli.agent.bgp.control import BirdControl, BirdControlError
from lbcli.agent.host import proc

BIRD_CANDIDATES = ("/usr/sbin/bird", "/usr/local/sbin/bird", "/usr/bin/bird")


class BirdError(RuntimeError):
    """A BIRD operation failed; the message is meant for the operator (no secrets)."""


@dataclass(frozen=True)
class BirdPaths:
    dir: Path

    @classmethod
    def for_node(cls, state_dir: Path, node: str) -> "BirdPaths":
        return cls(Path(state_dir) / node / "bird")

    @property
    def conf(self) -> Path:
        return self.dir / "bird.conf"

    @property
    def ctl(self) -> Path:
        return self.dir / "bird.ctl"

    @property
    def pid(self) -> Path:
        return self.dir / "bird.pid"

    @property
    def log(self) -> Path:
        return self.dir / "bird.log"

    @property
    def applied(self) -> Path:
        """Secret-free summary of the applied model, for diff details."""
        return self.dir / "applied.json"


def find_bird() -> str | None:
    found = shutil.which("bird")
    if found:
        return found
    return next((c for c in BIRD_CANDIDATES if os.access(c, os.X_OK)), None)


def missing_bird_message() -> str:
    return "bird not found: install BIRD 2 (Debian/Ubuntu: apt-get install bird2)"


def redact(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def write_private(path: Path, data: str) -> None:
    """Write durably with mode 0600 (bird.conf may hold MD5 passwords)."""
    from lbcli.agent.state import write_bytes

    write_bytes(path, data.encode(), 0o600)


def check_config(bird: str, text: str, paths: BirdPaths, secrets: list[str],
                 scratch: Path | None = None) -> str | None:
    """`bird -p` on the candidate text; returns the parse error (redacted) or None. The text is
    written to `scratch` when given (a dry run: the node's directory is not created)."""
    where = scratch
    if where is None:
        paths.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        where = paths.dir
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".check.", suffix=".conf")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        p = subprocess.run([bird, "-p", "-c", tmp], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            msg = (p.stderr or p.stdout).strip().replace(tmp, "bird.conf")
            return redact(msg or f"bird -p exited {p.returncode}", secrets)
        return None
    finally:
        os.unlink(tmp)


def read_pid(paths: BirdPaths) -> int | None:
    """The pid of this node's BIRD if it is alive (and really is BIRD with our socket). When the
    pid file is missing, unreadable or names a process that is not ours (lost, truncated), the
    process table is searched for a BIRD started with this node's control socket, so it is
    never started twice."""
    try:
        pid = int(paths.pid.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid = None
    if pid is not None and _is_ours(pid, paths):
        return pid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_ours(int(entry.name), paths):
            return int(entry.name)
    return None


def _is_ours(pid: int, paths: BirdPaths) -> bool:
    cmdline = proc.cmdline(pid)
    if not cmdline or not os.path.basename(cmdline[0].decode(errors="replace")).startswith("bird"):
        return False  # pid reused by something else
    return str(paths.ctl).encode() in cmdline and not proc.is_zombie(pid)


def start(bird: str, paths: BirdPaths, timeout: float = 10.0) -> int:
    """Start BIRD in the caller's network namespace; returns its pid once the socket answers."""
    for stale in (paths.ctl, paths.pid):
        stale.unlink(missing_ok=True)
    p = subprocess.run([bird, "-c", str(paths.conf), "-s", str(paths.ctl), "-P", str(paths.pid)],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BirdError(f"bird failed to start: {(p.stderr or p.stdout).strip() or p.returncode}")
    deadline = time.monotonic() + timeout
    ctl = BirdControl(paths.ctl, timeout=2.0)
    while True:
        pid = read_pid(paths)
        if pid is not None:
            try:
                ctl.check("show status")
                return pid
            except BirdControlError:
                pass
        if time.monotonic() > deadline:
            raise BirdError(f"bird started but its control socket {paths.ctl} did not answer "
                            f"within {timeout:g}s")
        time.sleep(0.02)


def configure(paths: BirdPaths) -> str:
    """Reload the config file into the running BIRD (sessions whose options are unchanged stay
    up); returns BIRD's completion text."""
    try:
        reply = BirdControl(paths.ctl, timeout=30.0).command("configure")
    except BirdControlError as e:
        raise BirdError(str(e)) from None
    text = " ".join(t.strip() for t in reply.text() if t.strip())
    if not reply.ok:
        raise BirdError(f"bird rejected the new configuration: {text}")
    return text


def stop(paths: BirdPaths, timeout: float = 5.0) -> bool:
    """Stop this node's BIRD: `down` (peers get a Cease and withdraw at once), then SIGTERM,
    then SIGKILL. Returns whether a daemon was running."""
    pid = read_pid(paths)
    if pid is None:
        return False
    try:
        BirdControl(paths.ctl, timeout=2.0).command("down")
    except BirdControlError:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive(pid):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def remove_files(paths: BirdPaths) -> None:
    shutil.rmtree(paths.dir, ignore_errors=True)
