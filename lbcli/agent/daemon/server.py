"""The agent's local HTTP endpoint (bound only where `--listen` says):

    /status   the agent: last run, runs per trigger, errors, drift repairs, prefixes withheld
    /facts    this node's observed facts per service (lbcli.agent.facts; what
              `lb status --agent` merges into the live columns)
    /plan     the plan in force (canonical JSON, no secret material: plans carry digests only)
    /metrics  Prometheus text (prometheus-client): per-VIP packets and bytes, T2 and backend
              health per service, BGP session and BFD state, routes announced, reconcile runs,
              durations, errors and drift repairs

Facts are read from the host at request time (BPF counters, BIRD's and HAProxy's sockets), under
no lock: reads never change anything. GET only; anything else is 405.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .loop import BUCKETS, Agent


def status_doc(agent: Agent) -> dict[str, Any]:
    with agent.lock:
        s = agent.stats
        last = s.last
        report = agent.report or {}
        return {
            "node": agent.ctx.node, "startedAt": agent.started, "uptimeSeconds": round(time.time() - agent.started, 3),
            "intervalSeconds": agent.interval,
            "lastRun": None if last is None else {"trigger": last.trigger, "startedAt": last.started,
                                                  "durationSeconds": round(last.duration, 6), "ok": last.ok,
                                                  "changes": last.changes, "error": last.error},
            "converged": bool(report.get("ok")),
            "runs": dict(sorted(s.runs.items())), "errors": s.errors,
            "driftRepairs": dict(sorted(s.drift_repairs.items())),
            "events": {"enabled": agent.monitor is not None,
                       "error": getattr(agent.monitor, "error", None),
                       "seen": getattr(agent.monitor, "events", 0), "last": s.last_event},
            "sourceErrors": s.source_errors, "lastSourceError": s.last_source_error,
            "withheld": report.get("withheld", []),
            "healthWithdrawn": [] if agent.health is None else agent.health.facts()["health"]["withdrawn"],
            "components": [{"name": c["name"], "ok": c["ok"], "degraded": c["degraded"], "error": c["error"]}
                           for c in report.get("components", [])],
            **{k: v for f in agent.feeds if hasattr(f, "status") for k, v in f.status().items()},  # --kube
        }


def facts_doc(agent: Agent) -> dict[str, Any]:
    from ..facts import collect

    with agent.lock:
        plan, secrets = agent.plan, agent.secrets
    doc = collect(agent.ctx, plan, secrets)
    if agent.health is not None and getattr(plan, "tier1", None) is not None:
        health = agent.health.facts()  # tier 1's view of tier 2 (HC T1->T2)
        for svc, f in health["services"].items():
            doc["services"].setdefault(svc, {}).update(f)
        doc["services"] = {k: dict(sorted(v.items())) for k, v in sorted(doc["services"].items())}
        doc["health"] = health["health"]
    return doc


def plan_bytes(agent: Agent) -> bytes:
    from ..engine import plan_bytes as canonical

    with agent.lock:
        plan = agent.plan
    return canonical(plan)


class _Collector:
    """Builds every metric at scrape time from the agent's stats and the host."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def describe(self):  # no describe-time collection (it would read the host at registration)
        return []

    def collect(self):
        from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily)

        a = self.agent
        node = a.ctx.node
        with a.lock:
            s = a.stats
            runs, errors, drift = dict(s.runs), s.errors, dict(s.drift_repairs)
            buckets, total = list(s.duration_buckets), s.duration_sum
            count = sum(runs.values())
            plan, withheld = a.plan, len((a.report or {}).get("withheld", []))
            changes = dict(s.changes)
        m = CounterMetricFamily("cilium_lb_reconcile_runs", "Reconcile runs by trigger.", labels=["node", "trigger"])
        for trig, n in sorted(runs.items()):
            m.add_metric([node, trig], n)
        yield m
        yield CounterMetricFamily("cilium_lb_reconcile_errors", "Reconcile runs that did not converge.",
                                  value=errors, labels=None)
        m = CounterMetricFamily("cilium_lb_drift_repairs", "Changes made by event and periodic runs (the host drifted).",
                                labels=["node", "component"])
        for comp, n in sorted(drift.items()):
            m.add_metric([node, comp], n)
        yield m
        m = CounterMetricFamily("cilium_lb_changes", "Changes carried out, by component and action.",
                                labels=["node", "component", "action"])
        for (comp, act), n in sorted(changes.items()):
            m.add_metric([node, comp, act], n)
        yield m
        h = HistogramMetricFamily("cilium_lb_reconcile_duration_seconds", "Duration of reconcile runs.",
                                  labels=["node"])
        h.add_metric([node], [(str(le), c) for le, c in zip(BUCKETS, buckets)] + [("+Inf", count)], total)
        yield h
        yield GaugeMetricFamily("cilium_lb_prefixes_withheld", "Prefixes left out of BGP because the node cannot serve them.",
                                value=withheld)
        if plan is None:
            return
        yield from self._datapath(node, plan)
        yield from self._bgp(node, plan)
        yield from self._services(node)
        if a.health is not None and plan.tier1 is not None:
            yield from a.health.metrics(node)

    def _datapath(self, node: str, plan):
        from prometheus_client.core import CounterMetricFamily

        if plan.tier1 is None:
            return
        from ..datapath.reconciler import service_counters

        pk = CounterMetricFamily("cilium_lb_vip_packets", "Packets tier 1 dispatched per VIP:port.",
                                 labels=["node", "vip", "port", "protocol", "service"])
        by = CounterMetricFamily("cilium_lb_vip_bytes", "Bytes tier 1 dispatched per VIP:port.",
                                 labels=["node", "vip", "port", "protocol", "service"])
        try:
            counters = service_counters(self.agent.ctx)
        except Exception:  # a half-programmed datapath: no counters this scrape
            counters = {}
        for key, c in sorted(counters.items()):
            vp, _, proto = key.rpartition("/")
            vip, _, port = vp.rpartition(":")
            labels = [node, vip, port, proto, c.get("service") or ""]
            pk.add_metric(labels, int(c.get("packets") or 0))
            by.add_metric(labels, int(c.get("bytes") or 0))
        yield pk
        yield by

    def _bgp(self, node: str, plan):
        from prometheus_client.core import GaugeMetricFamily

        if plan.bgp is None:
            return
        from ..bgp.reconciler import BgpReconciler

        obs = BgpReconciler(self.agent.ctx).observe()
        up = GaugeMetricFamily("cilium_lb_bgp_session_established", "1 when the BGP session is Established.",
                               labels=["node", "peer", "address"])
        routes = GaugeMetricFamily("cilium_lb_bgp_routes_announced", "Routes exported to the peer.",
                                   labels=["node", "peer", "address"])
        bfd = GaugeMetricFamily("cilium_lb_bfd_session_up", "1 when the BFD session is Up.",
                                labels=["node", "address", "interface"])
        for p in obs.peers:
            labels = [node, p.description or p.protocol, p.address or ""]
            up.add_metric(labels, 1 if p.established else 0)
            routes.add_metric(labels, p.exported)
        for b in obs.bfd:
            bfd.add_metric([node, b.address, b.interface], 1 if b.up else 0)
        yield GaugeMetricFamily("cilium_lb_bird_running", "1 when BIRD runs.", value=1 if obs.daemon.running else 0)
        yield up
        yield routes
        yield bfd

    def _services(self, node: str):
        from prometheus_client.core import GaugeMetricFamily

        try:
            facts = facts_doc(self.agent)["services"]
        except Exception:
            return
        t2 = GaugeMetricFamily("cilium_lb_service_t2_healthy", "Tier-2 nodes healthy for the service, as this node sees them.",
                               labels=["node", "service"])
        be = GaugeMetricFamily("cilium_lb_service_backends_healthy", "Backends healthy for the service (HAProxy's view).",
                               labels=["node", "service"])
        for svc, f in sorted(facts.items()):
            if "t2Healthy" in f:
                t2.add_metric([node, svc], f["t2Healthy"])
            if "backendsHealthy" in f:
                be.add_metric([node, svc], f["backendsHealthy"])
        yield t2
        yield be


def serve(agent: Agent, host: str, port: int) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; OSError when the address cannot be bound."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(agent))

    class Handler(BaseHTTPRequestHandler):
        server_version = "cilium-lb-agent"

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            try:
                if path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path == "/status":
                    self._json(status_doc(agent))
                elif path == "/facts":
                    self._json(facts_doc(agent))
                elif path == "/plan":
                    self._send(200, plan_bytes(agent), "application/json")
                else:
                    self._json({"error": f"not found: {path} (try /status, /facts, /plan, /metrics)"}, 404)
            except Exception as e:  # a fact that cannot be read now: 503, the agent goes on
                self._json({"error": f"{type(e).__name__}: {e}"}, 503)

        def do_POST(self) -> None:  # noqa: N802
            self._json({"error": "read-only endpoint"}, 405)

        do_PUT = do_DELETE = do_POST

        def _json(self, doc: Any, code: int = 200) -> None:
            self._send(code, (json.dumps(doc, sort_keys=True) + "\n").encode(), "application/json")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # the agent's log is for changes only
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="cilium-lb-http", daemon=True).start()
    return server
