"""Load a manifest set from files, directories, globs and stdin (after check-jsonschema: parse
failures are values, never exceptions).

The common path parses each document with yaml_rs (Rust); positions are computed only for
documents that get a finding (see positions.py), which keeps validation of large sets fast.
Reading and parsing are bounded (limits.py): only regular files, at most `max_file_size`
bytes, nesting and alias expansion checked on the text before any parser recurses.
"""

from __future__ import annotations

import errno
import functools
import gc
import glob as globmod
import os
import stat
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable

from .problem import Problem, Severity
from .documents import split_documents
from .kinds import is_own_group, known_kinds, schemas, upstream_kind
from .limits import (DEFAULT_MAX_FILE_SIZE, LimitIssue, Limits, alias_budget, check_text, deeper_than, human_size,
                     measurable, within_bounds)
from .resource import CLUSTER_SCOPED, Document, Resource

EXTENSIONS = (".yaml", ".yml", ".json")


class LoadError(Exception):
    """A usage or I/O error: a path that does not exist or cannot be read (exit code 2)."""


@dataclass
class Skipped:
    file: str
    line: int
    api_version: str
    kind: str


@dataclass
class LoadResult:
    files: list[str] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    # documents that could not become resources (syntax errors, not a mapping, no kind)
    broken: int = 0
    texts: dict[str, str] = field(default_factory=dict)


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files named by the user: files as given, directories recursively (.yaml/.yml/.json),
    globs, and `-` for stdin. Order: as given, directory contents sorted. A directory that
    cannot be read is a LoadError naming it, never skipped."""
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        if p not in seen:
            seen.add(p)
            out.append(p)

    for raw in paths:
        if raw == "-":
            add("-")
            continue
        if any(c in raw for c in "*?["):
            matches = sorted(globmod.glob(raw, recursive=True))
            if not matches:
                raise LoadError(f"{raw}: no files match this pattern")
            for m in matches:
                if os.path.isdir(m):
                    for f in _walk(m):
                        add(f)
                else:
                    add(m)
            continue
        if os.path.isdir(raw):
            for f in _walk(raw):
                add(f)
        elif os.path.exists(raw):
            add(raw)
        else:
            raise _stat_error(raw)  # no such file, a dangling link, a loop, no permission
    return out


def _walk(root: str) -> list[str]:
    """Manifest files under `root`, depth first, each directory's files (sorted) before its
    subdirectories (sorted), hidden names left out. Symlinked directories are followed, each
    directory once (a link cycle ends there). An unreadable directory raises LoadError."""
    found: list[str] = []
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
            if (st.st_dev, st.st_ino) in visited:
                continue
            visited.add((st.st_dev, st.st_ino))
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
            subdirs = []
            for e in entries:
                if e.name.startswith("."):
                    continue
                try:
                    is_dir = e.is_dir()  # follows a symlink; a broken one is not a directory
                except OSError as err:
                    raise LoadError(f"{e.path}: {_why(err)}") from None
                if is_dir:
                    subdirs.append(e.path)
                elif e.name.endswith(EXTENSIONS):
                    found.append(e.path)
        except OSError as err:
            raise LoadError(f"{d}: cannot read directory: {_why(err)}") from None
        stack.extend(reversed(subdirs))
    return found


def _why(err: OSError) -> str:
    return err.strerror.lower() if err.strerror else str(err)


def _stat_error(path: str) -> LoadError:
    """Why `path` cannot be followed: a dangling link, a link loop, permissions..."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ENOENT and os.path.islink(path):
            return LoadError(f"{path}: broken symbolic link (to {_link_target(path)})")
        return LoadError(f"{path}: {_why(e)}")
    return LoadError(f"{path}: changed while being read")


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _not_regular(path: str, mode: int) -> str:
    what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    link = f"a symbolic link to {_link_target(path)}, which is " if os.path.islink(path) else ""
    return f"{link}{what}: only regular files are read"


