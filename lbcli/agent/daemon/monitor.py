"""Event-driven drift detection: the kernel and the daemons say when something changed, so the
agent repairs within a debounce plus one targeted run, and idles at no cost in between.

Sources, all in the namespace the agent runs in:

    netlink  an rtnetlink socket (pyroute2 IPRoute) bound to the link, IPv4 address, IPv4
             route and tc groups: a link, an address, a route, a qdisc or a tc filter added or
             removed by anyone. pyroute2 reads the socket into its own queue, so a reader
             thread blocks in `IPRoute.get()` and hands message types over (poll(2) on the
             socket would miss what pyroute2 already queued)
    pidfd    one per daemon this node runs (BIRD, the HAProxy master): readable when it exits
             (a HAProxy reload re-executes the master in place, so its pidfd stays valid);
             waited on with poll(2) together with the reader's wake-ups

Events are collected for `debounce` seconds after the first one, mapped to the components that
own what changed (COMPONENTS_BY_EVENT) and handed to `on_drift(components)` once per burst.
What has no event (a sysctl, a BPF map slot, state changed inside a daemon through its control
socket: a server set to maint, a BIRD protocol disabled) is left to the periodic full reconcile
(the safety net, lbcli/agent/daemon/loop.py).

The agent's own changes echo back as events too; the run they trigger finds nothing to do.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from typing import Callable, Iterable

LOST = "events-lost"

# rtnetlink message type -> the components whose objects it concerns (sets: a link carries the
# pod network's VXLAN device, the VIPs on lo and the tc hooks)
COMPONENTS_BY_EVENT: dict[str, frozenset[str]] = {
    "RTM_NEWLINK": frozenset({"network", "receive", "datapath"}),
    "RTM_DELLINK": frozenset({"network", "receive", "datapath"}),
    "RTM_NEWADDR": frozenset({"receive", "network"}),
    "RTM_DELADDR": frozenset({"receive", "network"}),
    "RTM_NEWROUTE": frozenset({"network"}),
    "RTM_DELROUTE": frozenset({"network"}),
    "RTM_NEWQDISC": frozenset({"datapath"}),
    "RTM_DELQDISC": frozenset({"datapath"}),
    "RTM_NEWTFILTER": frozenset({"datapath"}),
    "RTM_DELTFILTER": frozenset({"datapath"}),
    # the socket overflowed or broke (ENOBUFS under a burst): what was lost is unknown
    LOST: frozenset({"network", "receive", "datapath"}),
}


def components_for(events: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for e in events:
        out |= COMPONENTS_BY_EVENT.get(e, frozenset())
    return out


class Monitor(threading.Thread):
    """Watches netlink and the daemons' pids; `daemons()` returns {component: pid or None} for
    the daemons to watch now and is asked again after `refresh()` (the agent calls it after
    every run: a run may have started a daemon)."""

    def __init__(self, on_drift: Callable[[set[str], list[str]], None],
                 daemons: Callable[[], dict[str, int | None]], debounce: float = 0.1,
                 netlink: bool = True) -> None:
        super().__init__(name="cilium-lb-monitor", daemon=True)
        self.on_drift, self.daemons, self.debounce = on_drift, daemons, debounce
        self._use_netlink = netlink
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._halt = threading.Event()
        self._refresh = threading.Event()
        self._refresh.set()
        self._kinds: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self._ipr = None
        self.ready = threading.Event()  # set once netlink is subscribed (or known unavailable)
        self.error: str | None = None  # why event detection is off (the safety net remains)
        self.events = 0  # events seen (netlink messages and daemon exits)

    # -- any thread -----------------------------------------------------------------------
    def refresh(self) -> None:
        self._refresh.set()
        self._wake()

    def stop(self) -> None:
        self._halt.set()
        self._wake()
        ipr = self._ipr
        if ipr is not None:
            try:
                ipr.close()  # ends the reader's blocking get()
            except Exception:
                pass

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # the pipe is full: the thread is awake already
            pass

    # -- the thread -----------------------------------------------------------------------
    def _reader(self) -> None:
        while not self._halt.is_set():
            # pyroute2 keeps its queue per thread: the socket is opened where it is read
            try:
                ipr = self._ipr = _subscribe()
            except Exception as e:  # no netlink here: the periodic reconcile still runs
                self.error = f"netlink events unavailable: {e}"
                return
            finally:
                self.ready.set()
            try:
                while not self._halt.is_set():
                    kinds = [m.get("event") or "" for m in ipr.get()]
                    if kinds:
                        self._kinds.put(kinds)
                        self._wake()
            except Exception as e:  # closed by stop(), or the socket overflowed / broke
                if self._halt.is_set():
                    return
                self.error = f"netlink events lost ({type(e).__name__}: {e}); subscribed again"
                self._kinds.put([LOST])  # a run of everything netlink covers
                self._wake()
                try:
                    ipr.close()
                except Exception:
                    pass
                self._halt.wait(0.5)

    def run(self) -> None:
        pidfds: dict[int, tuple[str, int]] = {}  # fd -> (component, pid)
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        try:
            if self._use_netlink:
                threading.Thread(target=self._reader, name="cilium-lb-netlink", daemon=True).start()
            else:
                self.ready.set()
            pending: set[str] = set()
            why: list[str] = []
            deadline: float | None = None
            while not self._halt.is_set():
                if self._refresh.is_set():
                    self._refresh.clear()
                    self._watch(poller, pidfds)
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready = poller.poll(None if timeout is None else timeout * 1000)
                for fd, _ in ready:
                    if fd == self._wake_r:
                        _drain(fd)
                        while not self._kinds.empty():
                            kinds = self._kinds.get_nowait()
                            self.events += len(kinds)
                            comps = components_for(kinds)
                            if comps:
                                pending |= comps
                                why += sorted(set(kinds))
                    elif fd in pidfds:
                        comp, pid = pidfds.pop(fd)
                        poller.unregister(fd)
                        os.close(fd)
                        self.events += 1
                        pending.add(comp)
                        why.append(f"{comp} daemon pid {pid} exited")
                if pending and deadline is None:
                    deadline = time.monotonic() + self.debounce
                if deadline is not None and time.monotonic() >= deadline:
                    comps, reasons = pending, why
                    pending, why, deadline = set(), [], None
                    self.on_drift(comps, sorted(set(reasons)))
        finally:
            for fd in pidfds:
                os.close(fd)
            if self._ipr is not None:
                try:
                    self._ipr.close()
                except Exception:
                    pass
            os.close(self._wake_r)

    def _watch(self, poller, pidfds: dict[int, tuple[str, int]]) -> None:
        """Open a pidfd for every daemon to watch that is not watched yet; close stale ones."""
        try:
            want = {c: p for c, p in self.daemons().items() if p}
        except Exception:  # a pid file being rewritten: the next refresh tries again
            return
        have = {v: fd for fd, v in pidfds.items()}
        for (comp, pid), fd in list(have.items()):
            if want.get(comp) != pid:
                poller.unregister(fd)
                os.close(fd)
                del pidfds[fd]
        for comp, pid in want.items():
            if (comp, pid) in have:
                continue
            try:
                fd = os.pidfd_open(pid)
            except OSError:  # gone already: the next run starts it again
                continue
            pidfds[fd] = (comp, pid)
            poller.register(fd, select.POLLIN)


def _subscribe():
    from pyroute2 import IPRoute
    from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_LINK, RTMGRP_TC

    ipr = IPRoute()
    ipr.bind(groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_TC)
    return ipr


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def daemon_pids(ctx, plan) -> dict[str, int | None]:
    """The daemons this node's plan runs: {"bgp": BIRD's pid, "l7": HAProxy master's pid}."""
    out: dict[str, int | None] = {}
    if plan is None:
        return out
    if plan.bgp is not None:
        from ..bgp import daemon

        out["bgp"] = daemon.read_pid(daemon.BirdPaths.for_node(ctx.state_dir, ctx.node))
    if plan.tier2 is not None:
        from ..l7.process import HAProxyPaths, HAProxyProcess

        out["l7"] = HAProxyProcess(HAProxyPaths.for_node(ctx.state_dir, ctx.node)).master_pid()
    return out
