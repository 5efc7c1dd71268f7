"""The agent's side of tier-1 -> tier-2 health: follows the plan in force, probes (probe.py),
keeps the rise/fall state (state.py), and on a transition asks the agent for a reconcile
(trigger `health`). Every run of the agent carries out `adjust(plan)` (table.py), so drift
repair keeps the health-adjusted tables and withdrawals; after a run that applied them, flows
pinned to a T2 that just failed are forgotten (lbcli/agent/datapath/flows.py) and take a
healthy T2 at their next packet. Flows to healthy T2 nodes are never touched.

At start the state is seeded from the host: a T2 node the plan's table has but the live table
of a service lacks was failed when the previous agent stopped, so it stays out until it passes
`rise` probes (a restart neither flaps the tables nor re-announces a withdrawn VIP).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from .config import ProbeConfig, resolve
from .probe import Prober, Result, Target
from .state import HealthState, Pair, Transition
from .table import Withdrawn, adjust


class HealthMonitor:
    def __init__(self, ctx, request: Callable[[str], None], log, overrides: dict | None = None,
                 enabled: bool = True) -> None:
        self.ctx, self.request, self.log = ctx, request, log
        self.overrides = dict(overrides or {})
        self.enabled = enabled
        self.lock = threading.Lock()
        self.config = ProbeConfig()
        self.state = HealthState(self.config.rise, self.config.fall)
        self.plan = None
        self.withdrawn: list[Withdrawn] = []
        self.transitions: dict[Pair, dict[str, int]] = {}  # pair -> {"up": n, "down": n}
        self.last_probe: dict[str, dict[str, Any]] = {}  # T2 -> {ok, error, seconds, at}
        self._t2_ip: dict[str, str] = {}
        self._purge_pending: set[Pair] = set()
        self._purge_ready: set[tuple[str, int, str, str]] = set()
        self._purge_pairs: set[Pair] = set()
        self._bgp_moved = False
        self.flows_purged = 0
        self.prober: Prober | None = None

    # -- plan ---------------------------------------------------------------------------------
    def set_plan(self, plan, seed_from_host: bool = False) -> None:
        cfg = resolve(plan, self.overrides)
        t1 = getattr(plan, "tier1", None)
        pairs: set[Pair] = set()
        by_t2: dict[str, list[str]] = {}
        ips: dict[str, str] = {}
        node_only: set[str] = set()
        if t1 is not None:
            ips = {n.name: n.ip for n in t1.t2_nodes if n.ip}
            for s in t1.services:
                if s.protocol == "UDP":  # HAProxy proxies no UDP: the T2 node's own health speaks
                    node_only.add(s.service)
                for t2 in s.t2_nodes:
                    pairs.add((s.service, t2))
                    by_t2.setdefault(t2, []).append(s.service)
        down = self._down_on_host(plan) if seed_from_host else set()
        with self.lock:
            self.plan, self.config, self._t2_ip = plan, cfg, ips
            if (self.state.rise, self.state.fall) != (cfg.rise, cfg.fall):
                self.state.rise, self.state.fall = cfg.rise, cfg.fall
            self.state.track(pairs, down)
        targets = [Target(t2, ips[t2], tuple(sorted(set(svcs))), tuple(sorted(set(svcs) & node_only)))
                   for t2, svcs in sorted(by_t2.items()) if t2 in ips]
        if down:
            self.log.emit({"event": "health-adopted", "detail": "T2 nodes out of live tables stay out until they pass",
                           "down": [f"{s}@{t}" for s, t in sorted(down)]})
        if not self.enabled:
            return
        if self.prober is None:
            self.prober = Prober(cfg.port, cfg.interval_ms / 1000, cfg.timeout_ms / 1000, self._on_result,
                                 lambda msg: self.log.emit({"event": "probe-failed", "error": msg}, level="error"))
            self.prober.set_targets(targets)
            self.prober.start()
        else:
            self.prober.set_targets(targets, cfg.port, cfg.interval_ms / 1000, cfg.timeout_ms / 1000)

    def stop(self) -> None:
        if self.prober is not None:
            self.prober.stop()
            self.prober = None

    def _down_on_host(self, plan) -> set[Pair]:
        """(service, T2) pairs the plan's table has but the live table lacks."""
        t1 = getattr(plan, "tier1", None)
        if t1 is None:
            return set()
        from ..datapath import layout as L

        pin_dir = Path(self.ctx.bpf_root) / self.ctx.node
        if not all((pin_dir / m).exists() for m in L.MAP_NAMES):
            return set()
        import socket

        from ..datapath.maps import PinnedMaps

        out: set[Pair] = set()
        ips = {n.name: n.ip for n in t1.t2_nodes if n.ip}
        try:
            with PinnedMaps(pin_dir) as maps:
                live = maps.read_services()
                contents: dict[int, set[str]] = {}
                for s in t1.services:
                    entry = live.get((s.vip, s.port, s.protocol))
                    if entry is None:
                        continue
                    k = entry[0]
                    if k not in contents:
                        raw = maps.read_table(k) or b""
                        contents[k] = {socket.inet_ntoa(raw[i:i + 4]) for i in range(0, len(raw), 4)}
                    for t2 in s.t2_nodes:
                        if ips.get(t2) and ips[t2] not in contents[k]:
                            out.add((s.service, t2))
        except Exception as e:  # unreadable maps: start from the plan (all up)
            self.log.emit({"event": "health-adopt-failed", "error": f"{type(e).__name__}: {e}"}, level="error")
            return set()
        return out

    # -- probe results (prober thread) ----------------------------------------------------------
    def _on_result(self, res: Result) -> None:
        changed: list[Transition] = []
        with self.lock:
            self.last_probe[res.t2] = {"ok": res.node_ok, "seconds": round(res.seconds, 6), "at": time.time(),
                                       "error": None if res.node_ok else next(iter(res.services.values()), (0, None))[1]}
            for svc, (ok, why) in res.services.items():
                tr = self.state.observe((svc, res.t2), ok, why)
                if tr is not None:
                    changed.append(tr)
                    n = self.transitions.setdefault((svc, res.t2), {"up": 0, "down": 0})
                    n["up" if tr.up else "down"] += 1
                    if not tr.up:
                        self._purge_pending.add((svc, res.t2))
                    else:
                        self._purge_pending.discard((svc, res.t2))
        for tr in changed:
            self.log.emit({"event": "t2-up" if tr.up else "t2-down", "service": tr.service, "t2": tr.t2,
                           "detail": tr.reason}, level=None if tr.up else "warning")
        if changed:
            self.request("health")

    # -- the agent's run ------------------------------------------------------------------------
    def adjust(self, plan):
        """The plan to carry out now (the health-adjusted `plan`)."""
        with self.lock:
            down = self.state.down()
            pending = set(self._purge_pending)
        try:
            out, withdrawn = adjust(plan, down)
        except Exception as e:  # never let health bookkeeping stop a reconcile: carry out the plan
            self.log.emit({"event": "health-adjust-failed", "error": f"{type(e).__name__}: {e}"}, level="error")
            return plan
        ready: set[tuple[str, int, str, str]] = set()
        t1 = getattr(out, "tier1", None)
        if t1 is not None:
            for s in t1.services:
                gone = {t for (svc, t) in pending if svc == s.service and t in s.t2_nodes}
                if gone and not frozenset(s.t2_nodes) <= down.get(s.service, frozenset()):
                    ready |= {(s.vip, s.port, s.protocol, self._t2_ip[t]) for t in gone if t in self._t2_ip}
        prev = {w.prefix for w in self.withdrawn}
        now = {w.prefix for w in withdrawn}
        for p in sorted(now - prev):
            self.log.emit({"event": "vip-withdrawn", "prefix": p, "detail": "no healthy tier-2 node"}, level="warning")
        for p in sorted(prev - now):
            self.log.emit({"event": "vip-announced", "prefix": p, "detail": "a tier-2 node serves it again"})
        with self.lock:
            self.withdrawn = withdrawn
            self._bgp_moved = now != prev
            self._purge_ready, self._purge_pairs = ready, pending
        return out

    def components(self) -> set[str]:
        """What a `health` run carries out: the datapath, and BGP when the last adjust moved a
        VIP in or out (everything else is the period run's: a health run repairs no drift)."""
        with self.lock:
            return {"datapath", "bgp"} if self._bgp_moved else {"datapath"}

    def after_apply(self, report) -> None:
        """After a run: forget flows pinned to the T2 nodes that failed (once the datapath
        carried out the tables without them, so their next packet takes a healthy one)."""
        ok = any(c.component == "datapath" and c.ok for c in getattr(report, "components", ()))
        with self.lock:
            ready, pairs = self._purge_ready, self._purge_pairs
            self._purge_ready, self._purge_pairs = set(), set()
        if not ok:
            return
        if not ready:  # nothing to forget (no healthy T2 to re-dispatch to, or the pair left the plan)
            with self.lock:
                self._purge_pending -= pairs
            return
        from ..datapath.flows import purge

        try:
            n = purge(Path(self.ctx.bpf_root) / self.ctx.node, ready)
        except Exception as e:
            self.log.emit({"event": "flow-purge-failed", "error": f"{type(e).__name__}: {e}"}, level="error")
            return
        with self.lock:
            self._purge_pending -= pairs
            self.flows_purged += n
        if n:
            self.log.emit({"event": "flows-redispatched", "flows": n,
                           "detail": "flows pinned to a failed tier-2 node take a healthy one"})

    # -- what status reads ----------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        """{"services": {svc: {"t2HealthyByT1": n}}, "health": details} for /facts."""
        with self.lock:
            cfg = self.config
            pairs = {p: (st.up, st.last_error, st.since, st.transitions) for p, st in self.state.pairs.items()}
            withdrawn = list(self.withdrawn)
            probes = {k: dict(v) for k, v in self.last_probe.items()}
            purged = self.flows_purged
        services: dict[str, dict[str, Any]] = {}
        detail: dict[str, dict[str, Any]] = {}
        for (svc, t2), (up, err, since, n) in sorted(pairs.items()):
            services.setdefault(svc, {"t2HealthyByT1": 0})["t2HealthyByT1"] += 1 if up else 0
            detail.setdefault(svc, {})[t2] = {"up": up, "error": err, "since": since or None, "transitions": n}
        return {"services": services, "health": {
            "config": {"port": cfg.port, "intervalMs": cfg.interval_ms, "timeoutMs": cfg.timeout_ms,
                       "rise": cfg.rise, "fall": cfg.fall},
            "services": detail, "probes": probes, "flowsRedispatched": purged,
            "withdrawn": [{"prefix": w.prefix, "services": list(w.services), "reason": w.reason} for w in withdrawn]}}

    def metrics(self, node: str):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self.lock:
            pairs = {p: st.up for p, st in self.state.pairs.items()}
            trans = {p: dict(v) for p, v in self.transitions.items()}
            withdrawn = len(self.withdrawn)
            purged = self.flows_purged
            probes = self.prober.probes if self.prober else 0
            overslept = self.prober.inconclusive if self.prober else 0
        up = GaugeMetricFamily("cilium_lb_t2_health_up", "1 when this tier-1 node sends new flows of the service to the T2 node.",
                               labels=["node", "service", "t2"])
        tr = CounterMetricFamily("cilium_lb_t2_health_transitions", "Health transitions of (service, T2 node).",
                                 labels=["node", "service", "t2", "to"])
        for (svc, t2), ok in sorted(pairs.items()):
            up.add_metric([node, svc, t2], 1 if ok else 0)
            for to in ("up", "down"):
                tr.add_metric([node, svc, t2, to], trans.get((svc, t2), {}).get(to, 0))
        yield up
        yield tr
        yield GaugeMetricFamily("cilium_lb_vips_withdrawn_unhealthy", "VIPs withdrawn from BGP: no healthy tier-2 node.",
                                value=withdrawn)
        yield CounterMetricFamily("cilium_lb_t2_health_probes", "Health probes of tier-2 nodes completed.", value=probes)
        yield CounterMetricFamily("cilium_lb_t2_health_probes_inconclusive",
                                  "Probe timeouts the prober overslept (CPU starvation here), counted neither way.",
                                  value=overslept)
        yield CounterMetricFamily("cilium_lb_flows_redispatched", "Flows forgotten because their T2 node failed.",
                                  value=purged)
