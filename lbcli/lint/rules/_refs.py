"""Shared walking of LBService applications and references (not a rule: underscore module)."""

from __future__ import annotations

from typing import Iterator

from ...manifest.index import ResourceIndex
from ...manifest.resource import Resource
from ...model.apps import APPLICATION_TYPES, application, applications, protocol  # noqa: F401

APPS = ("spec", "applications")


def routes(svc: Resource) -> Iterator[tuple[tuple, dict]]:
    """(path of the route, route) for every route of every application."""
    for app_type, body in applications(svc):
        for i, route in enumerate(as_list(body.get("routes"))):
            if isinstance(route, dict):
                yield APPS + (app_type, "routes", i), route


def ref_name(obj: dict, *path: str) -> str | None:
    cur: object = obj
    for step in path:
        cur = cur.get(step) if isinstance(cur, dict) else None
    return cur if isinstance(cur, str) and cur else None


def similar(index: ResourceIndex, kind: str, namespace: str | None, name: str) -> str:
    """'; did you mean X?' when an object of that kind with a close name exists in the namespace."""
    import difflib  # only when a reference is broken: not at every start

    names = [r.name for r in index.of_kind(kind) if r.namespace == namespace]
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def where(res: Resource, path: tuple = ("metadata", "name")) -> str:
    """`file:line` of a field of another resource, for messages naming it."""
    if not res.doc.file:  # read from a cluster
        return res.ref
    line, _ = res.locate(path)
    return f"{res.doc.file}:{line}"


def as_list(value: object) -> list:
    """A list field read defensively: anything but a list counts as empty."""
    return value if isinstance(value, list) else []
