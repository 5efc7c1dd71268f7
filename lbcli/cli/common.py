"""What several command modules share: option types and help texts, the node-name check.
Start-up is on the hot path, so nothing heavy is imported here."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from ..report import formats
from ..report.console import error

DEFAULT_STATE_DIR = "/var/lib/cilium-lb"  # = the node engine's default (not imported at start-up)


def node_name(value: Optional[str]) -> Optional[str]:
    """--node callback: the name becomes a directory under --state-dir and --bpf-root, so it
    must be a node name (usage error, exit 2, otherwise)."""
    if value is None:
        return value
    from ..plan.names import node_name_problem

    why = node_name_problem(value)
    if why is not None:
        raise typer.BadParameter(f"not a node name: {why}")
    return value


# --output choices come from the renderer registry (lbcli/report/__init__.py)
LintFormat = Enum("LintFormat", {f: f for f in formats("lint")}, type=str)  # type: ignore[misc]

ViewFormat = Enum("ViewFormat", {f: f for f in formats("diff")}, type=str)  # type: ignore[misc]

ApplyFormat = Enum("ApplyFormat", {f: f for f in formats("apply")}, type=str)  # type: ignore[misc]


class Level(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class Datapath(str, Enum):
    tc = "tc"
    xdp = "xdp"


DATAPATH_HELP = ("Tier-1 program: tc (default; clsact ingress on the uplink) or xdp (native XDP on the "
                 "uplink, the tc program kept for what XDP passes on; refused where it cannot carry a "
                 "service or attach).")
LOCK_HELP = "Allocation lock file (default: cilium-lb.lock in the first PATH if a directory, else beside it)."

STATE_DIR_HELP = "State directory (last applied plan, rendered configs, pid files, sockets)."

PLAN_HELP = "Carry out this compiled plan (a <node>.json file or the directory `compile -o` wrote) instead of compiling PATH..."

SECRETS_HELP = "With --plan: Secret manifests the plan references (checked against its digests); repeat for more."

