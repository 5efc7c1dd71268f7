"""One semantic change between two plans, as a reader says it: on which node, in which section,
to which object (named by its identity, not its list position), which field, and how."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..plan.change import Verb

Action = Verb  # the node engine's vocabulary: create, update, delete

# plan sections in the order a reader meets them, with their headings
SECTIONS: dict[str, str] = {
    "node": "node",
    "ipam": "IPAM",
    "tier1": "tier 1",
    "bgp": "BGP",
    "tier2": "tier 2 listeners",
    "backendPools": "backend pools",
}


@dataclass(frozen=True)
class Change:
    section: str          # a key of SECTIONS
    node: str | None      # None for changes of the plan set itself (never, today)
    object: str           # "VIP 100.64.0.101:443 https-proxy", "BGP peer 192.168.121.201", ...
    field: str            # "backend 172.18.0.8:8080 weight", "prefix 100.64.0.102/32", ...
    action: Action
    old: Any = None       # JSON values; secrets only ever as their sha256 digest
    new: Any = None
    detail: str | None = None  # what else a reader needs ("maglev table sha256 ab12.. -> cd34..")
    secret: bool = False  # old/new are digests of secret material: say "changed", show digests

    def to_json(self) -> dict:
        return {"section": self.section, "node": self.node, "object": self.object, "field": self.field,
                "action": self.action, "old": self.old, "new": self.new, "detail": self.detail}