def _too_big(size: int, limit: int, exact: bool = True) -> str:
    how = f"{human_size(size)} ({size:,} bytes)" if exact else f"more than {human_size(limit)}"
    return (f"file is {how}, over the {human_size(limit)} limit: not read "
            "(raise it with --max-file-size or max-file-size in .cilium-lb.yaml)")


def read_bytes(path: str, max_size: int | None = DEFAULT_MAX_FILE_SIZE) -> tuple[bytes | None, str | None]:
    """(data, finding): a FIFO, device or socket (or a link to one) and a file over `max_size`
    are findings, never read (no open that could block or have effects on a device); I/O
    errors raise LoadError naming the path."""
    try:
        st = os.stat(path)
    except OSError:
        raise _stat_error(path) from None
    if not stat.S_ISREG(st.st_mode):
        return None, _not_regular(path, st.st_mode)
    if max_size is not None and st.st_size > max_size:
        return None, _too_big(st.st_size, max_size)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise LoadError(f"{path}: {_why(e)}") from None
    try:
        st = os.fstat(fd)  # what was opened, in case the path changed since the stat
        if not stat.S_ISREG(st.st_mode):
            return None, _not_regular(path, st.st_mode)
        parts, total = [], 0
        want = (max_size + 1) if max_size is not None else None
        # the first read asks for the size fstat gave (+1, to see growth), later ones for 64 KiB:
        # os.read allocates what is asked for, and a 1 MiB buffer per read is mapped and unmapped
        # again each time (cheap on a quiet machine, slow when memory is under pressure)
        size = st.st_size + 1
        while True:
            asked = size if want is None else min(size, want - total)
            block = os.read(fd, asked)
            if not block:
                break
            size = 1 << 16
            parts.append(block)
            total += len(block)
            if want is not None and total >= want:
                return None, _too_big(total, max_size, exact=False)
            if len(block) < asked and total == st.st_size:
                break  # all fstat said, and short of what was asked: the end (/proc files say 0)
        return b"".join(parts), None
    except OSError as e:
        raise LoadError(f"{path}: {_why(e)}") from None
    finally:
        os.close(fd)


def read_text(path: str, stdin_text: str | None = None,
              max_size: int | None = DEFAULT_MAX_FILE_SIZE) -> tuple[str | None, str | None]:
    """(text, error): binary or undecodable content, a non-regular file and a file over the
    size limit are error values, not exceptions; I/O errors raise LoadError."""
    if path == "-":
        if stdin_text is not None:
            data = stdin_text.encode()
        else:
            try:
                data = sys.stdin.buffer.read(-1 if max_size is None else max_size + 1)
            except OSError as e:
                raise LoadError(f"<stdin>: {_why(e)}") from None
        if max_size is not None and len(data) > max_size:
            return None, _too_big(len(data), max_size, exact=False)
    else:
        data, err = read_bytes(path, max_size)
        if err is not None:
            return None, err
    if data.find(b"\x00", 0, 8192) >= 0:
        return None, "binary file (contains NUL bytes), not YAML or JSON"
    try:
        # plain UTF-8 has the C fast path; utf-8-sig (a BOM dropped) goes through a Python codec
        text = data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode()
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return None, f"not valid UTF-8 text (line {line})"
    return text, None


