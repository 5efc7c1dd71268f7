"""The `cilium-lb` command line: parse options, call the core, hand results to a renderer.

Start-up is on the hot path (pre-commit runs the CLI on every commit), so every command imports
what it needs inside its function.
"""

from __future__ import annotations

import os
import sys
from enum import Enum

import typer

from .. import __version__
from ..report.console import error, set_color

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


def _register() -> None:
    """One module per command group; each only parses options and calls the core."""
    from . import agent, apply, compile, completion, diff, fix, kube, lab, observe, rules, status, validate

    app.command()(validate.validate)
    app.command("compile")(compile.compile_cmd)
    app.command("diff")(diff.diff)
    app.command()(apply.apply)
    app.command()(apply.reset)
    app.command()(agent.agent)
    lb_app.command("status")(status.status)
    app.command("status", help="Alias of `cilium-lb lb status`.")(status.status)
    app.command("observe")(observe.observe)
    app.command()(rules.rules)
    app.command()(completion.completion)
    kube.register(app)  # crds, manifests
    fix.register(app)
    app.add_typer(lab.lab_app, name="lab")


_register()


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
