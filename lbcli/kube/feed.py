"""The agent's copy of the cluster, kept current by watches (`cilium-lb agent --kube`).

One Reflector (watch.py: list, then watch from the list's resourceVersion with bookmarks,
relist on 410, backoff with jitter, bounded resync) per kind the source reads: every LB kind
(the best version the server serves; a CRD that is not installed is an empty kind, retried with
backoff so installing it later is picked up) and every entry of resources.LISTED (this node's
Pods only). Events update an in-memory copy of the objects the pipeline keeps (source.kept);
a change to what a load can read — not a Pod's status, not a Service the set does not use (not
type LoadBalancer, named by no K8sService pool) or an EndpointSlice of one, before and after the
event (ClusterFeed._view; relists and resyncs compare the same view) — asks the agent for a
reconcile, debounced: `debounce` seconds of quiet, at most `max_delay` after the
first change, so a steady stream of events still reaches the node within a second.

Secrets are read by name only (RBAC grants `get`; `list` or `watch` would read every Secret of
the cluster): those the set references are fetched when a load first needs them and re-read
every `secret_poll` seconds, so a rotated certificate reaches the node within that period.

`load()` gives the same LoadResult source.read_cluster makes, from the copy (no API call except
for a Secret not read yet); lint and compile run on it as on files.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Callable

from .client import Kube, KubeError
from .resources import LISTED, SECRET, ApiResource, lb_resources
from .source import LAST_APPLIED, field_selector, kept, load_of, pool_services, service_used, slice_service
from .watch import Backoff, Reflector

Log = Callable[..., None]  # log(record: dict, level: str | None = None)


class _Versions(Reflector):
    """A reflector over the versions of one LB kind, best first: it lists the first version
    the server serves and watches that one. None served (the CRD is not installed): the kind is
    empty and the list is retried with backoff."""

    def __init__(self, kube: Kube, versions: list[ApiResource], on_missing: Callable[[], None], **kw) -> None:
        super().__init__(kube, versions[0], **kw)
        self.versions, self.on_missing = versions, on_missing

    def _list(self) -> str:
        for res in self.versions:
            self.res = res
            try:
                return super()._list()
            except KubeError as e:
                if e.status != 404:
                    raise
        self.on_missing()
        raise KubeError(404, f"{self.versions[0].kind}: the cluster serves no "
                        f"{', '.join(r.api_version for r in self.versions)} (CRD not installed?)", "NotFound")


def connections_needed() -> int:
    """HTTP connections the agent keeps: one per watch, plus Secrets, the Lease and status."""
    return len(lb_resources()) + len(LISTED) + 4


class ClusterFeed:
    def __init__(self, kube: Kube, node: str, log: Log | None = None, *, debounce: float = 0.1,
                 max_delay: float = 0.5, resync: float = 300.0, watch_timeout: int = 300,
                 secret_poll: float = 10.0, backoff: tuple[float, float] = (0.5, 30.0)) -> None:
        self.kube, self.node = kube, node
        self.log = log or (lambda record, level=None: None)
        self.debounce, self.max_delay, self.secret_poll = debounce, max_delay, secret_poll
        self._lock = threading.Condition()
        self._objects: dict[str, dict[tuple[str, str], dict]] = {}  # kind -> (ns, name) -> object
        self._order: list[str] = []  # kinds in source order (LB kinds, then LISTED)
        self._synced: set[str] = set()
        self.served: dict[str, ApiResource] = {}
        self.missing: set[str] = set()
        self._secrets: dict[tuple[str, str], dict | None] = {}
        self._refs: set[tuple[str, str]] = set()  # the Secrets the last load referenced
        self.generation = 0  # bumped by every change of what is kept
        self.ignored = 0  # Service/EndpointSlice events of objects the set does not use
        self.loaded_generation = -1
        self._notify: Callable[[str], None] | None = None
        self._dirty = threading.Event()
        self._changed_kinds: set[str] = set()  # since the last notification
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_error: dict[str, str] = {}
        self.reflectors: dict[str, Reflector] = {}
        kw = dict(watch_timeout=watch_timeout, resync=resync)
        for kind, versions in lb_resources():
            self._order.append(kind)
            self.reflectors[kind] = _Versions(kube, versions, lambda k=kind: self._mark_missing(k),
                                              on_sync=self._syncer(kind), on_event=self._eventer(kind),
                                              on_error=self._errorer(kind), backoff=Backoff(*backoff), **kw)
        for listed in LISTED:
            kind = listed.res.kind
            self._order.append(kind)
            self.reflectors[kind] = Reflector(kube, listed.res, self._syncer(kind), self._eventer(kind),
                                              field_selector=field_selector(listed, node),
                                              on_error=self._errorer(kind), backoff=Backoff(*backoff), **kw)

    # -- life ------------------------------------------------------------------------------
    def start(self) -> None:
        for kind, refl in self.reflectors.items():
            self._spawn(f"cilium-lb-watch-{kind}", refl.run, self._stop)
        self._spawn("cilium-lb-kube-debounce", self._debounce_loop)
        if self.secret_poll > 0:
            self._spawn("cilium-lb-kube-secrets", self._secret_loop)

    def _spawn(self, name: str, target, *args) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def wait_synced(self, timeout: float) -> list[str]:
        """Wait until every kind was listed once (or found not served); the kinds still not
        listed when `timeout` is over (empty: all synced)."""
        end = time.monotonic() + timeout
        with self._lock:
            while len(self._synced) < len(self.reflectors) and not self._stop.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return [k for k in self._order if k not in self._synced]

    def errors(self, kind: str) -> str | None:
        return self._last_error.get(kind)

    def attach(self, request: Callable[[str], None]) -> None:
        """From now on a change calls request("source"); one now if something changed since
        the last load."""
        with self._lock:
            self._notify = request
            pending = self.generation != self.loaded_generation
            if not pending:  # the kinds of the initial sync: the last load has them all
                self._changed_kinds.clear()
        if pending:
            request("source")

    def stop(self) -> None:
        """Stop the threads (a watch blocked on a quiet stream ends at its next event, bookmark
        or timeout: the threads are daemons and are not waited for longer than a moment)."""
        self._stop.set()
        self._dirty.set()
        with self._lock:
            self._lock.notify_all()
        end = time.monotonic() + 0.5  # one short budget for all of them
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))

    # -- the copy --------------------------------------------------------------------------
    def _syncer(self, kind: str):
        def on_sync(items: list[dict], rv: str) -> None:
            refl = self.reflectors[kind]
            new = {}
            for obj in _each_kept(kind, items):
                new[_key(obj)] = obj
            with self._lock:
                self.served[kind] = refl.res
                self.missing.discard(kind)
                first = kind not in self._synced
                self._synced.add(kind)
                changed = _fingerprint(self._view(kind, self._objects.get(kind, {}))) != \
                    _fingerprint(self._view(kind, new))
                self._objects[kind] = new
                if changed:
                    self._changed_kinds.add(kind)
                self._lock.notify_all()
            if self._last_error.pop(kind, None) is not None:
                self.log({"event": "kube-recovered", "kind": kind, "resourceVersion": rv})
            if first:
                self.log({"event": "kube-synced", "kind": kind, "objects": len(new), "resourceVersion": rv})
            if changed:
                self._changed()
        return on_sync

    def _eventer(self, kind: str):
        def on_event(typ: str, obj: dict) -> None:
            key = _key(obj)
            keep = _each_kept(kind, [obj]) if typ != "DELETED" else []
            with self._lock:
                objs = self._objects.setdefault(kind, {})
                old = objs.get(key)
                if keep:
                    new = keep[0]
                    objs[key] = new  # the newest copy, even when nothing the pipeline reads changed
                    if old is not None and _fingerprint({key: old}) == _fingerprint({key: new}):
                        return
                elif old is None:
                    return  # not one the pipeline keeps, and never was
                else:
                    new = None
                    del objs[key]
                # Only what the set uses is loaded (source.used_services): a Service or slice
                # unused before and after this event changes no load -- the copy keeps it
                # (it may become used later; that event is a Service's or a pool's, which counts)
                before = self._view(kind, {key: old} if old is not None else {})
                after = self._view(kind, {key: new} if new is not None else {})
                if not before and not after:
                    self.ignored += 1
                    return
                self._changed_kinds.add(kind)
            self._changed()
        return on_event

    def _view(self, kind: str, objs: dict) -> dict:
        """Of `objs` (of `kind`, held under the lock), those a load can use: for Services the used
        ones, for EndpointSlices those of a used Service (as the copy holds the Services and the
        pools now); every object of every other kind."""
        if kind not in ("Service", "EndpointSlice") or not objs:
            return objs
        wanted = pool_services(list(self._objects.get("LBBackendPool", {}).values()))
        if kind == "Service":
            return {k: o for k, o in objs.items() if service_used(o, wanted)}
        services = self._objects.get("Service", {})
        out = {}
        for k, o in objs.items():
            ns, name = slice_service(o)
            svc = services.get((ns, name))
            if svc is not None and service_used(svc, wanted):
                out[k] = o
        return out

    def _mark_missing(self, kind: str) -> None:
        with self._lock:
            changed = bool(self._objects.get(kind))
            if changed:
                self._changed_kinds.add(kind)
            self._objects[kind] = {}
            self.served.pop(kind, None)
            self.missing.add(kind)
            self._synced.add(kind)
            self._lock.notify_all()
        if changed:
            self._changed()

    def _errorer(self, kind: str):
        def on_error(e: KubeError) -> None:
            text = str(e)
            if self._last_error.get(kind) != text:  # once per distinct error, not per retry
                self._last_error[kind] = text
                level = "info" if e.status == 404 else "error"
                self.log({"event": "kube-watch-error", "kind": kind, "status": e.status, "error": text}, level=level)
        return on_error

    def _changed(self) -> None:
        with self._lock:
            self.generation += 1
        self._dirty.set()

    def _debounce_loop(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(1.0):
                continue
            first = time.monotonic()
            while not self._stop.is_set():
                self._dirty.clear()
                until = min(time.monotonic() + self.debounce, first + self.max_delay)
                if self._stop.wait(max(0.0, until - time.monotonic())):
                    return
                if not self._dirty.is_set() or time.monotonic() >= first + self.max_delay:
                    break
            notify = self._notify
            if notify is not None and not self._stop.is_set():
                with self._lock:
                    kinds, self._changed_kinds = sorted(self._changed_kinds), set()
                    if self.generation == self.loaded_generation:
                        continue  # a load since the change has it already
                self.log({"event": "kube-changed", "kinds": kinds, "generation": self.generation})
                notify("source")

    # -- Secrets, by name ------------------------------------------------------------------
    def _secret(self, ns: str, name: str) -> dict | None:
        key = (ns, name)
        with self._lock:
            if key in self._secrets:
                return copy.deepcopy(self._secrets[key])
        obj = self._get_secret(ns, name)  # KubeError: this load fails, the plan in force stays
        with self._lock:
            self._secrets[key] = obj
        return copy.deepcopy(obj)

    def _get_secret(self, ns: str, name: str) -> dict | None:
        try:
            return _clean(self.kube.get(SECRET, ns, name))
        except KubeError as e:
            if e.status == 404:
                return None  # the ref-secret rule's finding
            raise

    def _secret_loop(self) -> None:
        while not self._stop.wait(self.secret_poll):
            self.poll_secrets()

    def poll_secrets(self) -> bool:
        """Read the referenced Secrets again; True when one changed (a reconcile is asked for)."""
        with self._lock:
            refs = sorted(self._refs)
        changed = False
        for ns, name in refs:
            try:
                obj = self._get_secret(ns, name)
            except KubeError as e:
                self._errorer("Secret")(e)
                continue
            with self._lock:
                if self._secrets.get((ns, name), "absent") != obj:
                    self._secrets[(ns, name)] = obj
                    self._changed_kinds.add("Secret")
                    changed = True
        if changed:
            self._changed()
        return changed

    # -- the load --------------------------------------------------------------------------
    def load(self):
        """The LoadResult of the copy, as source.read_cluster makes it (LB kinds, then LISTED,
        each sorted by namespace and name), with the referenced Secrets."""
        with self._lock:
            gen = self.generation
            objects = []
            for kind in self._order:
                items = [self._objects.get(kind, {})[k] for k in sorted(self._objects.get(kind, {}))]
                objects.extend(kept(kind, items))  # ConfigMap: the one cilium-config that counts
            objects = copy.deepcopy(objects)
        used: set[tuple[str, str]] = set()

        def secret(ns: str, name: str):
            used.add((ns, name))
            return self._secret(ns, name)

        result = load_of(objects, secret)
        with self._lock:
            self._refs = used
            for key in [k for k in self._secrets if k not in used]:
                del self._secrets[key]  # no longer referenced: forgotten, not polled
            self.loaded_generation = gen
        return result

    def status(self) -> dict:
        """Per kind: objects kept, lists, watches, events, bookmarks, 410s, the last error."""
        with self._lock:
            counts = {k: len(v) for k, v in self._objects.items()}
        out = {}
        for kind, refl in self.reflectors.items():
            s = refl.stats
            out[kind] = {"objects": counts.get(kind, 0), "served": kind not in self.missing,
                         "resourceVersion": s.resource_version, "lists": s.lists, "watches": s.watches,
                         "events": s.events, "bookmarks": s.bookmarks, "gone": s.gone,
                         "lastError": self._last_error.get(kind)}
        return {"kinds": out, "secrets": len(self._refs), "generation": self.generation, "ignored": self.ignored}


def _fingerprint(objs: dict) -> dict:
    """What of the objects the pipeline reads: without the bookkeeping that every write moves
    (resourceVersion, generation) and without status conditions — those are the status writer's
    own output, and a reconcile for its echo would change nothing (status.addresses stays: it
    is the cluster's allocation record, an input of compile). Of a Node's status only its
    addresses count (kubelet rewrites the rest: heartbeats, images, allocatable)."""
    out = {}
    for key, obj in objs.items():
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in ("resourceVersion", "generation")}
        status = obj.get("status")
        if isinstance(status, dict) and obj.get("kind") == "Node":
            status = {"addresses": status.get("addresses")}
        elif isinstance(status, dict) and "conditions" in status:
            status = {k: v for k, v in status.items() if k != "conditions"}
        out[key] = {**obj, "metadata": meta, "status": status}
    return out


def _each_kept(kind: str, items: list[dict]) -> list[dict]:
    """Each object as the pipeline keeps it, judged alone (every cilium-config is kept here;
    load() picks the one that counts, so deleting it brings the next one in)."""
    return [k for o in items for k in kept(kind, [_clean(o)])]


def _key(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _clean(obj: dict) -> dict:
    """Server bookkeeping out (managedFields; kubectl's last-applied copy, which holds a
    Secret's data): not the object, and not a change."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        ann = meta.get("annotations")
        if isinstance(ann, dict) and LAST_APPLIED in ann:
            ann.pop(LAST_APPLIED)
            if not ann:
                meta.pop("annotations")
    return obj
