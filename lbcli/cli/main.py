"""The `cilium-lb` command line: parse options, call the core, hand results to a renderer.

Start-up is on the hot path (pre-commit runs the CLI on every commit), so every command imports
what it needs inside its function, a run registers only the command it names (app.py), and
the plain `cilium-lb validate PATH...` of a pre-commit hook (no option, no `-`) skips typer
altogether: typer and click are ~50 ms of a ~200 ms run, and that form has no option to parse.
"""

from __future__ import annotations

import os
import sys

from ..report.console import error


def __getattr__(name: str):
    if name == "app":  # the whole CLI (tests, completion scripts), built on first use
        from .app import build

        global app
        app = build()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _invoked(argv: list[str]) -> str | None:
    """The command a command line names: its first word that is not an option (None when an
    option comes first: `--color never validate` gets the whole CLI, which is always right)."""
    for arg in argv:
        return None if arg.startswith("-") else arg
    return None


def _plain_paths(args: list[str]) -> bool:
    """Only paths: no option, no `-` (stdin), no `--` (typer's parse is the same for these:
    each word a PATH, every option at its default)."""
    return bool(args) and not any(a.startswith("-") for a in args)


def _validate(paths: list[str]) -> int:
    from .validate_run import run

    try:
        return run(paths)
    except BrokenPipeError:  # `| head`: exit 1 quietly, as click does for the typer path
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 1


def run() -> None:
    """Console-script entry point."""
    if os.environ.get("_CILIUM_LB_COMPLETE"):
        from typer._completion_classes import completion_init

        completion_init()  # only when the shell asks for completions: keeps start-up lean
    try:
        argv = sys.argv[1:]
        if os.environ.get("_CILIUM_LB_COMPLETE"):
            command = None
        else:
            command = _invoked(argv)
            if command == "validate" and _plain_paths(argv[1:]):
                sys.exit(_validate(argv[1:]))
        from .app import build

        build(command)(prog_name="cilium-lb")
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
