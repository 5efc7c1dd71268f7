"""The node's state files, written so they survive crashes and read so corruption is never
mistaken for "nothing applied".

Write: an exclusive temporary file in the same directory (never a predictable name, never a
followed symlink), mode set before any byte lands, fsync, rename over the target, fsync of the
directory. A crash leaves either the old or the new file, never a torn one.

Format: a small envelope, ``{"format": "cilium-lb-state/1", "kind": ..., "sha256": ...,
"data": {...}}``; the digest is over the canonical JSON of ``data``, so truncation, a flipped
byte or a hand edit is detected. Each record is also kept in a mirror (``<name>.mirror``,
same bytes, written right after the primary): state that cannot be observed on the host again
(e.g. the sysctl values before the first apply) survives the loss of one copy.

Read: the primary if it is sound, else the mirror (the caller is told, so it can say so);
when neither is sound :class:`StateCorrupt` names the file and why. A record written by an
earlier version (a bare JSON object, no envelope) is still read. Nothing here prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

FORMAT = "cilium-lb-state/1"
MIRROR_SUFFIX = ".mirror"


class StateCorrupt(ValueError):
    """A state file exists but cannot be trusted; the message names it and says why."""

    def __init__(self, path: Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"state file {path} is corrupt ({reason})")


@dataclass(frozen=True)
class StateRead:
    data: dict[str, Any] | None  # None: no record (neither copy exists)
    note: str | None = None  # set when the primary was unsound and the mirror was used


def mirror_of(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + MIRROR_SUFFIX)


def write_bytes(path: Path, data: bytes, mode: int = 0o600, sync_dir: bool = True) -> None:
    """Durably replace `path` with `data` (exclusive temp file, fsync, rename, fsync dir; the
    last left to the caller with `sync_dir=False`, when another rename in the directory follows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if sync_dir:
        fsync_dir(path.parent)


@contextmanager
def replacing(path: Path, mode: int = 0o600) -> Iterator[Path]:
    """For a writer that needs a file name (a compiler's `-o`): a fresh temporary path beside
    `path`; on a clean exit the file is fsynced and renamed over `path` and the directory
    fsynced, on an error it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, mode)  # (the writer may have replaced the file)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def encode(kind: str, data: Mapping[str, Any]) -> bytes:
    env = {"format": FORMAT, "kind": kind, "sha256": hashlib.sha256(_canonical(data)).hexdigest(),
           "data": data}
    # one member per line, without indent: `indent` would make json use its pure-Python encoder,
    # which costs more than the fsyncs for a thousand services
    return (json.dumps(env, sort_keys=True, separators=(",\n", ": ")) + "\n").encode()


def decode(path: Path, raw: bytes, kind: str, check: Callable[[dict], str | None] | None = None) -> dict:
    """The record in `raw`, or StateCorrupt naming `path`."""
    if not raw.strip():
        raise StateCorrupt(path, "empty")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise StateCorrupt(path, f"not JSON, truncated? {e}") from None
    if not isinstance(doc, dict):
        raise StateCorrupt(path, f"expected an object, found {type(doc).__name__}")
    if "format" in doc:
        if doc.get("format") != FORMAT:
            raise StateCorrupt(path, f"unknown format {str(doc.get('format'))[:40]!r}")
        if doc.get("kind") != kind:
            raise StateCorrupt(path, f"holds {str(doc.get('kind'))[:40]!r} state, expected {kind!r}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise StateCorrupt(path, "no data object")
        if hashlib.sha256(_canonical(data)).hexdigest() != doc.get("sha256"):
            raise StateCorrupt(path, "checksum mismatch")
    else:
        data = doc  # written by a version before the envelope
    problem = check(data) if check else None
    if problem:
        raise StateCorrupt(path, problem)
    return data


def read(path: Path, kind: str, check: Callable[[dict], str | None] | None = None) -> StateRead:
    """The record at `path` (or its mirror); StateRead(None) when neither exists."""
    path = Path(path)
    errors: list[StateCorrupt] = []
    for i, p in enumerate((path, mirror_of(path))):
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as e:
            errors.append(StateCorrupt(p, f"unreadable: {e.strerror or e}"))
            continue
        try:
            data = decode(p, raw, kind, check)
        except StateCorrupt as e:
            errors.append(e)
            continue
        note = None
        if i == 1:
            why = errors[0].reason if errors else "missing"
            note = f"state file {path} is {'corrupt (' + why + ')' if errors else 'missing'}; recovered from {p.name}"
        return StateRead(data, note)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            raise StateCorrupt(path, f"{first.reason}; its mirror too: {errors[1].reason}")
        raise first
    return StateRead(None)


def write(path: Path, kind: str, data: Mapping[str, Any], mode: int = 0o600) -> None:
    """Durably write the record to `path`, then to its mirror."""
    blob = encode(kind, data)
    write_bytes(path, blob, mode, sync_dir=False)
    write_bytes(mirror_of(path), blob, mode)  # its directory fsync makes both renames durable


def remove(path: Path) -> None:
    """Delete the record and its mirror (missing is fine)."""
    for p in (mirror_of(path), Path(path)):
        p.unlink(missing_ok=True)
    if Path(path).parent.is_dir():
        fsync_dir(Path(path).parent)


def exists(path: Path) -> bool:
    return Path(path).exists() or mirror_of(path).exists()


# ---- shape checks (a record that parses but does not have the shape its reader needs)

def shape(**fields: Any) -> Callable[[dict], str | None]:
    """A check: each named field, when present, is of the given type (or tuple of types)."""

    def check(data: dict) -> str | None:
        for name, typ in fields.items():
            if name in data and not isinstance(data[name], typ):
                return f"field {name!r}: expected {_tname(typ)}, found {type(data[name]).__name__}"
        return None

    return check


def _tname(typ: Any) -> str:
    if isinstance(typ, tuple):
        return " or ".join(_tname(t) for t in typ)
    return "null" if typ is type(None) else typ.__name__


def load(path: Path, kind: str, check: Callable[[dict], str | None] | None, notes: list[str],
         repair: bool) -> dict[str, Any] | None:
    """read(), noting a recovery in `notes` and (when `repair`) rewriting both copies from the
    sound one. StateCorrupt when neither copy is sound."""
    r = read(path, kind, check)
    if r.note:
        notes.append(r.note)
        if repair and r.data is not None:
            write(path, kind, r.data)
    return r.data
