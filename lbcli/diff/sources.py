"""Where plans to compare come from: plan files, directories of plans, and the plan last
applied on a node (`<state-dir>/<node>/applied-plan.json`, written by `apply`).

A path holds plans when it is (or, for a directory, contains) a JSON object with
`"kind": "NodePlan"`; from then on it is judged as a plan, strictly (lbcli.plan.read): a broken
plan is an error naming the file, never read half-way and never taken for manifests. A plan
directory is all plans: a `*.json` in it that is not a valid plan is an error, not skipped.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..plan.types import NodePlan


class PlanSourceError(Exception):
    """A plan that exists but cannot be used (the CLI exits 2); the message names the file."""


def read_plan_source(path: str, strict: bool = False) -> dict[str, NodePlan] | None:
    """node -> plan for a plan file or a directory holding plans (`<node>.json`). None when
    `path` holds no plan at all (then it is manifests), unless `strict`: then that is an error
    saying why."""
    from ..plan.read import PlanError, check_plan, is_plan_document

    p = Path(path)
    try:
        if path == "-" or not p.exists():
            if strict:
                raise PlanError(f"{path}: no such file or directory" if path != "-" else "-: plans are read from files")
            return None  # stdin, globs and missing paths are the manifest loader's to judge
        if p.is_dir():
            return _plan_dir(p, strict)
        doc = _sniff(p, strict)
        if doc is _NOT_A_PLAN or not (strict or is_plan_document(doc)):
            return None
        plan = check_plan(doc, p)
        return {plan.node.name: plan}
    except PlanError as e:
        raise PlanSourceError(str(e)) from None


def why_not_plans(path: str) -> str:
    """Why `path` holds no plans, for a message (read_plan_source returned None for it)."""
    try:
        read_plan_source(path, strict=True)
    except PlanSourceError as e:
        return str(e)
    return f"{path}: holds plans"


_NOT_A_PLAN = object()


def _sniff(p: Path, strict: bool):
    """The JSON document in file `p` if it may be a plan, else _NOT_A_PLAN (manifests). A plan
    is a JSON object, so a file whose first character is not '{' is not read further."""
    from ..plan.read import MAX_PLAN_BYTES, PlanError, parse_plan, read_bounded

    if not strict:
        try:
            st = p.stat()
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_PLAN_BYTES:
                return _NOT_A_PLAN  # the manifest loader judges special and huge files
            with open(p, "rb") as f:
                head = f.read(64).lstrip()
        except OSError as e:
            raise PlanError(f"{p}: {e.strerror or e}") from None
        if not head.startswith(b"{"):
            return _NOT_A_PLAN
    data = read_bounded(p)
    try:
        return parse_plan(data, p)
    except PlanError:
        if strict:
            raise
        return _NOT_A_PLAN  # not JSON: YAML manifests (or broken ones: the loader says where)


def _plan_dir(d: Path, strict: bool) -> dict[str, NodePlan] | None:
    from ..plan.read import PlanError, check_plan, is_plan_document, parse_plan, read_bounded

    try:
        with os.scandir(d) as it:
            names = sorted(e.name for e in it if e.name.endswith(".json") and not e.name.startswith("."))
    except OSError as e:
        raise PlanError(f"{d}: cannot list the directory: {e.strerror or e}") from None
    docs, broken = {}, {}
    for name in names:
        try:
            docs[name] = parse_plan(read_bounded(d / name), d / name)
        except PlanError as e:
            broken[name] = e
    if not any(is_plan_document(doc) for doc in docs.values()):
        if strict:
            first = next(iter(broken.values()), None)
            raise first if first is not None else PlanError(f"{d}: no NodePlan JSON found")
        return None  # a directory of manifests
    if broken:
        raise next(iter(broken.values()))
    plans: dict[str, NodePlan] = {}
    where: dict[str, str] = {}
    for name, doc in docs.items():
        plan = check_plan(doc, d / name)
        node = plan.node.name
        if node in plans:
            raise PlanError(f"{d / name}: a second plan for node {node} (the first is {d / where[node]})")
        plans[node], where[node] = plan, name
    return plans


def applied_plan(state_dir: str | Path, node: str) -> NodePlan | None:
    """The plan last applied on `node`, or None when nothing was applied yet."""
    from ..plan.read import applied_plan as read_applied
    from ..plan.names import node_name_problem, shown

    why = node_name_problem(node)
    if why is not None:  # it becomes a directory name
        raise PlanSourceError(f"node {shown(node)}: the name {why}")
    try:
        return read_applied(state_dir, node)
    except OSError as e:
        raise PlanSourceError(f"{Path(state_dir) / node}: {e.strerror or e}") from None
    except ValueError as e:
        raise PlanSourceError(str(e)) from None