@contextmanager
def paused_gc():
    """Keep the cyclic garbage collector off the parsed set: loading and linting allocate
    millions of acyclic objects (documents, resources, findings) that it would rescan,
    generation after generation, for nothing. It is paused meanwhile and, after, what was
    allocated is frozen (gc.freeze: left out of later collections) so that turning it back
    on does not rescan it all at once either (~15% of a 10,000-resource run). Reference
    counting still frees every object; only a reference cycle made during the pause would
    wait for gc.unfreeze() (loading and linting make none)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.enable()


def load(paths: Iterable[str], stdin_text: str | None = None, ignore=None, limits: Limits | None = None) -> LoadResult:
    """Load everything under `paths`; `ignore(path) -> bool` drops files (config `ignore`)."""
    result = LoadResult()
    with paused_gc():
        for path in expand_paths(paths):
            if ignore is not None and path != "-" and ignore(path):
                continue
            load_file(path, result, stdin_text, limits)
    return result


def load_file(path: str, result: LoadResult, stdin_text: str | None = None, limits: Limits | None = None) -> None:
    limits = limits or Limits()
    name = "<stdin>" if path == "-" else path
    result.files.append(name)
    text, err = read_text(path, stdin_text, limits.max_file_size)
    if err is not None:
        result.problems.append(Problem(name, 1, 1, Severity.ERROR, "yaml-syntax", err))
        result.broken += 1
        return
    result.texts[name] = text
    load_text(name, text, result, limits)


def load_text(name: str, text: str, result: LoadResult, limits: Limits | None = None) -> None:
    limits = limits or _LIMITS
    chunks = split_documents(text)
    if not chunks:
        result.problems.append(
            Problem(name, 1, 1, Severity.WARNING, "empty-file", "file holds no YAML document")
        )
        return
    screened = len(chunks) > 1 and within_bounds(text, limits.max_depth)  # all documents at once
    values = _parse_stream(text, chunks) if screened else None
    documents = result.documents
    if values is not None:
        _add_parsed(name, chunks, values, result)
        return
    for chunk in chunks:
        doc = Document(name, chunk.index, chunk.line, chunk)  # positions made on first lookup
        documents.append(doc)
        body = chunk.text
        # depth and aliases first: yaml_rs and PyYAML's composer recurse per level; a document
        # safe to parse first is measured after (limits.measurable: the same answers)
        issue, measure = None, False
        if not screened and not within_bounds(body, limits.max_depth):
            measure = measurable(body, limits.max_depth)
            if not measure:
                issue = check_text(body, limits.max_depth)
        if issue is None:
            try:
                value = _yaml_rs().loads(body, parse_datetime=False, alias_limits=_alias_backstop(len(body)))
            except Exception as e:  # yaml_rs.YAMLDecodeError and anything the parser may raise
                issue = (check_text(body, limits.max_depth) if measure else None) or _parse_issue(body, str(e))
            else:
                if measure and deeper_than(value, limits.max_depth):
                    issue = check_text(body, limits.max_depth)  # the exact walk says where
        if issue is not None:
            result.problems.append(
                Problem(name, chunk.line + issue.line + 1, issue.column + 1, Severity.ERROR, "yaml-syntax",
                        issue.message, doc=chunk.index)
            )
            result.broken += 1
            continue
        _add_object(value, doc, (), result)


_LIMITS = Limits()


def _add_parsed(name: str, chunks: list, values: list, result: LoadResult) -> None:
    """Each chunk's document and parsed value, added as _add_object adds it; the common object
    (a named mapping of a kind with a schema) is added here without a call per document."""
    documents, resources, known = result.documents, result.resources, _schemas()
    for chunk, value in zip(chunks, values):
        doc = Document(name, chunk.index, chunk.line, chunk)  # positions made on first lookup
        documents.append(doc)
        if type(value) is dict:
            api_version, kind, meta = value.get("apiVersion"), value.get("kind"), value.get("metadata")
            if type(meta) is dict and type(api_version) is str and type(kind) is str and (api_version, kind) in known:
                name_ = meta.get("name")
                if type(name_) is str:
                    if kind in CLUSTER_SCOPED:
                        namespace = None
                    else:
                        namespace = meta.get("namespace")
                        if not namespace or type(namespace) is not str:
                            namespace = "default"
                    resources.append(Resource(api_version, kind, name_, namespace, value, doc))
                    continue
        _add_object(value, doc, (), result)


def _yaml_rs():
    import yaml_rs

    return yaml_rs


def _parse_stream(text: str, chunks: list) -> list | None:
    """Every document of a screened file (no alias, depth bounded) from one yaml_rs call, when
    the file is plain `---`-separated documents: one value per chunk, in order. None (parse
    chunk by chunk, which locates an error in its document) when the text has anything else
    (`...`, directives, text on a marker line) or the parse fails."""
    if "\n..." in text or text.startswith(("...", "%")) or "\n%" in text or any(c.marker_rest for c in chunks):
        return None
    try:
        values = _yaml_rs().loads(text, parse_datetime=False)
    except Exception:
        return None
    return values if type(values) is list and len(values) == len(chunks) else None


def _alias_backstop(size: int):
    # limits.check_text is the rule (and says where); this only stops yaml_rs should the text
    # scan ever miss an alias: the nodes of a document are fewer than its bytes
    return _alias_limits(2 * alias_budget(size))


@functools.lru_cache(maxsize=256)
def _alias_limits(events: int):
    return _yaml_rs().AliasLimits(max_total_replayed_events=events)  # one object per budget, reused


def _parse_issue(body: str, fast_error: str) -> LimitIssue:
    if "alias" in fast_error and "limit" in fast_error:
        from .limits import _ALIAS

        m = _ALIAS.search(body)
        at = m.start() if m else 0
        line = body.count("\n", 0, at)
        return LimitIssue(line, at - (body.rfind("\n", 0, at) + 1),
                          "aliases expand this document beyond the limit (an alias bomb?): write the values out")
    from .syntax import diagnose

    issue = diagnose(body, 0, fast_error)
    return LimitIssue(issue.line - 1, issue.column - 1, issue.message)


_schemas = schemas  # the lru_cache'd reading; the loop below asks once per object


def _add_object(value, doc: Document, prefix: tuple, result: LoadResult) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        line, col = doc.locate(prefix)
        what = type(value).__name__.replace("str", "a string").replace("list", "a list")
        result.problems.append(
            Problem(doc.file, line, col, Severity.ERROR, "document-type",
                    f"document is {what}, expected a mapping with apiVersion and kind", doc=doc.index)
        )
        result.broken += 1
        return
    api_version, kind = value.get("apiVersion"), value.get("kind")
    if kind == "List" and isinstance(value.get("items"), list):
        for i, item in enumerate(value["items"]):
            _add_object(item, doc, prefix + ("items", i), result)
        return
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        missing = [k for k, v in (("apiVersion", api_version), ("kind", kind)) if not isinstance(v, str) or not v]
        line, col = doc.locate(prefix)
        result.problems.append(
            Problem(doc.file, line, col, Severity.ERROR, "document-type",
                    f"document has no {' or '.join(missing)}: not a Kubernetes-style manifest", doc=doc.index)
        )
        result.broken += 1
        return
    meta = value.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    name = meta.get("name")
    if not isinstance(name, str):
        name = ""
    if (api_version, kind) not in _schemas():
        if kind not in known_kinds() and upstream_kind(api_version, kind):
            # a real upstream kind cilium-lb does not carry out: kept for one info finding
            res = Resource(api_version, kind, name, None, value, doc, prefix, valid=False)
            res.extra["foreign"] = True
            result.resources.append(res)
        elif is_own_group(api_version) or (api_version == "v1" and kind in known_kinds()):
            res = Resource(api_version, kind, name, None, value, doc, prefix, valid=False)
            res.extra["unknown"] = True
            result.resources.append(res)
        else:
            line, _ = doc.locate(prefix)
            result.skipped.append(Skipped(doc.file, line, api_version, kind))
        return
    if kind in CLUSTER_SCOPED:
        namespace = None
    else:
        namespace = meta.get("namespace")
        if not namespace or not isinstance(namespace, str):
            namespace = "default"
    result.resources.append(Resource(api_version, kind, name, namespace, value, doc, prefix))


def add_object(value: dict, doc: Document, result: LoadResult) -> None:
    """Add one already-parsed object (e.g. read from a Kubernetes API server) to `result`,
    exactly as an object of a file's document is added."""
    _add_object(value, doc, (), result)
