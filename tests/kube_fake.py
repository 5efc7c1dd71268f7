"""A FAKE Kubernetes API server for the tests — not Kubernetes.

No Kubernetes API server can be installed on these machines (PyPI, Debian and npm checked
twice), so the tests run the real `kubernetes` Python client against this small threaded HTTP
server on 127.0.0.1 that speaks the REST protocol the client and cilium-lb use:

- discovery (/api, /apis, /api/v1, /apis/GROUP/VERSION) for the kinds it is given;
- list with resourceVersion and `limit`/`continue` pages, labelSelector (equality) and
  fieldSelector (metadata.name / metadata.namespace / spec.nodeName, comma-joined);
- watch: JSON lines ADDED/MODIFIED/DELETED from a resourceVersion, BOOKMARK events when
  asked (allowWatchBookmarks), an ERROR event with a 410 Status for a resourceVersion older
  than the compaction point, timeoutSeconds;
- get / create / update (PUT) of objects and of the status subresource: 404 for missing
  objects, 409 Conflict for a stale metadata.resourceVersion or an existing name;
- RBAC: given the rules `cilium-lb manifests` renders, anything they do not grant is 403;
- faults on demand: slow answers, a watch connection dropped mid-stream, 500s, injected 409s,
  and another writer's change racing a status update (its resourceVersion goes stale: 409).
Every request is recorded as (verb, group, resource[/sub], namespace, name).

Not covered (a real API server does these; cilium-lb does not rely on them here): admission,
validation against the CRD schemas, defaulting, field managers / server-side apply, strategic
merge patch, set-based label selectors, authentication beyond a bearer token, HTTP/2,
protobuf, watch cache semantics beyond one global resourceVersion counter.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CORE = [("v1", "Node", "nodes", False), ("v1", "Secret", "secrets", True), ("v1", "Service", "services", True),
        ("v1", "ConfigMap", "configmaps", True), ("v1", "Pod", "pods", True), ("v1", "Endpoints", "endpoints", True)]


class FakeApiServer:
    def __init__(self, resources, token: str = "fake-token") -> None:
        """`resources`: (group, version, kind, plural, namespaced) the server serves."""
        self.types = {}  # (group, version, plural) -> (kind, namespaced)
        for g, v, k, p, ns in resources:
            self.types[(g, v, p)] = (k, ns)
        for v, k, p, ns in CORE:
            self.types.setdefault(("", v, p), (k, ns))
        self.types.setdefault(("coordination.k8s.io", "v1", "leases"), ("Lease", True))
        self.types.setdefault(("discovery.k8s.io", "v1", "endpointslices"), ("EndpointSlice", True))
        self.token = token
        self.lock = threading.Condition()
        self.rv = 100
        self.store: dict[tuple, dict] = {}  # (group, plural, ns, name) -> object (version-free)
        self.events: list[tuple[int, str, tuple, dict]] = []  # (rv, type, key, object)
        self.compacted = 0  # watches from an older resourceVersion get 410 Gone
        self.requests: list[tuple] = []
        self.rbac: list[dict] | None = None  # ClusterRole/Role rules; None = allow all
        self.bookmark_interval = 0.2
        self.delay = 0.0
        self.drop_watch_after: int | None = None  # close the next watch after N events
        self.fail_next: list[int] = []  # answer the next requests with these codes
        self.conflicts_to_inject = 0  # PUTs answered 409 although the version matches
        self.races_on_status = 0  # status PUTs preceded by another writer's change (a real 409)
        self.extra: list[ThreadingHTTPServer] = []  # listeners in other network namespaces
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- life ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "FakeApiServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            self.lock.notify_all()
        for httpd in [self.httpd, *self.extra]:
            httpd.shutdown()
            httpd.server_close()

    def listen_in_netns(self, netns: str) -> str:
        """One more listener on 127.0.0.1 inside network namespace `netns` (/run/netns/NAME),
        serving the same store: agents in a namespace lab reach it on their own loopback. The
        socket is made by a thread that entered the namespace (setns is per thread), so this
        process stays where it is. Returns the listener's URL."""
        import ctypes
        import os

        out: dict = {}

        def bind() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                    out["error"] = OSError(ctypes.get_errno(), f"setns {netns}")
                    return
                out["httpd"] = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
            finally:
                os.close(fd)

        t = threading.Thread(target=bind)
        t.start()
        t.join()
        if "error" in out:
            raise out["error"]
        httpd = out["httpd"]
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.extra.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    def kubeconfig(self, path, context: str = "fake", url: str | None = None) -> str:
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
               "clusters": [{"name": "fake", "cluster": {"server": url or self.url}}],
               "users": [{"name": "u", "user": {"token": self.token}}],
               "contexts": [{"name": context, "context": {"cluster": "fake", "user": "u"}}]}
        path.write_text(json.dumps(doc))
        return str(path)

    # -- state -----------------------------------------------------------------------------
    def _key(self, group, plural, ns, name):
        return (group, plural, ns or "", name)

    def put(self, obj: dict, event: str | None = None) -> dict:
        """Store `obj` (its apiVersion/kind pick the resource) and log the watch event."""
        group, _, version = obj["apiVersion"].rpartition("/")
        plural = next(p for (g, v, p), (k, _) in self.types.items() if g == group and k == obj["kind"])
        meta = obj.setdefault("metadata", {})
        key = self._key(group, plural, meta.get("namespace"), meta["name"])
        with self.lock:
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            meta.setdefault("uid", f"uid-{self.rv}")
            meta.setdefault("generation", 1)
            typ = event or ("MODIFIED" if key in self.store else "ADDED")
            self.store[key] = json.loads(json.dumps(obj))
            self.events.append((self.rv, typ, key, json.loads(json.dumps(obj))))
            self.lock.notify_all()
        return obj

    def delete(self, obj: dict) -> None:
        group = obj["apiVersion"].rpartition("/")[0]
        plural = next(p for (g, v, p), (k, _) in self.types.items() if g == group and k == obj["kind"])
        key = self._key(group, plural, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        with self.lock:
            old = self.store.pop(key)
            self.rv += 1
            old["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, "DELETED", key, old))
            self.lock.notify_all()

    def compact(self) -> None:
        """Forget the event history: watches from any earlier resourceVersion get 410 Gone."""
        with self.lock:
            self.compacted = self.rv
            self.events.clear()

    def get(self, kind: str, ns: str | None, name: str) -> dict | None:
        for (g, plural, n, nm), obj in self.store.items():
            if obj.get("kind") == kind and n == (ns or "") and nm == name:
                return obj
        return None

    def verbs_used(self) -> set[tuple[str, str, str]]:
        return {(v, g, r) for v, g, r, _, _ in self.requests}


def _handler(server: FakeApiServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def do_GET(self):
            self._serve("GET")

        def do_PUT(self):
            self._serve("PUT")

        def do_POST(self):
            self._serve("POST")

        def do_PATCH(self):
            self._serve("PATCH")

        def do_DELETE(self):
            self._serve("DELETE")

        # -- plumbing ------------------------------------------------------------------
        def _send(self, code: int, doc) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _status(self, code: int, reason: str, message: str) -> None:
            self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": message, "reason": reason, "code": code})

        def _body(self) -> dict:
            return json.loads(self._raw or b"{}")

        def _serve(self, method: str) -> None:
            # read the body first, always: an answer that does not (a 403 to a PUT) would leave
            # it on the kept-alive connection, to be parsed as the next request
            self._raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if server.delay:
                time.sleep(server.delay)
            if self.headers.get("Authorization") != f"Bearer {server.token}":
                return self._status(401, "Unauthorized", "Unauthorized")
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            parts = [p for p in url.path.split("/") if p]
            if method == "GET" and self._discovery(parts):
                return
            route = self._route(parts)
            if route is None:
                return self._status(404, "NotFound", f"the server could not find the requested resource ({url.path})")
            group, version, plural, ns, name, sub = route
            verb = {"GET": "get" if name else ("watch" if q.get("watch") in ("true", "1") else "list"),
                    "PUT": "update", "POST": "create", "PATCH": "patch", "DELETE": "delete"}[method]
            resource = plural + (f"/{sub}" if sub else "")
            server.requests.append((verb, group, resource, ns, name))
            if server.fail_next:
                code = server.fail_next.pop(0)
                return self._status(code, "InternalError" if code >= 500 else "Failure", f"injected {code}")
            if not _allowed(server.rbac, verb, group, resource, ns):
                return self._status(403, "Forbidden", f'{resource}.{group or "core"} is forbidden: cannot {verb}')
            kind, namespaced = server.types[(group, version, plural)]
            if verb == "list":
                return self._list(group, version, plural, kind, ns, q)
            if verb == "watch":
                return self._watch(group, plural, ns, q)
            if verb == "get":
                obj = server.store.get(server._key(group, plural, ns, name))
                if obj is None:
                    return self._status(404, "NotFound", f'{plural} "{name}" not found')
                return self._send(200, obj)
            if verb == "create":
                body = self._body()
                key = server._key(group, plural, ns, body.get("metadata", {}).get("name"))
                with server.lock:
                    if key in server.store:
                        return self._status(409, "AlreadyExists", f'{plural} "{key[3]}" already exists')
                    body.setdefault("metadata", {})["namespace"] = ns
                    body.setdefault("apiVersion", f"{group}/{version}" if group else version)
                    body.setdefault("kind", kind)
                    return self._send(201, server.put(body))
            if verb == "update":
                body = self._body()
                key = server._key(group, plural, ns, name)
                with server.lock:
                    cur = server.store.get(key)
                    if cur is None:
                        return self._status(404, "NotFound", f'{plural} "{name}" not found')
                    if sub == "status" and server.races_on_status:
                        # someone else changed the object since the client read it: its
                        # resourceVersion is stale now, and the check below answers 409
                        server.races_on_status -= 1
                        raced = json.loads(json.dumps(cur))
                        raced["metadata"].setdefault("labels", {})["raced"] = str(server.races_on_status)
                        cur = server.put(raced)
                    want = (body.get("metadata") or {}).get("resourceVersion")
                    if server.conflicts_to_inject or (want and want != cur["metadata"]["resourceVersion"]):
                        server.conflicts_to_inject = max(0, server.conflicts_to_inject - 1)
                        return self._status(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": '
                                            "the object has been modified; please apply your changes to the latest version and try again")
                    new = json.loads(json.dumps(cur))
                    if sub == "status":
                        new["status"] = body.get("status")  # the status subresource changes only status
                    else:
                        keep = new.get("status")
                        new = body
                        if keep is not None and plural != "leases":
                            new["status"] = keep
                    return self._send(200, server.put(new))
            return self._status(405, "MethodNotAllowed", f"{verb} is not served by the fake")

        def _discovery(self, parts) -> bool:
            if parts == ["api"]:
                self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
            elif parts == ["apis"]:
                groups = {}
                for g, v, _ in server.types:
                    if g:
                        groups.setdefault(g, set()).add(v)
                self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                    {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in sorted(vs)]}
                    for g, vs in sorted(groups.items())]})
            elif parts in (["api", "v1"],) or (len(parts) == 3 and parts[0] == "apis"):
                g, v = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
                res = [{"name": p, "kind": k, "namespaced": ns, "verbs": ["get", "list", "watch", "create", "update"]}
                       for (gg, vv, p), (k, ns) in sorted(server.types.items()) if gg == g and vv == v]
                if not res:
                    return False
                self._send(200, {"kind": "APIResourceList", "groupVersion": f"{g}/{v}" if g else v, "resources": res})
            else:
                return False
            return True

        def _route(self, parts):
            if parts[:1] == ["api"] and len(parts) >= 3:
                group, version, rest = "", parts[1], parts[2:]
            elif parts[:1] == ["apis"] and len(parts) >= 4:
                group, version, rest = parts[1], parts[2], parts[3:]
            else:
                return None
            ns = None
            if rest[0] == "namespaces" and len(rest) >= 3:
                ns, rest = rest[1], rest[2:]
            plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
            if (group, version, plural) not in server.types:
                return None
            return group, version, plural, ns, name, sub

        def _matches(self, obj, ns, q) -> bool:
            meta = obj.get("metadata") or {}
            if ns is not None and meta.get("namespace") != ns:
                return False
            for sel in filter(None, (q.get("labelSelector") or "").split(",")):
                k, _, v = sel.partition("=")
                if (meta.get("labels") or {}).get(k) != v:
                    return False
            for sel in filter(None, (q.get("fieldSelector") or "").split(",")):
                k, _, v = sel.partition("=")
                fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
                          "spec.nodeName": (obj.get("spec") or {}).get("nodeName")}  # as the Pod field selectors
                if fields.get(k) != v:
                    return False
            return True

        def _list(self, group, version, plural, kind, ns, q):
            with server.lock:
                rv = server.rv
                items = [o for (g, p, _, _), o in sorted(server.store.items()) if g == group and p == plural
                         and self._matches(o, ns, q)]
            start = 0
            if q.get("continue"):
                start, rv = map(int, base64.b64decode(q["continue"]).decode().split(":"))
            limit = int(q.get("limit") or 0)
            page = items[start:start + limit] if limit else items[start:]
            meta = {"resourceVersion": str(rv)}
            if limit and start + limit < len(items):
                meta["continue"] = base64.b64encode(f"{start + limit}:{rv}".encode()).decode()
            items_out = []
            for o in page:
                o = json.loads(json.dumps(o))
                o.pop("apiVersion", None)
                o.pop("kind", None)  # as a real server: list items carry no apiVersion/kind
                items_out.append(o)
            self._send(200, {"kind": f"{kind}List", "apiVersion": f"{group}/{version}" if group else version,
                             "metadata": meta, "items": items_out})

        def _watch(self, group, plural, ns, q):
            since = int(q.get("resourceVersion") or 0)
            deadline = time.monotonic() + float(q.get("timeoutSeconds") or 5)
            bookmarks = q.get("allowWatchBookmarks") == "true"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def chunk(doc) -> None:
                data = (json.dumps(doc) + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            try:
                if since and since < server.compacted:
                    chunk({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                       "message": f"too old resource version: {since} ({server.compacted})",
                                                       "reason": "Expired", "code": 410}})
                    return
                sent, last_bookmark, pos = 0, time.monotonic(), since
                drop = server.drop_watch_after
                server.drop_watch_after = None
                while time.monotonic() < deadline and not getattr(server, "stopped", False):
                    with server.lock:
                        new = [e for e in server.events if e[0] > pos and e[2][0] == group and e[2][1] == plural
                               and (ns is None or e[2][2] == ns) and self._matches(e[3], None, q)]
                        if not new:
                            pos = max(pos, server.rv)  # nothing of ours up to here: bookmarks may say so
                            server.lock.wait(0.05)
                    for rv, typ, _, obj in new:
                        chunk({"type": typ, "object": obj})
                        pos = rv
                        sent += 1
                        if drop is not None and sent >= drop:
                            self.close_connection = True
                            self.wfile.flush()
                            self.connection.shutdown(2)  # dropped mid-stream, no final chunk
                            return
                    if bookmarks and time.monotonic() - last_bookmark >= server.bookmark_interval:
                        chunk({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": str(pos)}}})
                        last_bookmark = time.monotonic()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True

    return Handler


def _allowed(rules, verb, group, resource, ns) -> bool:
    if rules is None:
        return True
    for r in rules:
        if r.get("namespace") is not None and r["namespace"] != ns:
            continue
        if group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]:
            return True
    return False
