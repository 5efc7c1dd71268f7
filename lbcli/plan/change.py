"""The one verb vocabulary of a change, shared by plan diffs (lbcli/diff) and the node engine
(lbcli/agent/engine.py): an object is created, updated or deleted."""

from __future__ import annotations

from typing import Literal

Verb = Literal["create", "update", "delete"]
VERBS: tuple[str, ...] = ("create", "update", "delete")
