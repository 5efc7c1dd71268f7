"""Shared reads of LBServices and LBBackendPools for the backend rules: routes with their
paths, the pool a route points at, and the pool's balancing algorithm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ...manifest.index import ResourceIndex
from ...manifest.resource import Resource, get_in
from ...model.apps import application

ALGORITHMS = ("roundRobin", "leastRequest", "consistentHashing")
DEFAULT_ALGORITHM = "roundRobin"


@dataclass(frozen=True)
class Route:
    service: Resource
    app: str  # httpsProxy, tcpProxy, ...
    index: int
    body: dict

    @property
    def path(self) -> tuple:
        return ("spec", "applications", self.app, "routes", self.index)


def routes(svc: Resource) -> Iterator[Route]:
    app = application(svc)
    if app is None:
        return
    name, body = app
    for i, r in enumerate(body.get("routes") or []):
        if isinstance(r, dict):
            yield Route(svc, name, i, r)


def pool_of(index: ResourceIndex, route: Route) -> Resource | None:
    """The LBBackendPool a route's backendRef names, in the service's namespace."""
    name = get_in(route.body, ("backendRef", "name"))
    if not isinstance(name, str):
        return None
    return index.get("LBBackendPool", route.service.namespace, name)


def algorithm(pool: Resource) -> str:
    """The pool's algorithm name; roundRobin when loadbalancing is absent (schema default)."""
    algo = get_in(pool.spec, ("loadbalancing", "algorithm"))
    if isinstance(algo, dict):
        for name in ALGORITHMS:
            if name in algo:
                return name
    return DEFAULT_ALGORITHM


def backends(pool: Resource) -> list[tuple[int, dict]]:
    """(index, backend) for every mapping in spec.backends."""
    items = pool.spec.get("backends")
    if not isinstance(items, list):
        return []
    return [(i, b) for i, b in enumerate(items) if isinstance(b, dict)]
