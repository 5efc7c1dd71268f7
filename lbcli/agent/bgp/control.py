"""A client for BIRD's control socket: the line protocol `birdc` speaks.

Replies are lines `DDDD-text` (more follows), `DDDD text` (last line) or ` text` (continuation
of the previous code). Codes 0xxx are completions, 1xxx table rows, 8xxx/9xxx errors. Talking
to the socket directly gives those codes to act on and costs no process per query. A Unix
socket is reached by path, so this works from any network namespace.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path


class BirdControlError(RuntimeError):
    """The control socket is unreachable or BIRD answered with an error code."""


@dataclass(frozen=True)
class Reply:
    code: int  # code of the final line
    lines: tuple[tuple[int, str], ...]  # (code, text) for every line, continuations included

    @property
    def ok(self) -> bool:
        return self.code < 8000

    def text(self, code: int | None = None) -> list[str]:
        return [t for c, t in self.lines if code is None or c == code]


class BirdControl:
    def __init__(self, path: Path | str, timeout: float = 10.0) -> None:
        self.path = str(path)
        self.timeout = timeout

    def command(self, cmd: str) -> Reply:
        """Send one command on a fresh connection and read its whole reply."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(self.path)
                f = s.makefile("rwb")
                hello = _read_reply(f)  # "0001 BIRD x.y.z ready."
                if not hello.ok:
                    raise BirdControlError(f"BIRD refused the connection: {' '.join(hello.text())}")
                f.write(cmd.encode() + b"\n")
                f.flush()
                return _read_reply(f)
        except (OSError, socket.timeout) as e:
            raise BirdControlError(f"BIRD control socket {self.path}: {e.strerror or e}") from None

    def check(self, cmd: str) -> Reply:
        reply = self.command(cmd)
        if not reply.ok:
            raise BirdControlError(f"birdc {cmd!r}: {' '.join(reply.text()).strip()}")
        return reply


def _read_reply(f) -> Reply:
    lines: list[tuple[int, str]] = []
    code = 0
    while True:
        raw = f.readline()
        if not raw:
            raise BirdControlError("BIRD closed the control connection mid-reply")
        line = raw.decode(errors="replace").rstrip("\n")
        if line.startswith(" "):  # continuation of the previous code
            lines.append((code, line[1:]))
            continue
        if len(line) < 5 or not line[:4].isdigit():
            raise BirdControlError(f"unexpected line from BIRD: {line[:80]!r}")
        code = int(line[:4])
        lines.append((code, line[5:]))
        if line[4] == " ":
            return Reply(code, tuple(lines))
