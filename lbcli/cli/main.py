"""The `cilium-lb` command line: parse options, call the core, hand results to a renderer.

Start-up is on the hot path (pre-commit runs the CLI on every commit), so every command imports
what it needs inside its function.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import List, Optional

import typer

from .. import __version__
from .console import error, set_color
from .kube import CONTEXT_HELP, KUBE_HELP, KUBECONFIG_HELP
from .loading import MAX_FILE_SIZE_HELP
from .views import node_name

app = typer.Typer(
    name="cilium-lb",
    help="Declarative toolchain for the two-tier Isovalent Load Balancer on Cilium.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
lb_app = typer.Typer(help="Load balancer views (like `cilium lb ...`).", no_args_is_help=True)
app.add_typer(lb_app, name="lb")


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"
    junit = "junit"


class Level(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cilium-lb {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    color: Color = typer.Option(Color.auto, "--color", help="Colour output: auto (tty, honours NO_COLOR), always, never."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    set_color(color.value)


@app.command()
def validate(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="Files, directories (recursive), globs, or - for stdin (or --kube)."),
    output: Optional[LintFormat] = typer.Option(None, "-o", "--output", help="text (default), json, sarif, github (default under GitHub Actions), junit."),
    fail_level: Optional[Level] = typer.Option(None, "--fail-level", help="Exit 1 when a finding is at or above this severity (default: error)."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Config file (default: .cilium-lb.yaml searched upwards)."),
    no_config: bool = typer.Option(False, "--no-config", help="Ignore .cilium-lb.yaml files."),
    at: Optional[str] = typer.Option(None, "--at", help="Evaluate time-dependent rules (certificate expiry) as of this ISO date."),
    max_file_size: Optional[str] = typer.Option(None, "--max-file-size", help=MAX_FILE_SIZE_HELP),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", help="Extra file(s) with v1 Nodes (kubectl get nodes -o yaml): node-dependent checks run with them."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", help=CONTEXT_HELP),
) -> None:
    """Lint a manifest set: schema and semantic rules, with file:line:col for every finding
    (objects read with --kube: Kind/namespace/name and the field path)."""
    from ..lint.config import ConfigError, load_config
    from ..lint.engine import lint
    from ..lint.problem import Severity
    from ..manifest.loader import LoadError
    from ..report import render_lint
    from .kube import source
    from .loading import limits_for, load_any

    src = source(kube, kubeconfig, context, paths)
    if src is None and not paths:
        error("give manifests (PATH...) or --kube")
        raise typer.Exit(2)
    try:
        cfg = load_config(config, search=not no_config)
        now = _parse_time(at)
        loaded = load_any(paths or [], nodes, cfg, limits_for(cfg, max_file_size), src)
    except (ConfigError, LoadError, ValueError) as e:
        error(str(e))
        raise typer.Exit(2)
    report = lint(loaded, cfg, now=now)
    fmt = output.value if output else ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    render_lint(fmt, report)
    level = Severity.parse(fail_level.value) if fail_level else (cfg.fail_level or Severity.ERROR)
    raise typer.Exit(1 if report.count(level) else 0)


LOCK_HELP = "Allocation lock file (default: cilium-lb.lock in the first PATH if a directory, else beside it)."


@app.command("compile")
def compile_cmd(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="Manifest files, directories, globs, or - (or --kube)."),
    output: str = typer.Option(..., "-o", "--output", help="Directory for <node>.json plans, or - to print one plan."),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", help="Extra file(s) with v1 Nodes (kubectl get nodes -o yaml)."),
    node: Optional[str] = typer.Option(None, "--node", help="Only this node's plan."),
    max_file_size: Optional[str] = typer.Option(None, "--max-file-size", help=MAX_FILE_SIZE_HELP),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help=LOCK_HELP),
    locked: bool = typer.Option(False, "--locked", help="Refuse to change the allocation lock (exit 1 if it is not up to date): for CI."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", help=CONTEXT_HELP),
    write_status: bool = typer.Option(False, "--write-status", help="With --kube: write LBVIP addresses and LBVIP/LBService conditions back (while holding the status Lease)."),
    lease_namespace: str = typer.Option("kube-system", "--lease-namespace", help="With --write-status: namespace of the status Lease (the agent's)."),
) -> None:
    """Compile the manifest set into one deterministic plan per node; keep LB-IPAM allocations
    in the allocation lock (cilium-lb.lock beside the manifests) or, with --kube, in the
    LBVIP status the cluster holds."""
    from pathlib import Path

    from ..compile.allocations import LockError, default_path, lock_of, read_lock, write_lock
    from ..compile.allocations import dumps as lock_dumps
    from ..compile.nodes import IdentityError
    from ..compile.output import OutputError, write_plans
    from ..compile.plan import PlanBuildError, compile_plans, dumps
    from .kube import source
    from .kube import write_status as write_back
    from .loading import load_checked

    if not output:
        error("-o needs a directory (or - for one plan on stdout)")
        raise typer.Exit(2)
    src = source(kube, kubeconfig, context, paths)
    if src is None and (not paths or write_status):
        error("--write-status needs --kube" if write_status else "give manifests (PATH...) or --kube")
        raise typer.Exit(2)
    paths = paths or []
    report = load_checked(paths, nodes, max_file_size=max_file_size, kube=src)
    lock_path = Path(lock) if lock else default_path(paths)
    try:
        previous = read_lock(lock_path)
        if src is not None:  # the cluster's record (LBVIP status) of what was allocated
            previous = {**previous, **src.allocations()}
        compiled = compile_plans(report.index, previous)
    except (LockError, IdentityError, PlanBuildError) as e:
        error(str(e))
        raise typer.Exit(2)
    if lock_path is not None:
        want = lock_dumps(lock_of(compiled.allocations))
        have = lock_path.read_bytes() if lock_path.is_file() else (want if not compiled.allocations else b"")
        if have != want and locked:
            error(f"{lock_path}: the allocation lock is not up to date with the manifests "
                  f"(run cilium-lb compile without --locked and commit the lock)")
            raise typer.Exit(1)
        if have != want:
            try:
                write_lock(lock_path, compiled.allocations)
            except LockError as e:
                error(str(e))
                raise typer.Exit(2)
    if write_status:
        write_back(src, compiled, report.index, lease_namespace)
    plans = compiled.plans
    if node is not None:
        if node not in plans:
            known = ", ".join(sorted(plans)) or "none"
            error(f"no node named {node!r} in the manifest set (nodes: {known})")
            raise typer.Exit(2)
        plans = {node: plans[node]}
    if not plans:
        error("the manifest set has no v1 Node objects: nothing to compile (add nodes or use --nodes FILE)")
        raise typer.Exit(2)
    if output == "-":
        if len(plans) != 1:
            error(f"-o - prints one plan: choose it with --node ({', '.join(sorted(plans))})")
            raise typer.Exit(2)
        sys.stdout.buffer.write(dumps(next(iter(plans.values()))))
        return
    # with --node only that plan is written: the other nodes' files are left alone
    try:
        written, removed = write_plans(Path(output), plans, prune=node is None)
    except OutputError as e:
        error(str(e))
        raise typer.Exit(2)
    for c in compiled.conditions:
        sys.stderr.write(f"warning: {c['ref']}: {c['reason']}: {c['message']}\n")
    typer.echo(f"{len(plans)} plan(s) in {output}: {len(written)} written, {len(plans) - len(written)} unchanged"
               + (f", {len(removed)} removed" if removed else ""))


class ApplyFormat(str, Enum):
    text = "text"
    json = "json"


STATE_DIR_HELP = "State directory (last applied plan, rendered configs, pid files, sockets)."
PLAN_HELP = "Carry out this compiled plan (a <node>.json file or the directory `compile -o` wrote) instead of compiling PATH..."
SECRETS_HELP = "With --plan: Secret manifests the plan references (checked against its digests); repeat for more."


@app.command()
def apply(
    paths: Optional[List[str]] = typer.Argument(None, metavar="[PATH...]", help="Manifest files, directories, globs, or - (or give --plan)."),
    node: str = typer.Option(..., "--node", callback=node_name, help="The node this runs on (its network namespace)."),
    plan_source: Optional[str] = typer.Option(None, "--plan", metavar="FILE|DIR", help=PLAN_HELP),
    secrets_paths: Optional[List[str]] = typer.Option(None, "--secrets", metavar="PATH", help=SECRETS_HELP),
    lock: Optional[str] = typer.Option(None, "--lock", metavar="FILE", help=LOCK_HELP),
    nodes: Optional[List[str]] = typer.Option(None, "--nodes", help="Extra file(s) with v1 Nodes."),
    state_dir: str = typer.Option("/var/lib/cilium-lb", "--state-dir", help=STATE_DIR_HELP),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", help="bpffs directory for pinned maps and programs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Observe and report what would change; change nothing."),
    output: ApplyFormat = typer.Option(ApplyFormat.text, "-o", "--output", help="text or json."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing on success."),
    kube: bool = typer.Option(False, "--kube", help=KUBE_HELP),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", metavar="FILE", help=KUBECONFIG_HELP),
    context: Optional[str] = typer.Option(None, "--context", help=CONTEXT_HELP),
) -> None:
    """Converge this node to its plan: observe, change only what differs, record the plan.
    The plan is compiled from PATH... (addresses from the allocation lock) or given with --plan."""
    from pathlib import Path

    from ..agent.apply import LockTimeout, apply_plan
    from ..agent.reconciler import NodeContext
    from .kube import source
    from .loading import node_plan

    src = source(kube, kubeconfig, context, paths)
    plan, secrets = node_plan(paths, plan_source, secrets_paths, nodes, node, lock, kube=src)
    ctx = NodeContext(node, Path(state_dir), Path(bpf_root), dry_run)
    progress = None
    if output == ApplyFormat.text and not quiet and sys.stderr.isatty():
        progress = lambda name: sys.stderr.write(f"\r\x1b[2K{node}: {name} ...")  # noqa: E731
    try:
        result = apply_plan(ctx, plan, secrets, progress)
    except LockTimeout as e:
        error(str(e))
        raise typer.Exit(1)
    finally:
        if progress:
            sys.stderr.write("\r\x1b[2K")
    doc = result.to_dict()
    if output == ApplyFormat.json:
        import json

        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif not (quiet and result.ok):
        from ..report.apply_text import render

        render(doc)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def reset(
    node: str = typer.Option(..., "--node", callback=node_name, help="The node this runs on."),
    state_dir: str = typer.Option("/var/lib/cilium-lb", "--state-dir", help=STATE_DIR_HELP),
    bpf_root: str = typer.Option("/sys/fs/bpf/cilium-lb", "--bpf-root", help="bpffs directory for pinned maps and programs."),
    output: ApplyFormat = typer.Option(ApplyFormat.text, "-o", "--output", help="text or json."),
) -> None:
    """Remove everything cilium-lb created on this node."""
    from pathlib import Path

    from ..agent.apply import ApplyReport, LockTimeout, reset_node
    from ..agent.reconciler import NodeContext

    try:
        results = reset_node(NodeContext(node, Path(state_dir), Path(bpf_root)))
    except LockTimeout as e:
        error(str(e))
        raise typer.Exit(1)
    rep = ApplyReport(node, False, results)
    doc = rep.to_dict()
    if output == ApplyFormat.json:
        import json

        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        from ..report.apply_text import render

        render(doc)
    raise typer.Exit(0 if rep.ok else 1)


@app.command()
def rules(
    output: Optional[LintFormat] = typer.Option(None, "-o", "--output", help="text or json."),
) -> None:
    """List the lint rules with their default severity and documentation."""
    from ..lint.registry import all_rule_info

    infos = sorted(all_rule_info().values(), key=lambda r: r.id)
    if output == LintFormat.json:
        import json

        typer.echo(json.dumps([{"id": r.id, "severity": r.severity.label, "summary": r.summary} for r in infos], indent=2))
        return
    width = max(len(r.id) for r in infos)
    for r in infos:
        typer.echo(f"{r.id:<{width}}  {r.severity.label:<7}  {r.summary}")


@app.command()
def completion(shell: Shell = typer.Argument(..., help="bash, zsh or fish.")) -> None:
    """Print the shell completion script (also shipped in completions/)."""
    from .completion import script

    sys.stdout.write(script(shell.value))


def _parse_time(at: str | None):
    if not at:
        return None
    from datetime import datetime, timezone

    try:
        t = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--at: not an ISO date or time: {at!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


from .kube import register as _register_kube  # noqa: E402  (crds, manifests)
from .views import register as _register_views  # noqa: E402  (diff, status: after the apps exist)

_register_views(app, lb_app)
_register_kube(app)


def run() -> None:
    """Console-script entry point."""
    if os.environ.get("_CILIUM_LB_COMPLETE"):
        from typer._completion_classes import completion_init

        completion_init()  # only when the shell asks for completions: keeps start-up lean
    try:
        app(prog_name="cilium-lb")
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
