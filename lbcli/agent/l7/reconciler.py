"""The L7 reconciler: plan tier2 + secrets -> a running HAProxy on this node.

Changes are applied without dropping connections and never by a restart: server weights,
drain and maintenance through the runtime API; anything structural (listeners, routes,
certificates, users, new or removed servers) by a checked, seamless master-worker reload.

Observe reads what runs, not only what was written: besides the files, the running process's
frontends, backends and servers (`show stat`, HAProxy's CSV) and each server's address, port,
weight and admin state (`show servers state`). A frontend paused through the socket (`disable
frontend`) is enabled again, a server moved (`set server ... addr`) is set back, one put in
maint or drain is made ready; a frontend, backend or server missing from the running process (or
one stopped for good: `shutdown frontend`) takes a seamless reload.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lbcli.agent.l7.model import L7Model, model_from_plan
from lbcli.agent.l7.process import HAProxyError, HAProxyPaths, HAProxyProcess, check_config
from lbcli.agent.l7.render import DEFAULT_HEALTH_PORT, Rendered, render, skeleton
from lbcli.agent.l7.runtime import (
    ADMIN_FORCED_DRAIN,
    ADMIN_FORCED_MAINT,
    RuntimeError_,
    ServerStat,
)

# `show stat` status of a frontend: OPEN serves, PAUSED (`disable frontend`) can be enabled
# again through the socket, STOP (`shutdown frontend`) only by a reload
FRONTEND_PAUSED = "PAUSED"
FRONTEND_OPEN = "OPEN"
from lbcli.agent.l7.secrets import Secrets
from lbcli.agent.reconciler import Change, ComponentResult, NodeContext, ObjectResult
from lbcli.plan.types import NodePlan

COMPONENT = "l7"


@dataclass
class L7Desired:
    model: L7Model | None  # None: not a tier-2 node, nothing may run
    secrets: Secrets
    rendered: Rendered | None


# -- the objects it changes (Change.spec) ----------------------------------------------------
@dataclass(frozen=True)
class Install:
    """Check, write and start (or seamlessly reload) HAProxy with `desired`."""

    desired: L7Desired
    start: bool


@dataclass(frozen=True)
class Remove:
    """Stop HAProxy and remove its files."""


@dataclass(frozen=True)
class ServerWeight:
    backend: str
    server: str
    weight: int


@dataclass(frozen=True)
class ServerReady:
    backend: str
    server: str


@dataclass(frozen=True)
class ServerAddr:
    backend: str
    server: str
    address: str
    port: int


@dataclass(frozen=True)
class FrontendEnable:
    frontend: str


@dataclass(frozen=True)
class ConfigText:
    """haproxy.cfg rewritten with the runtime weights (no reload)."""

    config: str = field(repr=False)


@dataclass
class L7Observed:
    running: bool
    master_pid: int | None
    config: str | None  # haproxy.cfg on disk
    users_sha256: str | None
    files: dict[str, str]  # relative path -> sha256 of what is on disk
    # runtime server state: (backend, server) -> (user weight, admin state bits)
    servers: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    runtime_error: str | None = None
    # what the running process has (None: not read): frontend -> status, backends, and
    # (backend, server) -> (address, port)
    frontends: dict[str, str] | None = None
    backends: frozenset[str] = frozenset()
    addresses: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceHealth:
    """What `lb status` shows for one service on this T2 node (T2 and HC T2->B columns)."""

    service: str
    served: bool
    healthy: bool  # served and at least one usable backend server
    servers: tuple[ServerStat, ...]


@dataclass(frozen=True)
class L7Status:
    node: str
    running: bool
    services: tuple[ServiceHealth, ...]
    warnings: tuple[str, ...] = ()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _write(path: Path, content: bytes, mode: int) -> None:
    """Durable, atomic write with the mode set before the content lands (keys never
    world-readable)."""
    from lbcli.agent.state import write_bytes

    write_bytes(path, content, mode)


def _sections(config: str) -> set[str]:
    return {l for l in config.splitlines() if l and not l[0].isspace() and not l.startswith("#")}


def _names(config: str, kind: str) -> set[str]:
    """Names of the `kind` sections (frontend, backend) of a configuration we rendered."""
    return {line.split()[1] for line in _sections(config) if line.startswith(kind + " ") and len(line.split()) > 1}


def _missing_from_process(r: Rendered, observed: L7Observed) -> list[str]:
    """What the rendered configuration has that the running process lacks (or holds stopped
    for good): only a reload brings it back. Empty when the process was not read."""
    if observed.frontends is None:
        return []
    out = []
    fes = _names(r.config, "frontend")
    missing = sorted(fes - set(observed.frontends))
    stopped = sorted(f for f in fes & set(observed.frontends)
                     if observed.frontends[f] not in (FRONTEND_OPEN, FRONTEND_PAUSED))
    bes = sorted(_names(r.config, "backend") - observed.backends)
    want = set(r.weights)
    ours = {k for k in observed.addresses if k[0] in _names(r.config, "backend")}
    if missing:
        out.append("running process lacks frontend " + ", ".join(missing))
    if stopped:
        out.append("frontend " + ", ".join(f"{f} {observed.frontends[f]}" for f in stopped))
    if bes:
        out.append("running process lacks backend " + ", ".join(bes))
    if want - ours:
        out.append("running process lacks server " + ", ".join(f"{b}/{s}" for b, s in sorted(want - ours)))
    if ours - want:
        out.append("running process has extra server " + ", ".join(f"{b}/{s}" for b, s in sorted(ours - want)))
    return out


def _changed_sections(old: str, new: str) -> list[str]:
    """Names of the top-level sections whose bodies differ (for a readable change detail)."""
    out: set[str] = set()
    section = ""
    for tag, line in (
        (d[0], d[2:]) for d in difflib.ndiff(old.splitlines(), new.splitlines()) if d[:1] in "+- "
    ):
        if line and not line[0].isspace() and not line.startswith("#"):
            section = line
        if tag in "+-":
            out.add(section or "global")
    return sorted(out)


def _local(ip: str | None) -> str | None:
    """`ip` when a link in this namespace holds it (HAProxy can bind it), else None."""
    if not ip:
        return None
    from lbcli.agent.host import netlink as nl

    try:
        return ip if nl.link_by_address(ip) else None
    except Exception:  # no netlink here: bind everywhere rather than fail to start
        return None


class L7Reconciler:
    name = COMPONENT

    def __init__(self, ctx: NodeContext, health_port: int = DEFAULT_HEALTH_PORT, binary: str = "haproxy"):
        self.ctx = ctx
        self.health_port = health_port
        self.binary = binary
        self.paths = HAProxyPaths.for_node(ctx.state_dir, ctx.node)
        self.proc = HAProxyProcess(self.paths, binary)
        self._warnings: list[str] = []
        self._health_addr: str | None = None  # from the plan (desired)
        self._plan_health_port: int | None = None

    # -- desired --------------------------------------------------------------------------
    def desired(self, plan: NodePlan | Mapping[str, Any], secrets: Secrets) -> L7Desired:
        if not isinstance(plan, NodePlan):
            plan = NodePlan.from_json(plan)  # a JSON form is read through the types
        model = model_from_plan(plan)
        if model is None:
            return L7Desired(None, secrets, None)
        # the health endpoint tier 1 probes: on the underlay address, at the plan's port if set
        internal_ip = plan.node.internal_ip
        self._health_addr = _local(internal_ip or None)
        self._plan_health_port = plan.tier2.health_port if plan.tier2 is not None else None
        rendered = self._render(model, secrets, self.paths.dir)
        self._warnings = list(rendered.warnings)
        if internal_ip and self._health_addr is None:
            self._warnings.append(f"the node's internalIP {internal_ip} is on no link here: "
                                  "the health endpoint listens on every address")
        return L7Desired(model, secrets, rendered)

    def _render(self, model: L7Model, secrets: Secrets, base: Path) -> Rendered:
        return render(model, secrets, base, self.ctx.node, self._plan_health_port or self.health_port,
                      self._health_addr)

    # -- observe --------------------------------------------------------------------------
    def observe(self) -> L7Observed:
        pid = self.proc.master_pid()
        config = self.paths.config.read_text() if self.paths.config.exists() else None
        users = _sha(self.paths.users.read_bytes()) if self.paths.users.exists() else None
        files: dict[str, str] = {}
        if self.paths.files.is_dir():
            for p in sorted(self.paths.files.iterdir()):
                if p.is_file() and not p.name.startswith("."):
                    files[f"files/{p.name}"] = _sha(p.read_bytes())
        obs = L7Observed(running=pid is not None, master_pid=pid, config=config, users_sha256=users, files=files)
        if pid is not None:
            try:
                for s in self.proc.runtime.show_servers_state():
                    obs.servers[(s.backend, s.server)] = (s.user_weight, s.admin_state)
                    obs.addresses[(s.backend, s.server)] = (s.address, s.port)
                rows = self.proc.runtime.show_stat_rows()
                obs.frontends = {r.proxy: r.status for r in rows if r.kind == "frontend"}
                obs.backends = frozenset(r.proxy for r in rows if r.kind == "backend")
            except RuntimeError_ as e:
                obs.runtime_error = str(e)
        return obs

    # -- diff -----------------------------------------------------------------------------
    def diff(self, desired: L7Desired, observed: L7Observed) -> list[Change]:
        node = f"haproxy {self.ctx.node}"
        r = desired.rendered
        if r is None:
            if observed.running or observed.config is not None:
                return [Change(COMPONENT, "delete", node, "not a tier-2 node: stop HAProxy, remove its files",
                               Remove(), critical=True)]
            return []
        want_files = {k: _sha(v.content) for k, v in r.files.items()}
        n_fe = sum(1 for s in _sections(r.config) if s.startswith("frontend "))
        n_be = sum(1 for s in _sections(r.config) if s.startswith("backend "))
        if not observed.running:
            return [Change(COMPONENT, "create", node, f"start master-worker: {n_fe} frontends, {n_be} backends",
                           Install(desired, start=True), critical=True)]
        reasons = []
        if observed.config is None or skeleton(observed.config) != skeleton(r.config):
            changed = _changed_sections(skeleton(observed.config or ""), skeleton(r.config))
            reasons.append("sections " + ", ".join(changed) if changed else "configuration")
        if observed.users_sha256 != _sha(r.users.encode()):
            reasons.append("basic-auth users")
        if observed.files != want_files:
            differ = sorted(set(observed.files.items()) ^ set(want_files.items()))
            reasons.append("files " + ", ".join(sorted({k.split("/", 1)[1] for k, _ in differ})))
        if not reasons and not observed.runtime_error:
            reasons = _missing_from_process(r, observed)
        if reasons or observed.runtime_error:
            detail = "seamless reload: " + "; ".join(reasons or [f"runtime API unreachable ({observed.runtime_error})"])
            return [Change(COMPONENT, "update", node, detail, Install(desired, start=False), critical=True)]
        changes: list[Change] = []
        for fe, status in sorted((observed.frontends or {}).items()):
            if status == FRONTEND_PAUSED and fe in _names(r.config, "frontend"):
                changes.append(Change(COMPONENT, "update", f"frontend {fe}", "paused -> enabled (runtime API)",
                                      FrontendEnable(fe)))
        for (be, srv), (addr, port) in sorted(r.addresses.items()):
            have_addr = observed.addresses.get((be, srv))
            if have_addr is not None and have_addr != (addr, port):
                changes.append(Change(COMPONENT, "update", f"server {be}/{srv}",
                                      f"address {have_addr[0]}:{have_addr[1]} -> {addr}:{port} (runtime API)",
                                      ServerAddr(be, srv, addr, port)))
        for (be, srv), weight in sorted(r.weights.items()):
            have = observed.servers.get((be, srv))
            if have is None:
                continue  # the skeletons agree, so the server exists; a racing reload will show it
            uweight, admin = have
            if admin & (ADMIN_FORCED_MAINT | ADMIN_FORCED_DRAIN):
                changes.append(Change(COMPONENT, "update", f"server {be}/{srv}", "state -> ready (runtime API)",
                                      ServerReady(be, srv)))
            if uweight != weight:
                changes.append(
                    Change(COMPONENT, "update", f"server {be}/{srv}", f"weight {uweight} -> {weight} (runtime API)",
                           ServerWeight(be, srv, weight))
                )
        if observed.config != r.config:
            changes.append(Change(COMPONENT, "update", "haproxy.cfg", "rewrite server weights (no reload)",
                                  ConfigText(r.config)))
        return changes

    # -- apply ----------------------------------------------------------------------------
    def apply(self, ch: Change) -> str | None:
        spec = ch.spec
        if isinstance(spec, Remove):
            self._remove()
        elif isinstance(spec, Install):
            self._install(spec.desired, start=spec.start)
        elif isinstance(spec, ServerWeight):
            self.proc.runtime.set_weight(spec.backend, spec.server, spec.weight)
        elif isinstance(spec, ServerReady):
            self.proc.runtime.set_state(spec.backend, spec.server, "ready")
        elif isinstance(spec, ServerAddr):
            self.proc.runtime.set_addr(spec.backend, spec.server, spec.address, spec.port)
        elif isinstance(spec, FrontendEnable):
            self.proc.runtime.enable_frontend(spec.frontend)
        elif isinstance(spec, ConfigText):
            _write(self.paths.config, spec.config.encode(), 0o644)
        else:
            raise TypeError(f"l7: unknown change {ch.object}")
        return None

    def finish(self, result: ComponentResult) -> None:
        """Render warnings (e.g. a hostname pool without resolvers) surface as `degraded`."""
        if self._warnings and not result.degraded:
            result.degraded = "; ".join(sorted(set(self._warnings)))

    def _check(self, d: L7Desired, staging: Path) -> None:
        """Render into `staging` and run `haproxy -c` there; raises HAProxyError when rejected.
        `staging` is removed afterwards."""
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staged = self._render(d.model, d.secrets, staging)
            for rel, spec in staged.files.items():
                _write(staging / rel, spec.content, spec.mode)
            _write(staging / "haproxy.cfg", staged.config.encode(), 0o600)
            _write(staging / "users.cfg", staged.users.encode(), 0o600)
            err = check_config(self.binary, staging / "haproxy.cfg", staging / "users.cfg")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if err:
            raise HAProxyError(f"generated configuration rejected by haproxy -c: {err}")

    def preflight(self, changes: list[Change]) -> ComponentResult:
        """What apply() would refuse, checked without touching the node: the configuration
        rendered into a temporary directory and `haproxy -c` on it."""
        import tempfile

        result = ComponentResult(COMPONENT)
        for ch in changes:
            if isinstance(ch.spec, Install):
                try:
                    with tempfile.TemporaryDirectory(prefix="cilium-lb-check-") as scratch:
                        self._check(ch.spec.desired, Path(scratch) / "staging")
                    result.results.append(ObjectResult(ch, True))
                except (HAProxyError, OSError, ValueError, subprocess.SubprocessError) as e:
                    result.results.append(ObjectResult(ch, False, str(e)))
        return result

    def _install(self, d: L7Desired, start: bool) -> None:
        assert d.model is not None and d.rendered is not None
        # 1. check the whole thing in a staging directory; nothing live is touched if it fails
        self._check(d, self.paths.staging)
        # 2. put it in place; keep the previous config to roll back to if the reload fails
        r = d.rendered
        prev = {p: p.read_bytes() for p in (self.paths.config, self.paths.users) if p.exists()}
        for rel, spec in r.files.items():
            _write(self.paths.dir / rel, spec.content, spec.mode)
        _write(self.paths.users, r.users.encode(), 0o600)
        _write(self.paths.config, r.config.encode(), 0o644)
        if start:
            self.proc.start()
        else:
            try:
                self.proc.reload()
            except HAProxyError:
                for p, content in prev.items():
                    _write(p, content, 0o644 if p == self.paths.config else 0o600)
                raise
        # 3. prune files no longer referenced (after the new workers loaded what they need)
        if self.paths.files.is_dir():
            for p in self.paths.files.iterdir():
                if f"files/{p.name}" not in r.files:
                    p.unlink(missing_ok=True)

    def _remove(self) -> None:
        self.proc.stop()
        shutil.rmtree(self.paths.dir, ignore_errors=True)

    def reset(self) -> ComponentResult:
        ch = Change(COMPONENT, "delete", f"haproxy {self.ctx.node}", "stop HAProxy, remove its files")
        result = ComponentResult(COMPONENT)
        if self.ctx.dry_run:
            result.results.append(ObjectResult(ch, True))
            return result
        try:
            self._remove()
            result.results.append(ObjectResult(ch, True))
        except OSError as e:
            result.results.append(ObjectResult(ch, False, str(e)))
        return result

    # -- status ---------------------------------------------------------------------------
    def status(self, desired: L7Desired | None = None) -> L7Status:
        """Per-service health from the runtime API (for `lb status` and `diff --live`)."""
        running = self.proc.running()
        stats: list[ServerStat] = []
        if running:
            try:
                stats = self.proc.runtime.show_stat()
            except RuntimeError_:
                running = False
        by_service: dict[str, list[ServerStat]] = {}
        for s in stats:
            if s.service:
                by_service.setdefault(s.service, []).append(s)
        expected: dict[str, list[str]] = {}
        warnings: tuple[str, ...] = ()
        if desired is not None and desired.rendered is not None:
            expected = desired.rendered.service_backends
            warnings = tuple(desired.rendered.warnings)
        services = []
        for svc in sorted(set(expected) | set(by_service)):
            servers = tuple(by_service.get(svc, ()))
            served = running and (svc in by_service or bool(expected.get(svc)))
            healthy = served and any(s.healthy and s.weight > 0 for s in servers)
            services.append(ServiceHealth(svc, served, healthy, servers))
        return L7Status(self.ctx.node, running, tuple(services), warnings)
