"""Reading a plan file: bounded, validated, every failure a PlanError naming the file.

A plan comes from `cilium-lb compile`, but whoever reads one (diff, lb status, apply's record of
the last applied plan) cannot assume that: it may be truncated, hand-edited, from another
version, a FIFO or a link to a device. So only regular files up to MAX_PLAN_BYTES are read, the
document must be a NodePlan of this plan version that matches schemas/plan.schema.json, and its
node name must be usable as a file name. Messages say where (the JSON path) and what, never the
value found there.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from pathlib import Path
from typing import Any

from .names import node_name_problem, shown

API_VERSION = "cilium-lb.io/v1"
KIND = "NodePlan"
# The largest plan seen (a tier-1 node with a 65537-slot Maglev table per distinct tier-2 set)
# is a few MB; this bounds memory when a path points at something else.
MAX_PLAN_BYTES = 64 * 1024 * 1024


class PlanError(ValueError):
    """A plan that cannot be used (the CLI exits 2); the message names the file."""


def read_plan(path: str | Path, dir_fd: int | None = None, follow_symlinks: bool = True,
              where: str | Path | None = None) -> dict:
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


def check_plan(doc: Any, where: str | Path) -> dict:
    """`doc` if it is a valid plan, else PlanError."""
    if not isinstance(doc, dict):
        raise PlanError(f"{where}: holds {_json_type(doc)}, not a plan (a JSON object with kind {KIND})")
    if doc.get("kind") != KIND:
        raise PlanError(f"{where}: kind is {shown(doc.get('kind'))}, not {KIND}")
    if doc.get("apiVersion") != API_VERSION:
        raise PlanError(f"{where}: plan apiVersion {shown(doc.get('apiVersion'))} is not supported; "
                        f"this cilium-lb reads {API_VERSION} plans (compile them again with it)")
    v = _validator()
    if not v.is_valid(doc):
        err = next(iter(v.iter_errors(doc)))
        path, msg = _explain(err)
        raise PlanError(f"{where}: not a valid plan: " + (f"{_dotted(path)}: {msg}" if path else msg))
    why = node_name_problem(doc["node"]["name"])
    if why is not None:
        raise PlanError(f"{where}: not a valid plan: node.name {why}")
    return doc


@functools.lru_cache(maxsize=1)
def _validator():
    import json

    import jsonschema_rs

    schema = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json").read_text())
    return jsonschema_rs.validator_for(schema)


def _explain(err) -> tuple[list, str]:
    """(JSON path, message in plain words) of a schema error; for `null or a section` and other
    alternatives, the deepest error of the branch that got furthest."""
    kind = type(err.kind).__name__
    path = list(err.instance_path)
    if kind in ("AnyOf", "OneOfNotValid"):
        def wrong_type(branch) -> bool:  # the value is not even of this alternative's type
            return all(type(e.kind).__name__ == "Type" and len(e.instance_path) == len(path) for e in branch)

        branches = [b for b in err.kind.context if b]
        applicable = [b for b in branches if not wrong_type(b)]
        if applicable:  # explain the error that got furthest into the value
            best = max((e for b in applicable for e in b), key=lambda e: len(e.instance_path))
            return _explain(best)
        types = [t for b in branches for e in b for t in e.kind.as_dict()["types"]]
        if types:
            return path, f"expected {_or(_TYPE_WORDS.get(t, t) for t in types)}, got {_json_type(err.instance)}"
        return path, "does not have the shape of any of the allowed forms"
    d = err.kind.as_dict() if hasattr(err.kind, "as_dict") else {}
    if kind == "Required":
        return path, f"missing field {shown(d.get('property'))}"
    if kind == "AdditionalProperties":
        return path, "unknown field " + ", ".join(shown(u) for u in d.get("unexpected", []))
    if kind == "Type":
        types = d.get("types") or []
        return path, f"expected {_or(_TYPE_WORDS.get(t, t) for t in types)}, got {_json_type(err.instance)}"
    if kind == "Constant":
        return path, f"must be {shown(d.get('expected_value'))}"
    if kind == "Enum":
        return path, "must be one of " + ", ".join(shown(o) for o in d.get("options") or [])
    if kind in ("Minimum", "ExclusiveMinimum"):
        return path, f"is below the minimum {d.get('limit')}"
    if kind in ("Maximum", "ExclusiveMaximum"):
        return path, f"is above the maximum {d.get('limit')}"
    if kind == "MinLength":
        return path, f"is shorter than {d.get('limit')} characters"
    if kind == "MaxLength":
        return path, f"is longer than {d.get('limit')} characters"
    if kind == "MinItems":
        return path, f"has fewer than {d.get('limit')} items"
    if kind == "MaxItems":
        return path, f"has more than {d.get('limit')} items"
    if kind == "UniqueItems":
        return path, "holds the same item twice"
    if kind in ("Pattern", "Format"):
        return path, "is not in the expected format" + (f" ({d['format']})" if d.get("format") else "")
    return path, "is not allowed here"


_TYPE_WORDS = {"null": "null", "object": "an object", "array": "a list", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false"}


def _or(words) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true or false"
    return {dict: "an object", list: "a list", str: "a string", int: "an integer",
            float: "a number"}.get(type(v), type(v).__name__)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _dotted(path: list) -> str:
    out = ""
    for step in path:  # keys a user chose (labels) are quoted and escaped
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(step):
            out += f".{step}" if out else step
        else:
            out += f"[{shown(step)}]"
    return out


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"
