"""`cilium-lb validate`: schema and semantic lint of a manifest set."""

from __future__ import annotations

from typing import List, Optional

import typer

from ..report import formats
from .common import Level, LintFormat
from .kube import CONTEXT_HELP, KUBE_HELP, KUBECONFIG_HELP
from .loading import MAX_FILE_SIZE_HELP


def validate(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="Files, directories (recursive), globs, or - for stdin (or --kube)."),
    output: Optional[LintFormat] = typer.Option(None, "-o", "--output", help=f"{', '.join(formats('lint'))}; default text (github under GitHub Actions)."),
    fail_level: Optional[Level] = typer.Option(None, "--fail-level", help="Exit 1 when a finding is at or above this severity (default: error)."),
    config: Optional[str] = typer.Option(None, "--config", "-c", metavar="FILE", help="Config file (default: .cilium-lb.yaml searched upwards)."),
    no_config: bool = typer.Option(False, "--no-config", help="Ignore .cilium-lb.yaml files."),
    at: Optional[str] = typer.Option(None, "--at", metavar="DATE", help="Evaluate time-dependent rules (certificate expiry) as of this ISO date."),
    max_file_size: Optional[str] = typer.Option(None, "--max-file-size", metavar="SIZE", help=MAX_FILE_SIZE_HELP),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", metavar="PATH", help="Extra file(s) with v1 Nodes (kubectl get nodes -o yaml): node-dependent checks run with them."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help=CONTEXT_HELP),
) -> None:
    """Lint a manifest set: schema and semantic rules, with file:line:col for every finding
    (objects read with --kube: Kind/namespace/name and the field path)."""
    from .validate_run import run

    raise typer.Exit(run(paths or [], output.value if output else None, fail_level.value if fail_level else None,
                         config, no_config, at, max_file_size, nodes, kube, kubeconfig, context))
