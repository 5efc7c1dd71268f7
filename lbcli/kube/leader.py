"""The agent's status write-back: leader election on the status Lease (lease.py), then the
status writes (status.py) by the holder only.

Why one leader and not a per-node split: see lease.py — the status is one cluster-wide answer
that every node computes alike; a split would write the same answer from N nodes. Timing as
client-go's leader election: the holder renews every `renew` seconds and considers itself the
leader only until `renew_deadline` after the start of its last successful renewal (shorter than
the Lease's `duration`, after which a candidate may take over), so a holder cut off from the API
server stops writing before anyone else can start. Candidates retry every `retry` seconds.

Every load that compiles submits the status it wants (`submit`); the leader writes what differs
(409 -> read again -> retry, status.py). A new leader writes the latest submission at once.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from .client import Kube, KubeError
from .lease import DEFAULT_DURATION, LeaseLock
from .resources import ApiResource
from .status import StatusResult, write_status

Log = Callable[..., None]
MAX_RETRY_WAIT = 60.0  # seconds between retries of a write that keeps failing (403, 5xx)


class StatusWriter:
    def __init__(self, kube: Kube, identity: str, namespace: str, log: Log | None = None, *,
                 duration: int = DEFAULT_DURATION, renew: float = 5.0, renew_deadline: float = 10.0,
                 retry: float = 2.0) -> None:
        if not 0 < renew < renew_deadline < duration:
            raise ValueError("lease timing: 0 < renew < renew_deadline < duration")
        self.kube = kube
        self.lock = LeaseLock(kube, identity, namespace, duration=duration)
        self.log = log or (lambda record, level=None: None)
        self.renew, self.renew_deadline, self.retry = renew, renew_deadline, retry
        self._cond = threading.Condition()
        self._want: tuple[dict, dict[str, ApiResource]] | None = None
        self._dirty = False
        self._valid_until = 0.0  # monotonic: leader until then
        self._leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.results: list[StatusResult] = []  # the last few write rounds (for /status and tests)
        self._failing = 0  # rounds in a row with a failed write: the retry backs off
        self._last_failed: list[str] = []
        self.writes = 0  # objects written since start

    # -- asked by the agent ----------------------------------------------------------------
    def submit(self, want: dict[str, dict], served: dict[str, ApiResource]) -> None:
        with self._cond:
            self._want = (want, dict(served))
            self._dirty = True
            self._cond.notify()

    def is_leader(self) -> bool:
        return self._leading and time.monotonic() < self._valid_until

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cilium-lb-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop; a leader gives the Lease back so the next one need not wait it out."""
        self._stop.set()
        with self._cond:
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(5)
        if self._leading:
            try:
                self.lock.release()
            except KubeError:
                pass  # it expires by itself
            self._leading = False

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        next_try = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_try:
                self._elect()
                next_try = time.monotonic() + (self.renew if self._leading else self.retry)
            with self._cond:
                job = self._want if (self._dirty and self.is_leader()) else None
                if job is not None:
                    self._dirty = False
            if job is not None:
                self._write(*job)
            with self._cond:
                if not (self._dirty and self.is_leader()) and not self._stop.is_set():
                    self._cond.wait(max(0.0, next_try - time.monotonic()))

    def _elect(self) -> None:
        started = time.monotonic()
        try:
            won = self.lock.try_acquire()
        except KubeError as e:
            won = False
            self.log({"event": "lease-error", "lease": f"{self.lock.namespace}/{self.lock.name}", "error": str(e)},
                     level="error")
        if won:
            self._valid_until = started + self.renew_deadline
            if not self._leading:
                self._leading = True
                with self._cond:
                    self._dirty = self._want is not None  # a new leader writes the latest status
                self.log({"event": "lease-acquired", "lease": f"{self.lock.namespace}/{self.lock.name}",
                          "detail": "this agent writes status"})
        elif self._leading and not self.is_leader():
            self._leading = False
            self.log({"event": "lease-lost", "lease": f"{self.lock.namespace}/{self.lock.name}",
                      "detail": "status left to the new holder"}, level="error")

    def _write(self, want: dict[str, dict], served: dict[str, ApiResource]) -> None:
        try:
            result = write_status(self.kube, served, want, still_leader=self.is_leader)
        except KubeError as e:  # write_status turns API errors into values; this is a bug guard
            result = StatusResult(failed=[str(e)])
        self.results = self.results[-9:] + [result]
        self.writes += len(result.written)
        if result.written or result.conflicts or (result.failed and result.failed != self._last_failed):
            self.log({"event": "status", "written": len(result.written), "unchanged": len(result.unchanged),
                      "conflicts": result.conflicts, "failed": len(result.failed)},
                     level="error" if result.failed else None)
            for f in result.failed if result.failed != self._last_failed else ():
                self.log({"event": "status-failed", "error": f}, level="error")  # once, not per retry
        self._last_failed = result.failed
        self._failing = self._failing + 1 if result.failed else 0
        if result.failed or result.skipped:
            with self._cond:
                self._dirty = True  # try again (a new submission replaces what is retried)
            self._stop.wait(min(MAX_RETRY_WAIT, self.retry * 2 ** min(self._failing, 10)))
