"""`cilium-lb lab up|status|down`: the seed lab on this machine (lbcli/lab/seedlab.py)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..report.console import error

lab_app = typer.Typer(help="The seed lab (2 tier-1 + 2 tier-2 nodes, FRR router, client, backends) in network namespaces on this machine.",
                      no_args_is_help=True)

DIR_HELP = "Directory of the lab's files (manifests, node state, logs, bpffs)."
PREFIX_HELP = "Namespace name prefix (<prefix>-client, <prefix>-lb-t1-1, ...): how status and down find the lab."


def _prefix(value: str) -> str:
    import re

    if not re.fullmatch(r"[a-z][a-z0-9]{1,11}", value):
        raise typer.BadParameter("2-12 lower-case letters and digits, starting with a letter")
    return value


class Format(str, Enum):
    text = "text"
    json = "json"


def _lab(directory: str, prefix: str, manifests: Optional[str] = None):
    from ..lab.seedlab import SeedLab, examples_dir

    examples = Path(manifests) if manifests else examples_dir()
    return SeedLab(Path(directory), prefix, examples=examples, progress=lambda m: sys.stderr.write(f"lab: {m}\n"))


def _refused(e: Exception) -> None:
    error(f"lab: {e}")
    raise typer.Exit(2)


@lab_app.command("up")
def up(
    directory: str = typer.Option("/var/lib/cilium-lb-lab", "--dir", help=DIR_HELP),
    prefix: str = typer.Option("cilblab", "--prefix", callback=_prefix, help=PREFIX_HELP),
    manifests: Optional[str] = typer.Option(None, "--manifests", metavar="DIR", help="The seed manifest set (default: examples/rebel-base of this checkout)."),
    timeout: float = typer.Option(180.0, "--timeout", min=1, max=3600, help="Seconds to wait for the VIP to answer."),
) -> None:
    """Build the lab, or start what is missing from it; prints how to reach the VIP and how to
    read `lb status` from the agents. Exit 1 when the VIP does not answer within --timeout."""
    from ..lab.seedlab import LabRefused

    lab = _lab(directory, prefix, manifests)
    try:
        serving = lab.up(timeout)
    except LabRefused as e:
        _refused(e)
    except Exception as e:  # a step that failed: say which, the lab can be removed with `down`
        error(f"lab up: {type(e).__name__}: {e} (remove what was built with "
              f"`cilium-lb lab down --dir {directory} --prefix {prefix}`)")
        raise typer.Exit(1)
    if not serving:
        error(f"lab up: the VIP does not answer after {timeout:g} s; see {lab.dir / 'logs'} and `cilium-lb lab status`")
    typer.echo(("The lab is up." if serving else "The lab is built but not serving yet.") + "\n" + "\n".join(lab.instructions()))
    raise typer.Exit(0 if serving else 1)


@lab_app.command("status")
def status(
    directory: str = typer.Option("/var/lib/cilium-lb-lab", "--dir", help=DIR_HELP),
    prefix: str = typer.Option("cilblab", "--prefix", callback=_prefix, help=PREFIX_HELP),
    output: Format = typer.Option(Format.text, "-o", "--output", help="text or json."),
) -> None:
    """What runs in the lab. Exit 0 when it is up and serving, 1 otherwise."""
    import os

    if os.geteuid() != 0:
        _refused(Exception("must run as root (the processes in the lab's namespaces)"))
    st = _lab(directory, prefix).status()
    if output == Format.json:
        typer.echo(json.dumps(st.to_dict(), indent=2, sort_keys=True))
    else:
        typer.echo(f"lab {st.prefix} ({st.dir}): {st.state}")
        if st.namespaces:
            width = max(len(p.name) for p in st.processes) if st.processes else 8
            for p in st.processes:
                what = f"running (pid {p.pid})" if p.running else "NOT RUNNING"
                typer.echo(f"  {p.name:<{width}}  {p.namespace:<20} {p.detail}: {what}")
            hops = ", ".join(st.vip_next_hops) or "none"
            typer.echo(f"  router route to {st.to_dict()['vip']}/32 via {hops}")
    raise typer.Exit(0 if st.state == "up" else 1)


@lab_app.command("down")
def down(
    directory: str = typer.Option("/var/lib/cilium-lb-lab", "--dir", help=DIR_HELP),
    prefix: str = typer.Option("cilblab", "--prefix", callback=_prefix, help=PREFIX_HELP),
) -> None:
    """Remove the lab: processes, namespaces, the FRR instance, the bpffs and the files."""
    import os

    if os.geteuid() != 0:
        _refused(Exception("must run as root (network namespaces, bpffs)"))
    removed = _lab(directory, prefix).down()
    typer.echo(f"removed {len(removed)} objects" if removed else "nothing to remove: the lab is down")
    for r in removed:
        typer.echo(f"  {r}")
