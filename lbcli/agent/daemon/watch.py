"""Watch the agent's sources with watchfiles (inotify), debounced: a burst of writes (an editor
saving, `git pull`, `compile -o DIR` rewriting plans) becomes one reconcile.

A file is watched through its directory, so an editor that saves by renaming a new file over
the old one is still seen; only changes to the given files count there. A directory counts every
change below it except editor droppings (hidden files, `~` backups)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable


def roots(paths: list[Path]) -> tuple[list[Path], Callable[[str], bool]]:
    """(directories to watch, filter of changed paths) for the given sources."""
    dirs: set[Path] = set()
    files: set[Path] = set()
    for p in paths:
        p = p.resolve()
        if p.is_dir():
            dirs.add(p)
        else:
            files.add(p)
    watch = sorted(dirs | {f.parent for f in files if f.parent.is_dir()})

    def relevant(changed: str) -> bool:
        c = Path(changed)
        if c.name.startswith(".") or c.name.endswith("~"):
            return False
        return c in files or any(d == c or d in c.parents for d in dirs)

    return watch, relevant


class Watcher(threading.Thread):
    """Calls `on_change(paths)` after each debounced burst of relevant changes; stops with
    `stop()` (watchfiles polls the stop event every `step` ms)."""

    def __init__(self, paths: list[Path], on_change: Callable[[list[str]], None], debounce_ms: int = 300) -> None:
        super().__init__(name="cilium-lb-watch", daemon=True)
        self.dirs, self.relevant = roots(paths)
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self._halt = threading.Event()

    def run(self) -> None:
        if not self.dirs:
            return
        from watchfiles import watch

        for batch in watch(*self.dirs, debounce=self.debounce_ms, step=50, stop_event=self._halt,
                           recursive=True, raise_interrupt=False):
            changed = sorted({p for _, p in batch if self.relevant(p)})
            if changed:
                self.on_change(changed)

    def stop(self) -> None:
        self._halt.set()
