"""Processes by pid, read from /proc: alive (zombies count as dead), command line, parent."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def is_zombie(pid: int) -> bool:
    """True also when the process is gone."""
    try:
        return _stat_fields(pid)[0] == "Z"
    except (OSError, IndexError):
        return True


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an unreaped child is dead for our purposes)."""
    try:
        os.kill(pid, 0)
    except OSError as e:
        if e.errno != errno.EPERM:
            return False
    return not is_zombie(pid)


def cmdline(pid: int) -> list[bytes]:
    """argv of `pid` ([] when it is gone; [b""] while it is between exec and argv)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def ppid(pid: int) -> int | None:
    try:
        return int(_stat_fields(pid)[1])
    except (OSError, IndexError, ValueError):
        return None
