"""The `cilium-lb` command line: parse options, call the core, hand results to a renderer.

Start-up is on the hot path (pre-commit runs the CLI on every commit), so every command imports
what it needs inside its function, a run registers only the command it names (app.py), and
the plain `cilium-lb validate [-o FORMAT] PATH...` of a pre-commit hook or CI job skips typer
altogether: typer and click are ~50 ms of a ~200 ms run, and that form has nothing else to parse.
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


def _plain_validate(args: list[str]) -> tuple[list[str], str | None] | None:
    """(paths, output format) when `validate`'s arguments are only paths and at most one
    `-o FORMAT` / `--output FORMAT` / `--output=FORMAT` with a known format; None for anything
    else (another option, `-` for stdin, `--`): typer parses that. For these forms typer's parse
    is the same: each other word a PATH, every other option at its default."""
    from ..report import formats

    paths, output, i = [], None, 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "--output") and output is None and i + 1 < len(args):
            output, i = args[i + 1], i + 2
            continue
        if a.startswith("--output=") and output is None:
            output = a.split("=", 1)[1]
        elif a.startswith("-"):
            return None
        else:
            paths.append(a)
        i += 1
    if not paths or (output is not None and output not in formats("lint")):
        return None
    return paths, output


def _validate(paths: list[str], output: str | None) -> int:
    from .validate_run import run

    try:
        return run(paths, output)
    except BrokenPipeError:  # `| head`: exit 1 quietly, as click does for the typer path
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 1


def _exit_now(code: int) -> None:
    """End the plain validate run without the interpreter's teardown, which would free every
    parsed object one by one (the report is kept alive until here: validate_run.KEPT). Output
    is flushed first; lbcli registers no atexit handler."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = code or 1
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code)


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
            plain = _plain_validate(argv[1:]) if command == "validate" else None
            if plain is not None:
                code = _validate(*plain)
                _exit_now(code)
        from .app import build

        build(command)(prog_name="cilium-lb")
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
