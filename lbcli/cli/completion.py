"""Shell completion scripts, generated from the click command tree by click's own machinery so
they never drift from the CLI; completions/ holds the generated files (a test checks them)."""

from __future__ import annotations

import sys
from enum import Enum

import typer

PROG = "cilium-lb"
ENV = "_CILIUM_LB_COMPLETE"


def script(shell: str) -> str:
    import typer.main
    from typer._click.shell_completion import get_completion_class  # typer vendors click
    from typer._completion_classes import completion_init

    completion_init()  # typer's classes: the runtime side (typer's main) speaks their protocol

    from .main import app

    cmd = typer.main.get_command(app)
    cls = get_completion_class(shell)
    if cls is None:
        raise ValueError(f"unsupported shell {shell!r}")
    return cls(cmd, {}, PROG, ENV).source()


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Shell = typer.Argument(..., help="bash, zsh or fish.")) -> None:
    """Print the shell completion script (also shipped in completions/)."""
    sys.stdout.write(script(shell.value))
