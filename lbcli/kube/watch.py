"""List then watch one kind, as client-go's reflector does, for the agent (issue 12) to call.

The contract:
- list (all pages), hand the full set over (`on_sync`), then watch from the list's
  resourceVersion with bookmarks; each ADDED/MODIFIED/DELETED event goes to `on_event` as it
  arrives, a BOOKMARK only moves the resourceVersion on (so a reconnect resumes from there);
- a watch that ends (server timeout) reconnects from the last resourceVersion, no relist;
- 410 Gone (an ERROR event or an HTTP 410: the history is compacted) -> relist;
- any other error (connection lost, 5xx, 403) -> wait with exponential backoff and full
  jitter (base * 2^n, capped, uniformly random in [0, that]) and relist; a success resets it;
- a bounded resync: at most `resync` seconds after a list, the set is listed again and handed
  over whole, so a missed event cannot live longer than that.
Everything is bounded by `stop` (a threading.Event): `run` returns soon after it is set.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .client import Kube, KubeError
from .resources import ApiResource

MAX_ERRORS = 20  # errors kept in WatchStats (a long-running agent retries forever)


@dataclass
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        """Seconds to wait after one more failure (full jitter, AWS-style)."""
        self.failures += 1
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** min(self.failures - 1, 30))))

    def reset(self) -> None:
        self.failures = 0


@dataclass
class WatchStats:
    lists: int = 0
    watches: int = 0
    events: int = 0
    bookmarks: int = 0
    gone: int = 0  # 410s that forced a relist
    errors: list[str] = field(default_factory=list)
    resource_version: str = ""


class Reflector:
    def __init__(self, kube: Kube, res: ApiResource, on_sync: Callable[[list[dict], str], None],
                 on_event: Callable[[str, dict], None], *, namespace: str | None = None,
                 field_selector: str | None = None, watch_timeout: int = 300, resync: float = 600.0,
                 backoff: Backoff | None = None, on_error: Callable[[KubeError], None] | None = None) -> None:
        self.kube, self.res = kube, res
        self.on_sync, self.on_event, self.on_error = on_sync, on_event, on_error
        self.namespace, self.field_selector = namespace, field_selector
        self.watch_timeout, self.resync = watch_timeout, resync
        self.backoff = backoff or Backoff()
        self.stats = WatchStats()

    def run(self, stop: threading.Event) -> WatchStats:
        while not stop.is_set():
            try:
                rv = self._list()
                listed = time.monotonic()
                self.backoff.reset()
                while not stop.is_set():
                    left = self.resync - (time.monotonic() - listed)
                    if left <= 0:
                        break  # bounded resync: list again
                    rv = self._watch(rv, max(1, min(self.watch_timeout, int(left + 0.999))), stop)
                    if rv is None:
                        self.stats.gone += 1
                        break  # 410 Gone: relist
            except KubeError as e:
                if e.status == 410:
                    self.stats.gone += 1
                    continue
                self.stats.errors = self.stats.errors[-(MAX_ERRORS - 1):] + [str(e)]  # a bounded record
                if self.on_error:
                    self.on_error(e)
                stop.wait(self.backoff.next())
        return self.stats

    def _list(self) -> str:
        page = self.kube.list(self.res, self.namespace, field_selector=self.field_selector)
        self.stats.lists += 1
        self.stats.resource_version = page.resource_version
        self.on_sync(page.items, page.resource_version)
        return page.resource_version

    def _watch(self, rv: str, timeout: int, stop: threading.Event) -> str | None:
        """Watch from `rv` until the server ends the stream (-> the last resourceVersion) or a
        410 (-> None). Stops early when `stop` is set (checked per event and bookmark)."""
        self.stats.watches += 1
        for ev in self.kube.watch(self.res, rv, timeout, self.namespace, self.field_selector):
            typ, obj = ev.get("type"), ev.get("object")
            if not isinstance(obj, dict):
                continue
            if typ == "ERROR":
                if obj.get("code") == 410:
                    return None
                raise KubeError(int(obj.get("code") or 0), f"watch {self.res.path(self.namespace)}: "
                                f"{obj.get('reason', '')}: {obj.get('message', '')}", obj.get("reason", ""))
            new_rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
            if typ == "BOOKMARK":
                self.stats.bookmarks += 1
            elif typ in ("ADDED", "MODIFIED", "DELETED"):
                self.stats.events += 1
                self.on_event(typ, obj)
            rv = new_rv
            self.stats.resource_version = rv
            self.backoff.reset()
            if stop.is_set():
                break
        return rv
