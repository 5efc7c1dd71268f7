"""The BGP reconciler: plan's bgp section -> bird.conf -> BIRD (start once, then reload).

Objects: the BIRD daemon of the node ("bird daemon"), one object per peer (its session
options and the prefixes it gets) and the config file itself when only its text differs.
All changes are carried out together by one checked write of bird.conf plus one start or
`configure`; each object still gets its own result. Peers that do not come up are reported
as `degraded`, never raised.

Observe also reads what the running BIRD does (its control socket, by reply code): a protocol
of ours missing from it takes a `configure`; one that is `down` (disabled behind our back:
`birdc disable`) is enabled again; a peer that is established but exports other prefixes than
the plan asks gets `reload out` (BIRD re-evaluates its export filter, the session stays up).
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from lbcli.agent import state as st
from lbcli.agent.bgp import daemon
from lbcli.agent.bgp.control import BirdControl, BirdControlError
from lbcli.agent.bgp.model import BgpModel, BgpModelError, model_from_plan
from lbcli.agent.bgp.render import protocol_names, render_bird_conf
from lbcli.agent.bgp.status import (BgpObserved, DaemonState, parse_bfd_sessions, parse_protocols_all,
                                    parse_route_prefixes, protocol_states, session_problem)
from lbcli.agent.reconciler import Change, ComponentResult, Degraded, NodeContext, ObjectResult
from lbcli.plan.spec import PlanFormatError
from lbcli.plan.types import NodePlan

COMPONENT = "bgp"
APPLIED_KIND = "bgp-applied"
_APPLIED_SHAPE = st.shape(peers=dict)
DAEMON_OBJECT = "bird daemon"
CONFIG_OBJECT = "bird.conf"
BATCH = "bird.conf"  # every change is carried out by one checked write of bird.conf


@dataclass(frozen=True)
class BgpDesired:
    model: BgpModel | None
    config: str = field(default="", repr=False)  # rendered bird.conf; may hold passwords
    error: str | None = None  # the plan cannot be carried out (bad field, missing secret)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.config.encode()).hexdigest()

    @property
    def secrets(self) -> list[str]:
        return list(self.model.passwords.values()) if self.model else []


# -- the objects it changes (Change.spec) ----------------------------------------------------
@dataclass(frozen=True)
class Configure:
    """Part of bird.conf `desired` (the daemon, a peer, the file): all written together."""

    desired: BgpDesired = field(repr=False)


@dataclass(frozen=True)
class Stop:
    """Stop BIRD and remove its files."""


@dataclass(frozen=True)
class Enable:
    """`enable <protocol>` on the control socket (it was disabled behind our back)."""

    protocol: str


@dataclass(frozen=True)
class ReloadOut:
    """`reload out <protocol>`: export to the peer again (the session stays up)."""

    protocol: str


class BirdFailed(RuntimeError):
    """BIRD rejected or could not take the config (the message is redacted)."""


class BgpReconciler:
    name = COMPONENT

    def __init__(self, ctx: NodeContext, settle_timeout: float = 5.0) -> None:
        """settle_timeout: how long apply() waits for sessions to reach Established before
        it reports the missing ones as degraded (0 = do not wait)."""
        self.ctx = ctx
        self.paths = daemon.BirdPaths.for_node(ctx.state_dir, ctx.node)
        self.settle_timeout = settle_timeout
        self.notes: list[str] = []
        self._configured: BgpModel | None = None  # what apply_batch() started or reloaded

    # ---- desired

    def desired(self, plan: NodePlan | Mapping[str, Any],
                secrets: Mapping[str, Mapping[str, Any]] | None = None) -> BgpDesired | None:
        """What the plan asks for; None when it has no bgp section."""
        try:
            model = model_from_plan(plan, secrets)
        except (BgpModelError, PlanFormatError) as e:
            return BgpDesired(model=None, error=f"invalid bgp plan: {e}")
        if model is None:
            return None
        return BgpDesired(model=model, config=render_bird_conf(model, log_file=str(self.paths.log)))

    # ---- observe

    def observe(self) -> BgpObserved:
        applied = self._applied()
        sha = daemon.file_sha256(self.paths.conf)
        pid = daemon.read_pid(self.paths)
        if pid is None:
            return BgpObserved(DaemonState(running=False), config_sha256=sha, applied=applied)
        return query_bird(self.paths, pid, sha, applied)

    def _applied(self) -> dict | None:
        """The secret-free summary of what was applied; only change details come from it, so
        a record that cannot be trusted is dropped (BIRD's config file is what is compared)."""
        try:
            return st.load(self.paths.applied, APPLIED_KIND, _APPLIED_SHAPE, self.notes,
                           repair=not self.ctx.dry_run)
        except st.StateCorrupt as e:
            self.notes.append(f"{e}; ignored: the next change is described from scratch")
            if not self.ctx.dry_run:
                st.remove(self.paths.applied)
            return None

    # ---- diff

    def diff(self, desired: BgpDesired | None, observed: BgpObserved) -> list[Change]:
        if desired is None:
            if observed.daemon.running or observed.config_sha256 or self.paths.dir.exists():
                return [Change(COMPONENT, "delete", DAEMON_OBJECT, "plan has no bgp section: stop bird",
                               Stop(), batch=BATCH, critical=True)]
            return []
        if desired.error:
            return [Change(COMPONENT, "update", CONFIG_OBJECT, desired.error, Configure(desired),
                           batch=BATCH, critical=True)]
        changes: list[Change] = []
        if not observed.daemon.running:
            changes.append(Change(COMPONENT, "create", DAEMON_OBJECT, "start bird", Configure(desired),
                                  batch=BATCH, critical=True))
        if observed.config_sha256 != desired.sha256:
            before = (observed.applied or {}).get("peers", {}) if observed.config_sha256 else {}
            after = desired.model.summary()["peers"]
            peer_changes = _peer_changes(before, after, desired)
            changes += peer_changes
            if not peer_changes:
                changes.append(Change(COMPONENT, "update", CONFIG_OBJECT,
                                      "rendered config differs from the file on disk", Configure(desired),
                                      batch=BATCH, critical=True))
        if not changes:
            changes = _running_changes(desired, observed)
        return changes

    # ---- apply

    def apply(self, change: Change) -> None:
        spec = change.spec
        if isinstance(spec, (Enable, ReloadOut)):
            verb = "enable" if isinstance(spec, Enable) else "reload out"
            try:
                BirdControl(self.paths.ctl, timeout=10.0).check(f"{verb} {spec.protocol}")
            except BirdControlError as e:
                raise BirdFailed(str(e)) from None
            return
        self.apply_batch([change])

    def apply_batch(self, changes: list[Change]) -> None:
        """One checked write of bird.conf, then one start or `configure`; raises BirdFailed
        (Degraded when BIRD is not installed)."""
        spec = changes[0].spec
        if isinstance(spec, Stop):
            try:
                daemon.stop(self.paths)
                daemon.remove_files(self.paths)
            except OSError as e:
                raise BirdFailed(f"could not stop bird: {e}") from None
            return
        desired: BgpDesired = spec.desired
        if desired.error:
            raise BirdFailed(desired.error)
        bird = daemon.find_bird()
        if bird is None:
            raise Degraded(daemon.missing_bird_message())
        try:
            problem = daemon.check_config(bird, desired.config, self.paths, desired.secrets)
        except (OSError, subprocess.SubprocessError) as e:
            raise BirdFailed(f"could not run bird -p: {e}") from None
        if problem:
            raise BirdFailed(f"bird -p rejected the rendered config: {problem}")
        previous = self.paths.conf.read_text() if self.paths.conf.exists() else None
        try:
            daemon.write_private(self.paths.conf, desired.config)
            st.write(self.paths.applied, APPLIED_KIND, desired.model.summary())
            if daemon.read_pid(self.paths) is None:
                daemon.start(bird, self.paths)
            else:
                daemon.configure(self.paths)
        except (daemon.BirdError, OSError, subprocess.SubprocessError) as e:
            if previous is not None and daemon.read_pid(self.paths) is not None:
                daemon.write_private(self.paths.conf, previous)  # keep file == what BIRD runs
                st.remove(self.paths.applied)
            raise BirdFailed(daemon.redact(str(e), desired.secrets)) from None
        self._configured = desired.model

    def finish(self, result: ComponentResult) -> None:
        """Sessions that do not come up are `degraded`, never an error."""
        model, self._configured = self._configured, None
        if model is not None and result.ok:
            result.degraded = self.wait_established(model, self.settle_timeout)

    def preflight(self, changes: list[Change]) -> ComponentResult:
        """What apply() would refuse, checked without touching the node: the plan (passwords
        BIRD cannot quote, missing secrets), BIRD being installed, `bird -p` on the rendered
        config in a temporary directory."""
        import tempfile
        from pathlib import Path

        result = ComponentResult(COMPONENT)
        spec = changes[0].spec if changes else None
        if not isinstance(spec, Configure):
            return result
        desired = spec.desired
        if desired.error:
            return _fail(result, changes, desired.error, error=True)
        bird = daemon.find_bird()
        if bird is None:
            return _fail(result, changes, daemon.missing_bird_message(), error=False)
        try:
            with tempfile.TemporaryDirectory(prefix="cilium-lb-check-") as scratch:
                problem = daemon.check_config(bird, desired.config, self.paths, desired.secrets, Path(scratch))
        except (OSError, subprocess.SubprocessError) as e:
            return _fail(result, changes, f"could not run bird -p: {e}", error=True)
        if problem:
            return _fail(result, changes, f"bird -p rejected the rendered config: {problem}", error=True)
        return result

    def wait_established(self, model: BgpModel, timeout: float) -> str | None:
        """Poll until every peer is Established; the reason per peer that is not, or None."""
        deadline = time.monotonic() + timeout
        ctl = BirdControl(self.paths.ctl, timeout=5.0)
        while True:
            if daemon.read_pid(self.paths) is None:
                return "bird exited after start (see its log: " + str(self.paths.log) + ")"
            try:
                peers = {p.protocol: p for p in parse_protocols_all(ctl.check("show protocols all").text())}
            except BirdControlError as e:
                return str(e)
            down = [(p, peers.get(p.protocol)) for p in model.peers]
            down = [(p, s) for p, s in down if s is None or not s.established]
            if not down:
                return None
            if time.monotonic() >= deadline:
                return "; ".join(f"peer {p.key} {p.address}: " +
                                 (session_problem(s) if s else "not configured") for p, s in down)
            time.sleep(0.05)

    # ---- reset

    def reset(self) -> ComponentResult:
        change = Change(COMPONENT, "delete", DAEMON_OBJECT, "stop bird and remove its files", Stop())
        result = ComponentResult(COMPONENT)
        try:
            self.apply_batch([change])
        except BirdFailed as e:
            return _fail(result, [change], str(e), error=True)
        result.results = [ObjectResult(change, ok=True)]
        return result


def _running_changes(desired: BgpDesired, observed: BgpObserved) -> list[Change]:
    """What the running BIRD does differently from the config it was given (the file is right)."""
    if observed.protocols is None or desired.model is None:
        return []
    want = protocol_names(desired.model)
    missing = [p for p in want if p not in observed.protocols]
    if missing:
        return [Change(COMPONENT, "update", CONFIG_OBJECT, "running BIRD lacks protocol " + ", ".join(missing),
                       Configure(desired), batch=BATCH, critical=True)]
    out = [Change(COMPONENT, "update", f"protocol {p}", "down -> enabled (control socket)", Enable(p))
           for p in want if observed.protocols[p] == "down"]
    if out:
        return out
    for peer in desired.model.peers:
        s = observed.peer(peer.protocol)
        if s is None or not s.established:
            continue
        have, wanted = set(observed.exported.get(peer.protocol, ())), set(peer.prefixes)
        if have != wanted:
            gone, extra = sorted(wanted - have), sorted(have - wanted)
            detail = "; ".join(x for x in (("not exported: " + ", ".join(gone)) if gone else "",
                                           ("exported but not in plan: " + ", ".join(extra)) if extra else "") if x)
            out.append(Change(COMPONENT, "update", f"bgp peer {peer.key} {peer.address}",
                              detail + " -> reload out (control socket)", ReloadOut(peer.protocol)))
    return out


def _fail(result: ComponentResult, changes: list[Change], msg: str, *, error: bool) -> ComponentResult:
    result.results = [ObjectResult(c, ok=False, error=msg) for c in changes]
    if error:
        result.error = msg
    else:
        result.degraded = msg
    return result


def _peer_changes(before: dict, after: dict, desired: BgpDesired) -> list[Change]:
    """One change per peer whose session options or prefixes differ; details never hold
    secrets (auth shows up only as 'auth changed')."""
    out: list[Change] = []
    addr = {k: v["address"] for k, v in {**before, **after}.items()}
    for key in sorted(set(before) | set(after)):
        obj = f"bgp peer {key} {addr[key]}"
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if old is None:
            detail = f"add, {len(new['prefixes'])} prefixes"
            out.append(Change(COMPONENT, "create", obj, detail, Configure(desired), batch=BATCH, critical=True))
        elif new is None:
            out.append(Change(COMPONENT, "delete", obj, "remove session", Configure(desired), batch=BATCH,
                              critical=True))
        else:
            out.append(Change(COMPONENT, "update", obj, _peer_detail(old, new), Configure(desired), batch=BATCH,
                              critical=True))
    return out


def _peer_detail(old: dict, new: dict) -> str:
    parts = []
    op, np = old.get("prefixes", {}), new.get("prefixes", {})
    added = sorted(set(np) - set(op))
    removed = sorted(set(op) - set(np))
    changed = sorted(p for p in set(np) & set(op) if np[p] != op[p])
    for label, items in (("+", added), ("-", removed), ("~", changed)):
        if items:
            shown = ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
            parts.append(f"{label}{shown}")
    for k in sorted(set(old) | set(new)):
        if k != "prefixes" and old.get(k) != new.get(k):
            parts.append("auth changed" if k == "auth" else f"{k} {old.get(k)} -> {new.get(k)}")
    return "; ".join(parts)


def query_bird(paths: daemon.BirdPaths, pid: int, config_sha256: str | None = None,
               applied: dict | None = None) -> BgpObserved:
    """Ask the running BIRD for sessions, BFD and exported prefixes per peer."""
    ctl = BirdControl(paths.ctl, timeout=10.0)
    try:
        status = ctl.check("show status")
        version = next((t for c, t in status.lines if c == 1000), None)
        protocols = ctl.check("show protocols all")
        peers = parse_protocols_all(protocols.text())
        bfd_reply = ctl.command("show bfd sessions")  # error when no BFD protocol is configured
        bfd = parse_bfd_sessions(bfd_reply.text()) if bfd_reply.ok else []
        exported: dict[str, tuple[str, ...]] = {}
        for p in peers:
            prefixes: list[str] = []
            for table in p.tables:
                if p.established:
                    prefixes += parse_route_prefixes(
                        ctl.check(f"show route table {table} export {p.protocol}").text())
            exported[p.protocol] = tuple(prefixes)
    except BirdControlError as e:
        return BgpObserved(DaemonState(running=True, pid=pid, error=str(e)),
                           config_sha256=config_sha256, applied=applied)
    return BgpObserved(DaemonState(running=True, pid=pid, version=version), config_sha256=config_sha256,
                       applied=applied, peers=tuple(peers), bfd=tuple(bfd), exported=exported,
                       protocols=protocol_states(list(protocols.lines)))
