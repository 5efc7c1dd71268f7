"""The typer application of `cilium-lb` (lbcli/cli/main.py starts it): the global options and
one registration per command group, each importing its module only when registered."""

from __future__ import annotations

from enum import Enum

import typer

from .. import __version__
from ..report.console import set_color


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cilium-lb {__version__}")
        raise typer.Exit(0)


def main(
    color: Color = typer.Option(Color.auto, "--color", help="Colour output: auto (tty, honours NO_COLOR), always, never."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    set_color(color.value)


def _validate(app: typer.Typer) -> None:
    from . import validate

    app.command()(validate.validate)


def _compile(app: typer.Typer) -> None:
    from . import compile

    app.command("compile")(compile.compile_cmd)


def _diff(app: typer.Typer) -> None:
    from . import diff

    app.command("diff")(diff.diff)


def _apply(app: typer.Typer) -> None:
    from . import apply

    app.command()(apply.apply)
    app.command()(apply.reset)


def _agent(app: typer.Typer) -> None:
    from . import agent

    app.command()(agent.agent)


def _status(app: typer.Typer) -> None:
    from . import status

    lb_app = typer.Typer(help="Load balancer views (like `cilium lb ...`).", no_args_is_help=True)
    app.add_typer(lb_app, name="lb")
    lb_app.command("status")(status.status)
    app.command("status", help="Alias of `cilium-lb lb status`.")(status.status)


def _observe(app: typer.Typer) -> None:
    from . import observe

    app.command("observe")(observe.observe)


def _rules(app: typer.Typer) -> None:
    from . import rules

    app.command()(rules.rules)


def _completion(app: typer.Typer) -> None:
    from . import completion

    app.command()(completion.completion)


def _kube(app: typer.Typer) -> None:
    from . import kube

    kube.register(app)  # crds, manifests


def _fix(app: typer.Typer) -> None:
    from . import fix

    fix.register(app)


def _lab(app: typer.Typer) -> None:
    from . import lab

    app.add_typer(lab.lab_app, name="lab")


# One module per command group; each only parses options and calls the core. In help order.
GROUPS = (_validate, _compile, _diff, _apply, _agent, _status, _observe, _rules, _completion, _kube, _fix, _lab)
# the top-level names each group registers, so a run can register only the one it invokes
_NAMES = {"validate": _validate, "compile": _compile, "diff": _diff, "apply": _apply, "reset": _apply,
          "agent": _agent, "lb": _status, "status": _status, "observe": _observe, "rules": _rules,
          "completion": _completion, "crds": _kube, "manifests": _kube, "fix": _fix, "lab": _lab}


def build(command: str | None = None) -> typer.Typer:
    """The CLI, with every command group, or only the one that registers `command` (typer turns
    each registered function into a click command at every start and each group imports its
    module: ~40 ms of a pre-commit hook's run that named one command)."""
    app = typer.Typer(
        name="cilium-lb",
        help="Declarative toolchain for the two-tier Isovalent Load Balancer on Cilium.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(main)
    for group in (_NAMES[command],) if command in _NAMES else GROUPS:
        group(app)
    return app
