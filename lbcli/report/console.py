"""Rich consoles for the renderers at the edge; colour follows --color, NO_COLOR and the tty."""

from __future__ import annotations

import os
import sys

_color = "auto"


def set_color(mode: str) -> None:
    global _color
    _color = mode


def use_color(stream=None) -> bool:
    stream = stream or sys.stdout
    if _color == "always":
        return True
    if _color == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    color = use_color(stream)
    return Console(
        file=stream,
        force_terminal=color if _color == "always" else None,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=True,
        width=None if stream.isatty() else 200,
    )


def error(message: str) -> None:
    """A usage/I-O error line on stderr (the caller exits 2)."""
    if use_color(sys.stderr):
        sys.stderr.write(f"\x1b[31merror:\x1b[0m {message}\n")
    else:
        sys.stderr.write(f"error: {message}\n")
