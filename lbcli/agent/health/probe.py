"""Probing the tier-2 health endpoints: one asyncio loop in one thread, non-blocking sockets,
at most one probe in flight per T2 node (a slow T2 is never probed twice at once), each
bounded by the timeout and a response size cap.

A probe is one HTTP/1.0 GET of /health/services/0 (then of the further pages it announces) on
the T2 node's underlay address: its answer is HAProxy's view of every service on that node. No
answer (refused, reset, timeout, garbage) fails every service on the T2 node; a service that
is missing from the answer, or whose backends all report 0 usable servers, fails on that node.
A UDP service (HAProxy proxies none) is judged by the node's answer alone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Callable

MAGIC = "cilium-lb-health v1"
MAX_BODY = 64 * 1024
MAX_PAGES = 64


@dataclass(frozen=True)
class Target:
    name: str      # T2 node
    ip: str        # its underlay address
    services: tuple[str, ...]  # services this T1 dispatches to it
    node_only: tuple[str, ...] = ()  # of those, the ones HAProxy does not proxy (UDP): up while the node answers


@dataclass(frozen=True)
class Result:
    t2: str
    node_ok: bool
    services: dict[str, tuple[bool, str | None]]  # service -> (ok, why not)
    seconds: float
    timed_out: bool = False


def conclusive(res: Result, timeout: float) -> bool:
    """False for a timeout the prober itself overslept: its timer fired far later than asked
    (this process or machine was starved of CPU), so the T2's answer may have sat unread. Such
    a probe counts neither way; a hung T2 times out on time and counts."""
    return not res.timed_out or res.seconds <= timeout + max(0.05, timeout / 2)


class ProbeError(Exception):
    pass


def parse_page(text: str) -> tuple[int, dict[str, list[int]]]:
    """A page's body -> (pages in all, service -> usable servers per backend)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith(MAGIC + " page "):
        raise ProbeError("not a cilium-lb health endpoint")
    try:
        total = int(lines[0].rsplit(" ", 1)[1])
    except ValueError:
        raise ProbeError("bad page header") from None
    out: dict[str, list[int]] = {}
    for line in lines[1:]:
        parts = line.split()
        if not parts:
            continue
        try:
            out[parts[0]] = [int(x) for x in parts[1:]]
        except ValueError:
            out[parts[0]] = []
    return max(1, min(total, MAX_PAGES)), out


def judge(target: Target, seen: dict[str, list[int]]) -> dict[str, tuple[bool, str | None]]:
    out = {}
    for svc in target.services:
        counts = seen.get(svc)
        if svc in target.node_only:
            out[svc] = (True, None)
        elif counts is None:
            out[svc] = (False, "not served on this tier-2 node")
        elif not any(c > 0 for c in counts):
            out[svc] = (False, "no usable backend server (HAProxy)")
        else:
            out[svc] = (True, None)
    return out


async def _get(ip: str, port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection(ip, port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {ip}\r\nUser-Agent: cilium-lb-t1\r\n\r\n".encode())
        await writer.drain()
        raw = await reader.read(MAX_BODY + 1024)
        while raw and len(raw) <= MAX_BODY + 1024:
            more = await reader.read(MAX_BODY + 1024 - len(raw) + 1)
            if not more:
                break
            raw += more
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise ProbeError(f"HTTP {status[1].decode(errors='replace') if len(status) > 1 else '?'} from {path}")
    return body.decode("utf-8", errors="replace")


async def probe_once(target: Target, port: int, timeout: float) -> Result:
    t0 = time.monotonic()

    async def run() -> dict[str, list[int]]:
        total, seen = parse_page(await _get(target.ip, port, "/health/services/0"))
        for k in range(1, total):
            seen.update(parse_page(await _get(target.ip, port, f"/health/services/{k}"))[1])
        return seen

    try:
        seen = await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        res = _node_down(target, f"no answer in {timeout * 1000:.0f} ms", t0)
        return Result(res.t2, False, res.services, res.seconds, timed_out=True)
    except (OSError, ProbeError, asyncio.IncompleteReadError) as e:
        return _node_down(target, str(e) or type(e).__name__, t0)
    return Result(target.name, True, judge(target, seen), time.monotonic() - t0)


def _node_down(target: Target, why: str, t0: float) -> Result:
    why = f"tier-2 node: {why}"
    return Result(target.name, False, {s: (False, why) for s in target.services}, time.monotonic() - t0)


class Prober:
    """Probes every target every `interval` seconds in a daemon thread; `on_result` runs in
    that thread for each finished probe."""

    def __init__(self, port: int, interval: float, timeout: float, on_result: Callable[[Result], None],
                 on_error: Callable[[str], None] | None = None):
        self.port, self.interval, self.timeout = port, interval, timeout
        self.on_result = on_result
        self.on_error = on_error or (lambda msg: None)
        self._targets: dict[str, Target] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self.probes = 0
        self.inconclusive = 0  # timeouts overslept by a starved prober (counted neither way)

    def set_targets(self, targets: list[Target], port: int | None = None, interval: float | None = None,
                    timeout: float | None = None) -> None:
        with self._lock:
            self._targets = {t.name: t for t in targets}
            self.port = port or self.port
            self.interval = interval or self.interval
            self.timeout = timeout or self.timeout

    def start(self) -> None:
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            ready.set()
            try:
                self._loop.run_until_complete(self._run())
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=main, name="cilium-lb-health", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)

    async def _run(self) -> None:
        inflight: dict[str, asyncio.Task] = {}
        assert self._stop is not None
        while not self._stop.is_set():
            tick = time.monotonic()
            with self._lock:
                targets, port, timeout, interval = dict(self._targets), self.port, self.timeout, self.interval
            for name, t in targets.items():
                if name in inflight or not t.services:
                    continue
                inflight[name] = asyncio.ensure_future(self._one(t, port, timeout, inflight))
            try:
                await asyncio.wait_for(self._stop.wait(), max(0.0, interval - (time.monotonic() - tick)))
            except asyncio.TimeoutError:
                pass
        for task in inflight.values():
            task.cancel()

    async def _one(self, t: Target, port: int, timeout: float, inflight: dict) -> None:
        try:
            res = await probe_once(t, port, timeout)
            self.probes += 1
            if not conclusive(res, timeout):
                self.inconclusive += 1
                return
            with self._lock:
                current = self._targets.get(t.name)
            if current is not None:
                self.on_result(res)
        except Exception as e:  # a bug must not end probing: said, and the next tick probes again
            self.on_error(f"probe of {t.name}: {type(e).__name__}: {e}")
        finally:
            inflight.pop(t.name, None)
