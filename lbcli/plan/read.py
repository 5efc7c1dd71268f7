"""Reading a plan file: bounded, validated, every failure a PlanError naming the file.

A plan comes from `cilium-lb compile`, but whoever reads one (diff, lb status, apply's record of
the last applied plan) cannot assume that: it may be truncated, hand-edited, from another
version, a FIFO or a link to a device. So only regular files up to MAX_PLAN_BYTES are read, the
document must be a NodePlan of this plan version (lbcli/plan/types.py, from which
schemas/plan.schema.json is generated), and its node name must be usable as a file name.
Messages say where (the JSON path) and what, never the value found there.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

from .names import shown
from .spec import PlanFormatError, json_type
from .types import API_VERSION, KIND, NodePlan
# The largest plan seen (a tier-1 node with a 65537-slot Maglev table per distinct tier-2 set)
# is a few MB; this bounds memory when a path points at something else.
MAX_PLAN_BYTES = 64 * 1024 * 1024


class PlanError(ValueError):
    """A plan that cannot be used (the CLI exits 2); the message names the file."""


def read_plan(path: str | Path, dir_fd: int | None = None, follow_symlinks: bool = True,
              where: str | Path | None = None) -> NodePlan:
    """The valid plan in file `path` (relative to `dir_fd` if given); PlanError otherwise, also
    for I/O errors. Messages name the file as `where` (default: `path`)."""
    where = path if where is None else where
    return check_plan(parse_plan(read_bounded(path, dir_fd, follow_symlinks, where=where), where), where)


def read_bounded(path: str | Path, dir_fd: int | None = None, follow_symlinks: bool = True,
                 limit: int | None = None, where: str | Path | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (default MAX_PLAN_BYTES).
    O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, being no
    regular file)."""
    limit = MAX_PLAN_BYTES if limit is None else limit
    where = path if where is None else where
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow_symlinks:  # the last component is a link
            raise PlanError(f"{where}: is a symbolic link, not a plan file") from None
        raise PlanError(f"{where}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PlanError(f"{where}: is {_file_type(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise PlanError(f"{where}: is {st.st_size} bytes, more than the {limit} read at most")
        chunks, total = [], 0
        while True:  # the size may change while reading: never read past the limit
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise PlanError(f"{where}: is more than the {limit} bytes read at most")
        return b"".join(chunks)
    except OSError as e:
        raise PlanError(f"{where}: {e.strerror or e}") from None
    finally:
        os.close(fd)


def parse_plan(data: bytes, where: str | Path) -> Any:
    import orjson

    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:  # also: integers beyond 64 bits, nesting beyond 1024
        if not data.strip():
            raise PlanError(f"{where}: is empty, not a plan") from None
        raise PlanError(f"{where}: not JSON ({e})") from None


def is_plan_document(doc: Any) -> bool:
    """Whether `doc` claims to be a plan (then it is judged as one, never as manifests)."""
    return isinstance(doc, dict) and doc.get("kind") == KIND


def check_plan(doc: Any, where: str | Path) -> NodePlan:
    """`doc` as a NodePlan if it is a valid plan, else PlanError."""
    if not isinstance(doc, dict):
        raise PlanError(f"{where}: holds {json_type(doc)}, not a plan (a JSON object with kind {KIND})")
    if doc.get("kind") != KIND:
        raise PlanError(f"{where}: kind is {shown(doc.get('kind'))}, not {KIND}")
    if doc.get("apiVersion") != API_VERSION:
        raise PlanError(f"{where}: plan apiVersion {shown(doc.get('apiVersion'))} is not supported; "
                        f"this cilium-lb reads {API_VERSION} plans (compile them again with it)")
    try:
        return NodePlan.from_json(doc)
    except PlanFormatError as e:
        raise PlanError(f"{where}: not a valid plan: {e.located()}") from None


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


# The plan a node last carried out, kept by the node engine in <state-dir>/<node>/; diff and
# status read it too (without importing the node).
APPLIED = "applied-plan.json"


def applied_plan(state_dir: Path | str, node: str) -> NodePlan | None:
    """The plan last recorded on `node`; None when nothing was applied yet. A record that is not
    a plan raises ValueError (PlanError names the file and what is wrong), an unreadable one
    OSError."""
    p = Path(state_dir) / node / APPLIED
    if not p.exists():
        return None
    return read_plan(p)
