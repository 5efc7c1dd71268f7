"""The allocation lock: LB-IPAM results kept beside the manifests, like a package lock.

Addresses allocated from a pool depend on what was allocated before (a new VIP must not take an
address another one holds, a VIP keeps its address when others come and go). That history
lives in one file, `cilium-lb.lock`, next to the manifests and reviewed in git, so every
machine that compiles the same commit — CI, each node's `apply`, a reviewer's `diff` —
allocates the same addresses; no node's own record of what it applied takes part.

- `compile` reads it and writes it back when the allocations changed (entries of claimants no
  longer in the set are dropped, so their addresses are free again); `--locked` refuses to
  change it instead (CI: the lock must be committed up to date).
- `apply`, `diff` and `observe` on manifests read it and never write it: a claimant missing from
  the lock gets the address the deterministic probe gives (lbcli/compile/ipam.py), the same on
  every node.
- Format: canonical JSON (sorted keys, 2-space indent, newline), entries sorted by reference;
  a malformed lock is an error naming the file and the JSON path, never ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..grammar import IPV4_RE
from ..plan.spec import Const, ListOf, Obj, PlanFormatError, PlanObject, Str, f

LOCK_NAME = "cilium-lb.lock"
API_VERSION = "cilium-lb.io/v1"
KIND = "AllocationLock"
MAX_LOCK_BYTES = 16 * 1024 * 1024


class LockError(ValueError):
    """A lock file that cannot be read or written; the message names the file (exit 2)."""


@dataclass(frozen=True)
class Allocation(PlanObject):
    ref: str = f(Str("^(LBVIP|Service)/[^/]+/[^/]+$"))
    ipv4: str = f(Str(f"^{IPV4_RE}$"))


@dataclass(frozen=True)
class AllocationLock(PlanObject):
    api_version: str = f(Const(API_VERSION))
    kind: str = f(Const(KIND))
    allocations: tuple = f(ListOf(Obj(Allocation)))

    def validate(self, path):
        seen = set()
        for i, a in enumerate(self.allocations):
            if a.ref in seen:
                raise PlanFormatError((*path, "allocations", i, "ref"), "names a claimant a second time")
            seen.add(a.ref)

    def as_map(self) -> dict[str, str]:
        return {a.ref: a.ipv4 for a in self.allocations}


def lock_of(assignments: dict[str, str]) -> AllocationLock:
    return AllocationLock(API_VERSION, KIND, tuple(Allocation(r, assignments[r]) for r in sorted(assignments)))


def dumps(lock: AllocationLock) -> bytes:
    import orjson

    return orjson.dumps(lock.to_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def default_path(paths: list[str]) -> Path | None:
    """Where the lock of a manifest set lives: in the first PATH if it is a directory, else
    beside the first file; None when the set comes from stdin."""
    first = next((p for p in paths if p != "-"), None)
    if first is None:
        return None
    p = Path(first)
    return (p if p.is_dir() else p.parent) / LOCK_NAME


def read_lock(path: Path | None) -> dict[str, str]:
    """ref -> IPv4 from the lock at `path`; {} when there is none yet. LockError otherwise."""
    if path is None:
        return {}
    from ..plan.read import PlanError, parse_plan, read_bounded

    try:
        raw = read_bounded(path, limit=MAX_LOCK_BYTES)
    except PlanError as e:
        if not os.path.lexists(path):
            return {}
        raise LockError(str(e)) from None
    try:
        doc = parse_plan(raw, path)
    except PlanError as e:
        raise LockError(str(e).replace("not a plan", "not an allocation lock")) from None
    try:
        return AllocationLock.from_json(doc).as_map()
    except PlanFormatError as e:
        raise LockError(f"{path}: not a valid allocation lock: {e.located()} "
                        f"(fix it, or remove it and compile again: addresses may then move)") from None


def write_lock(path: Path, assignments: dict[str, str]) -> bool:
    """Write the lock for `assignments` (atomically); False when the file already says so."""
    data = dumps(lock_of(assignments))
    try:
        if path.is_file() and path.read_bytes() == data:
            return False
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise LockError(f"{path}: cannot write the allocation lock: {e.strerror or e}") from None
    return True
