"""Load a manifest set from files, directories, globs and stdin (after check-jsonschema: parse
failures are values, never exceptions).

The common path parses each document with yaml_rs (Rust); positions are computed only for
documents that get a finding (see positions.py), which keeps validation of large sets fast.
"""

from __future__ import annotations

import glob as globmod
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..lint.problem import Problem, Severity
from .documents import split_documents
from .kinds import is_own_group, known_kinds, schemas
from .positions import PositionIndex
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
    globs, and `-` for stdin. Order: as given, directory contents sorted."""
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
            raise LoadError(f"{raw}: no such file or directory")
    return out


def _walk(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(EXTENSIONS) and not name.startswith("."):
                found.append(os.path.join(dirpath, name))
    return found


def read_text(path: str, stdin_text: str | None = None) -> tuple[str | None, str | None]:
    """(text, error): binary or undecodable content is an error value, not an exception."""
    if path == "-":
        data = stdin_text.encode() if stdin_text is not None else sys.stdin.buffer.read()
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise LoadError(f"{path}: {e.strerror or e}") from None
    if b"\x00" in data[:8192]:
        return None, "binary file (contains NUL bytes), not YAML or JSON"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return None, f"not valid UTF-8 text (line {line})"
    return text, None


def load(paths: Iterable[str], stdin_text: str | None = None, ignore=None) -> LoadResult:
    """Load everything under `paths`; `ignore(path) -> bool` drops files (config `ignore`)."""
    result = LoadResult()
    for path in expand_paths(paths):
        if ignore is not None and path != "-" and ignore(path):
            continue
        load_file(path, result, stdin_text)
    return result


def load_file(path: str, result: LoadResult, stdin_text: str | None = None) -> None:
    name = "<stdin>" if path == "-" else path
    result.files.append(name)
    text, err = read_text(path, stdin_text)
    if err is not None:
        result.problems.append(Problem(name, 1, 1, Severity.ERROR, "yaml-syntax", err))
        result.broken += 1
        return
    result.texts[name] = text
    load_text(name, text, result)


def load_text(name: str, text: str, result: LoadResult) -> None:
    import yaml_rs

    chunks = split_documents(text)
    if not chunks:
        result.problems.append(
            Problem(name, 1, 1, Severity.WARNING, "empty-file", "file holds no YAML document")
        )
        return
    for chunk in chunks:
        doc = Document(name, chunk.index, chunk.line, PositionIndex(chunk.text, chunk.line))
        result.documents.append(doc)
        try:
            value = yaml_rs.loads(chunk.text, parse_datetime=False)
        except Exception as e:  # yaml_rs.YAMLDecodeError and anything the parser may raise
            from .syntax import diagnose

            issue = diagnose(chunk.text, chunk.line, str(e))
            result.problems.append(
                Problem(name, issue.line, issue.column, Severity.ERROR, "yaml-syntax", issue.message, doc=chunk.index)
            )
            result.broken += 1
            continue
        _add_object(value, doc, (), result)


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
    meta = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta.get("name"), str) else ""
    if (api_version, kind) not in schemas():
        if is_own_group(api_version) or (api_version == "v1" and kind in known_kinds()):
            res = Resource(api_version, kind, name, None, value, doc, prefix, valid=False)
            res.extra["unknown"] = True
            result.resources.append(res)
        else:
            line, _ = doc.locate(prefix)
            result.skipped.append(Skipped(doc.file, line, api_version, kind))
        return
    ns = meta.get("namespace")
    namespace = None if kind in CLUSTER_SCOPED else (ns if isinstance(ns, str) and ns else "default")
    result.resources.append(Resource(api_version, kind, name, namespace, value, doc, prefix))
