"""Writing plans to a directory (`compile -o DIR`). Addresses allocated before come from the
allocation lock beside the manifests (allocations.py), not from the plans written here.

Nothing is written outside DIR, and nothing there is followed:
- every node name is checked again here (the compiler checked it already) and each target is
  DIR/<node>.json, resolved and verified to sit directly in DIR;
- all work goes through one descriptor of DIR, so swapping DIR (or a parent) for a link half
  way does not redirect the writes;
- a plan is written to a fresh temporary file created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW,
  random name), fsynced, renamed over the target, then DIR is fsynced;
- a symbolic link (or anything but a regular file) at a target is refused with a message, not
  replaced: compile never writes links, so one there was put by someone else, and removing it
  silently would hide that (its target is never read or written either way);
- pruning removes only regular files that hold a valid plan of the node their name says — the
  files compile writes — and never follows a link.
Every failure (DIR is a file, read-only, full, a name too long, permissions) is an OutputError
with the path and the reason; the CLI exits 2.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from ..plan.names import node_name_problem, shown
from ..plan.read import PlanError, read_bounded
from ..plan.read import read_plan as _read_plan
from ..plan.types import NodePlan
from .plan import dump_parts

PLAN_MODE = 0o644  # plans hold references and digests, never secret material


class OutputError(Exception):
    """A plan directory that cannot be read or written; the message names the path."""


def read_plan(p: Path) -> NodePlan:
    """The valid plan in file `p`; PlanError (a ValueError, naming the file) otherwise."""
    return _read_plan(p)


def write_plans(d: Path, plans: dict[str, NodePlan | dict], prune: bool = True) -> tuple[list[str], list[str]]:
    """Write DIR/<node>.json for every plan; with `prune`, remove the plans of nodes no longer
    in the set. Returns (written, removed) file names; unchanged files are not rewritten."""
    for node, plan in plans.items():
        why = node_name_problem(node)
        inside = plan.node.name if isinstance(plan, NodePlan) else (plan.get("node") or {}).get("name")
        if why is None and inside != node:
            why = "differs from the name inside its plan"
        if why is not None:
            raise OutputError(f"refusing to write a plan for node {shown(node)}: the name {why}")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{d}: exists and is not a directory (-o names the directory for the plans)") from None
    except OSError as e:
        raise OutputError(f"{d}: cannot create the directory: {e.strerror or e}") from None
    written, removed = [], []
    with _open_dir(d) as dfd:
        real = os.path.realpath(d)
        for node, plan in sorted(plans.items()):
            name = f"{node}.json"
            target = os.path.join(real, name)
            if os.path.dirname(os.path.normpath(target)) != real or os.path.basename(target) != name:
                raise OutputError(f"refusing to write {shown(name)}: it would not be directly in {d}")
            data = dump_parts(plan)  # pieces: the pools several plans share are not copied per plan
            if _same_content(d, dfd, name, data):
                continue
            _write_one(d, dfd, name, data)
            written.append(name)
        if prune:
            for name in _plan_names(d, dfd):
                if name[: -len(".json")] in plans or not _written_by_compile(dfd, name):
                    continue
                try:
                    os.unlink(name, dir_fd=dfd)  # unlink never follows a link
                except FileNotFoundError:
                    continue
                except OSError as e:
                    raise OutputError(f"{d / name}: cannot remove the stale plan: {e.strerror or e}") from None
                removed.append(name)
        if written or removed:
            try:
                os.fsync(dfd)  # the renames and removals survive a crash
            except OSError as e:
                raise OutputError(f"{d}: {e.strerror or e}") from None
    return written, removed


class _open_dir:
    """A descriptor of directory `d` for *at() calls, closed on exit."""

    def __init__(self, d: Path) -> None:
        self.d = d

    def __enter__(self) -> int:
        try:
            self.fd = os.open(self.d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except NotADirectoryError:
            raise OutputError(f"{self.d}: exists and is not a directory (-o names the directory for the plans)") from None
        except OSError as e:
            raise OutputError(f"{self.d}: {e.strerror or e}") from None
        return self.fd

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


def _plan_names(d: Path, dfd: int) -> list[str]:
    """The `*.json` names in the directory (not hidden ones: temporary files start with '.')."""
    try:
        with os.scandir(dfd) as it:
            return sorted(e.name for e in it if e.name.endswith(".json") and not e.name.startswith("."))
    except OSError as e:
        raise OutputError(f"{d}: cannot list the directory: {e.strerror or e}") from None


def _same_content(d: Path, dfd: int, name: str, data: list[bytes]) -> bool:
    """Whether DIR/name is a regular file holding exactly the pieces `data`; a link or any other
    kind of file there is refused."""
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise OutputError(f"{d / name}: {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{d / name}: is a symbolic link; compile -o writes plans as regular files and "
                          f"never follows links: remove it")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{d / name}: exists and is not a regular file")
    size = sum(map(len, data))
    if st.st_size != size:
        return False
    try:
        have = memoryview(read_bounded(name, dir_fd=dfd, follow_symlinks=False, limit=size, where=d / name))
    except PlanError:  # replaced or grown meanwhile: write it
        return False
    at = 0
    for part in data:
        if have[at:at + len(part)] != part:
            return False
        at += len(part)
    return at == len(have)


def _write_one(d: Path, dfd: int, name: str, data: list[bytes]) -> None:
    tmp, fd = _create_temp(d, dfd)
    try:
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)  # replaces `name` itself, never a link's target
    except OSError as e:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise OutputError(f"{d / name}: cannot write the plan: {e.strerror or e}") from None


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Every piece, in order, with as few system calls as writev allows (partial writes resumed)."""
    views = [p for p in parts if p]
    i = 0
    while i < len(views):
        n = os.writev(fd, views[i:i + _IOV_MAX])
        while n and i < len(views):  # skip what was written
            if n >= len(views[i]):
                n -= len(views[i])
                i += 1
            else:
                views[i], n = memoryview(views[i])[n:], 0


_IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 1024


def _create_temp(d: Path, dfd: int) -> tuple[str, int]:
    """A new file with an unpredictable name, created exclusively: an existing file or link of
    that name makes creation fail instead of being opened or followed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(16):
        tmp = f".cilium-lb-{secrets.token_hex(8)}.json.tmp"
        try:
            return tmp, os.open(tmp, flags, PLAN_MODE, dir_fd=dfd)
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(f"{d}: cannot create a file there: {e.strerror or e}") from None
    raise OutputError(f"{d}: cannot create a temporary file ({os.strerror(errno.EEXIST)})")


def _written_by_compile(dfd: int, name: str) -> bool:
    """A regular file (not a link) holding a valid plan of the node its name says."""
    stem = name[: -len(".json")]
    if node_name_problem(stem) is not None:
        return False
    try:
        plan = _read_plan(name, dir_fd=dfd, follow_symlinks=False)
    except PlanError:
        return False
    return plan.node.name == stem
