"""Rewrite a manifest file safely: only the regular file that was read, never through a
symbolic link, never a file that changed meanwhile; same mode and owner; atomically (a temp
file in the same directory, fsync, rename, fsync of the directory), so a crash leaves either
the old file or the new one."""

from __future__ import annotations

import codecs
import os
import stat
import tempfile


class WriteError(Exception):
    """The file was not rewritten (the message names it and says why)."""


def rewrite(path: str, before: str, after: str) -> None:
    try:
        st = os.lstat(path)
    except OSError as e:
        raise WriteError(f"{path}: {_why(e)}") from None
    if stat.S_ISLNK(st.st_mode):
        raise WriteError(f"{path}: a symbolic link (to {_target(path)}): not rewritten through it; "
                         f"run fix on the file it points to")
    if not stat.S_ISREG(st.st_mode):
        raise WriteError(f"{path}: not a regular file: not rewritten")
    if st.st_nlink > 1:
        raise WriteError(f"{path}: has {st.st_nlink} hard links: replacing it would split them; not rewritten")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise WriteError(f"{path}: {_why(e)}") from None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
            raise WriteError(f"{path}: replaced while being fixed; not rewritten (run fix again)")
        data = _read_all(fd)
    finally:
        os.close(fd)
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        current = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        current = None
    if current != before:
        raise WriteError(f"{path}: changed while being fixed; not rewritten (run fix again)")
    _replace(path, st, (codecs.BOM_UTF8 if bom else b"") + after.encode("utf-8"))


def _replace(path: str, st: os.stat_result, data: bytes) -> None:
    directory = os.path.dirname(path) or "."
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".fix")
    except OSError as e:
        raise WriteError(f"{path}: cannot create a temporary file beside it: {_why(e)}") from None
    try:
        try:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                os.fchown(fd, st.st_uid, st.st_gid)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)  # renames over the directory entry: never follows a link
    except PermissionError as e:
        _unlink(tmp)
        raise WriteError(f"{path}: {_why(e)} (keeping its owner and mode needs the rights to set them); "
                         "not rewritten") from None
    except OSError as e:
        _unlink(tmp)
        raise WriteError(f"{path}: {_why(e)}; not rewritten") from None
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass  # the rename is done; some file systems cannot fsync a directory


def _read_all(fd: int) -> bytes:
    parts = []
    while True:
        block = os.read(fd, 1 << 20)
        if not block:
            return b"".join(parts)
        parts.append(block)


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _why(e: OSError) -> str:
    return e.strerror.lower() if e.strerror else str(e)
