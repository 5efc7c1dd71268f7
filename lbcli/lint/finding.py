"""What a rule yields: a value pointing into a resource; the engine turns it into a Problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..manifest.index import ResourceIndex
from ..manifest.resource import Resource
from .problem import Severity


@dataclass(frozen=True, slots=True)
class Finding:
    resource: Resource
    path: tuple[Any, ...]  # inside the resource's body, e.g. ("spec", "vipRef", "name")
    message: str
    key: bool = False  # point at the key rather than the value (unknown fields)
    severity: Severity | None = None  # overrides the rule's default (e.g. expired vs expiring)
    # what the rule's `fix` needs to repair it (e.g. ("rename", "port")); never shown
    hint: Any = field(default=None, compare=False)


@dataclass
class Context:
    """What a rule sees: the whole set, the clock (fixed per run) and its own options."""

    index: ResourceIndex
    now: datetime
    options: dict[str, dict] = field(default_factory=dict)

    def opts(self, rule_id: str) -> dict:
        return self.options.get(rule_id, {})
