"""HAProxy runtime API (stats socket) and master CLI clients, with typed parses of
`show stat`, `show servers state` and `show proc`."""

from __future__ import annotations

import csv
import io
import re
import socket
from dataclasses import dataclass
from pathlib import Path

# srv_admin_state bits set by an operator through the CLI (not by DNS or tracking)
ADMIN_FORCED_MAINT = 0x01
ADMIN_FORCED_DRAIN = 0x08

_BACKEND_RE = re.compile(r"^bk_([^_]+)_(.+)\.([^._]+)_([^_]+)$")


class RuntimeError_(Exception):
    """The runtime API refused a command or could not be reached."""


def send_command(sock_path: str | Path, command: str, timeout: float = 5.0) -> str:
    """One command on a fresh connection (non-interactive mode); returns the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(sock_path))
            s.sendall(command.encode() + b"\n")
            s.shutdown(socket.SHUT_WR)  # the master CLI answers once it sees the end of input
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except OSError as e:
            raise RuntimeError_(f"{sock_path}: {e}") from e
    return b"".join(chunks).decode("utf-8", "replace")


def split_backend(name: str) -> tuple[str, str] | None:
    """("ns/service", "ns/pool") of a backend named by the renderer, else None."""
    m = _BACKEND_RE.match(name)
    return (f"{m.group(1)}/{m.group(2)}", f"{m.group(3)}/{m.group(4)}") if m else None


@dataclass(frozen=True)
class ServerStat:
    backend: str
    server: str
    address: str
    status: str  # UP, DOWN, DRAIN, MAINT, "no check", "UP 1/3", ...
    weight: int
    check_status: str  # L7OK, L4CON, ... ("" without checks)
    check_code: str
    current_sessions: int
    total_sessions: int
    check_failures: int
    downtime_seconds: int

    @property
    def healthy(self) -> bool:
        # "no check" counts as healthy: the pool asked for no health checking
        return self.status.startswith("UP") or self.status == "no check"

    @property
    def service(self) -> str | None:
        sp = split_backend(self.backend)
        return sp[0] if sp else None

    @property
    def pool(self) -> str | None:
        sp = split_backend(self.backend)
        return sp[1] if sp else None


@dataclass(frozen=True)
class ServerState:
    backend: str
    server: str
    address: str
    port: int
    op_state: int  # 0 stopped, 1 starting, 2 running, 3 stopping
    admin_state: int  # bit field, see ADMIN_*
    user_weight: int
    initial_weight: int


def _int(v: str | None) -> int:
    try:
        return int(v or 0)
    except ValueError:
        return 0


def parse_show_stat(text: str) -> list[ServerStat]:
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise RuntimeError_("unexpected `show stat` answer")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:]] + lines[1:])))
    out = []
    for row in reader:
        if row.get("svname") in ("FRONTEND", "BACKEND") or row.get("type") not in ("2", None):
            continue
        out.append(
            ServerStat(
                backend=row["pxname"],
                server=row["svname"],
                address=row.get("addr") or "",
                status=row.get("status") or "",
                weight=_int(row.get("weight")),
                check_status=(row.get("check_status") or "").lstrip("* "),
                check_code=row.get("check_code") or "",
                current_sessions=_int(row.get("scur")),
                total_sessions=_int(row.get("stot")),
                check_failures=_int(row.get("chkfail")),
                downtime_seconds=_int(row.get("downtime")),
            )
        )
    return sorted(out, key=lambda s: (s.backend, s.server))


@dataclass(frozen=True)
class ProxyStat:
    """One row of `show stat` (HAProxy's CSV, management guide section 9.1): a frontend, a
    backend or a server of the running process."""

    proxy: str  # pxname
    name: str  # svname: FRONTEND, BACKEND or the server's name
    kind: str  # frontend | backend | server | listener
    status: str  # OPEN / PAUSED / STOP for frontends; UP / DOWN / MAINT ... for the others


_STAT_TYPES = {"0": "frontend", "1": "backend", "2": "server", "3": "listener"}


def parse_stat_rows(text: str) -> list[ProxyStat]:
    """Every proxy and server `show stat` lists, by the CSV's `type` column."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise RuntimeError_("unexpected `show stat` answer")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:]] + lines[1:])))
    out = [ProxyStat(row.get("pxname") or "", row.get("svname") or "", _STAT_TYPES.get(row.get("type") or "", "?"),
                     row.get("status") or "") for row in reader]
    return sorted(out, key=lambda r: (r.kind, r.proxy, r.name))


def parse_servers_state(text: str) -> list[ServerState]:
    lines = [l for l in text.splitlines() if l.strip()]
    header = next((l for l in lines if l.startswith("# be_id")), None)
    if header is None:
        raise RuntimeError_("unexpected `show servers state` answer")
    cols = header[2:].split()
    out = []
    for line in lines:
        if line.startswith("#") or line.strip().isdigit():
            continue
        row = dict(zip(cols, line.split()))
        if "srv_name" not in row:
            continue
        out.append(
            ServerState(
                backend=row["be_name"],
                server=row["srv_name"],
                address=row.get("srv_addr", ""),
                port=_int(row.get("srv_port")),
                op_state=_int(row.get("srv_op_state")),
                admin_state=_int(row.get("srv_admin_state")),
                user_weight=_int(row.get("srv_uweight")),
                initial_weight=_int(row.get("srv_iweight")),
            )
        )
    return sorted(out, key=lambda s: (s.backend, s.server))


@dataclass(frozen=True)
class ProcEntry:
    pid: int
    kind: str  # master | worker
    reloads: int
    old: bool  # an old worker finishing its connections after a reload


def parse_show_proc(text: str) -> list[ProcEntry]:
    out: list[ProcEntry] = []
    old = False
    for line in text.splitlines():
        if line.startswith("# old workers"):
            old = True
            continue
        if line.startswith("#") or not line.strip():
            if line.startswith("# workers"):
                old = False
            continue
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit():
            out.append(ProcEntry(pid=int(parts[0]), kind=parts[1], reloads=_int(parts[2]), old=old))
    return out


class RuntimeClient:
    """The stats socket of the current worker (admin level)."""

    def __init__(self, sock_path: str | Path, timeout: float = 5.0):
        self.sock_path = Path(sock_path)
        self.timeout = timeout

    def command(self, command: str) -> str:
        return send_command(self.sock_path, command, self.timeout)

    def _checked(self, command: str) -> None:
        answer = self.command(command).strip()
        # success is an empty answer (or an informative one); errors name themselves
        if answer and re.search(r"(?i)\b(no such|unknown|invalid|require|error|not found|cannot)\b", answer):
            raise RuntimeError_(f"`{command}`: {answer}")

    def show_stat(self) -> list[ServerStat]:
        return parse_show_stat(self.command("show stat"))

    def show_servers_state(self) -> list[ServerState]:
        return parse_servers_state(self.command("show servers state"))

    def show_stat_rows(self) -> list[ProxyStat]:
        return parse_stat_rows(self.command("show stat"))

    def enable_frontend(self, frontend: str) -> None:
        self._checked(f"enable frontend {frontend}")

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        self._checked(f"set server {backend}/{server} weight {weight}")

    def set_state(self, backend: str, server: str, state: str) -> None:
        if state not in ("ready", "drain", "maint"):
            raise ValueError(state)
        self._checked(f"set server {backend}/{server} state {state}")

    def set_addr(self, backend: str, server: str, address: str, port: int) -> None:
        self._checked(f"set server {backend}/{server} addr {address} port {port}")


class MasterClient:
    """The master CLI (`-S`): process list and seamless reloads."""

    def __init__(self, sock_path: str | Path, timeout: float = 5.0):
        self.sock_path = Path(sock_path)
        self.timeout = timeout

    def show_proc(self) -> list[ProcEntry]:
        return parse_show_proc(send_command(self.sock_path, "show proc", self.timeout))

    def reload(self) -> None:
        try:
            send_command(self.sock_path, "reload", self.timeout)
        except RuntimeError_:
            pass  # the master re-executes itself and may drop the connection while doing so
