"""A thin client over the official `kubernetes` package: its configuration loading
(kubeconfig, --context, in-cluster service account) and its REST transport (TLS, auth,
token refresh), with raw JSON in and out — objects stay the dicts `kubectl get -o json`
prints, which is what the manifest pipeline reads.

Each request is checked against permissions.py first, so the code cannot call what the RBAC
it ships does not grant.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlencode

from .permissions import allowed
from .resources import ApiResource

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
REQUEST_TIMEOUT = 30.0


class KubeError(Exception):
    """An API or connection error, with the HTTP status (0 when there was no answer)."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ConfigError(Exception):
    """No usable cluster configuration (missing kubeconfig, unknown context): exit 2."""


def connect(kubeconfig: str | None = None, context: str | None = None, connections: int = 0) -> "Kube":
    """A client for the cluster: `kubeconfig` (else $KUBECONFIG, else ~/.kube/config) and
    `context`; in a pod with neither given, the in-cluster service account. `connections`:
    the HTTP connections kept open (the agent holds one per watch: HTTP/1.1, no multiplexing)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        if kubeconfig is None and context is None and os.environ.get(IN_CLUSTER_ENV):
            config.load_incluster_config(client_configuration=cfg)
        else:
            path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
            if not os.path.isfile(path):
                raise ConfigError(f"{path}: no kubeconfig there (give --kubeconfig FILE, or run in a pod)")
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                    persist_config=False)
    except ConfigException as e:
        raise ConfigError(f"kubeconfig: {e}") from None
    except (OSError, ValueError) as e:  # unreadable or malformed kubeconfig
        raise ConfigError(f"kubeconfig: {type(e).__name__}: {e}") from None
    if connections:
        cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, connections)
    return Kube(client.ApiClient(cfg))


@dataclass
class Page:
    items: list[dict]
    resource_version: str


class Kube:
    def __init__(self, api_client) -> None:
        self.api = api_client

    @property
    def host(self) -> str:
        return self.api.configuration.host

    # -- the calls -----------------------------------------------------------------------
    def list(self, res: ApiResource, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None, limit: int = 500) -> Page:
        """Every object (all pages, following `continue`), and the list's resourceVersion."""
        items: list[dict] = []
        cont = None
        while True:
            q = {"limit": limit, "labelSelector": label_selector, "fieldSelector": field_selector, "continue": cont}
            doc = self._json("list", res, "GET", res.path(namespace), q)
            items.extend(_with_kind(i, res) for i in doc.get("items") or [])
            meta = doc.get("metadata") or {}
            cont = meta.get("continue")
            if not cont:
                return Page(items, str(meta.get("resourceVersion") or ""))

    def get(self, res: ApiResource, namespace: str | None, name: str) -> dict:
        return _with_kind(self._json("get", res, "GET", res.path(namespace, name)), res)

    def create(self, res: ApiResource, namespace: str | None, body: dict) -> dict:
        return self._json("create", res, "POST", res.path(namespace), body=body)

    def replace(self, res: ApiResource, namespace: str | None, body: dict, sub: str | None = None) -> dict:
        """PUT with the body's metadata.resourceVersion: the server answers 409 when the object
        changed since it was read (optimistic concurrency)."""
        name = body["metadata"]["name"]
        return self._json("update", res, "PUT", res.path(namespace, name, sub), body=body, sub=sub)

    def watch(self, res: ApiResource, resource_version: str, timeout_seconds: int,
              namespace: str | None = None, field_selector: str | None = None) -> Iterator[dict]:
        """The watch stream's events ({"type", "object"}) as they arrive, bookmarks asked for;
        ends when the server closes the stream. A dropped connection raises KubeError(0)."""
        from urllib3.exceptions import HTTPError

        q = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
             "timeoutSeconds": timeout_seconds, "fieldSelector": field_selector}
        resp = self._request("watch", res, "GET", res.path(namespace), q, None, None,
                             timeout=(REQUEST_TIMEOUT, timeout_seconds + 10))
        try:
            from kubernetes.watch.watch import iter_resp_lines

            for line in iter_resp_lines(resp.response):
                if not line.strip():
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    raise KubeError(0, f"{res.path(namespace)}: watch sent a line that is not JSON") from None
                if isinstance(ev, dict) and isinstance(ev.get("object"), dict) and ev.get("type") not in ("ERROR", "BOOKMARK"):
                    _with_kind(ev["object"], res)
                yield ev
        except (HTTPError, OSError) as e:
            raise KubeError(0, f"{res.path(namespace)}: watch connection lost ({type(e).__name__})") from None
        finally:
            resp.response.release_conn()

    # -- transport -----------------------------------------------------------------------
    def _json(self, verb: str, res: ApiResource, method: str, path: str, query: dict | None = None,
              body: dict | None = None, sub: str | None = None):
        resp = self._request(verb, res, method, path, query, body, sub)
        try:
            return json.loads(resp.read() or b"{}")
        except ValueError:
            raise KubeError(resp.status, f"{path}: the server's answer is not JSON") from None

    def _request(self, verb: str, res: ApiResource, method: str, path: str, query, body, sub=None, timeout=None):
        resource = res.plural + (f"/{sub}" if sub else "")
        if not allowed(verb, res.group, resource):
            raise RuntimeError(f"cilium-lb bug: {verb} {res.group or 'core'}/{resource} is not in lbcli/kube/permissions.py")
        from urllib3.exceptions import HTTPError

        q = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.host + path + ("?" + urlencode(q) if q else "")
        headers = {"Accept": "application/json", "Content-Type": "application/json",
                   "User-Agent": "cilium-lb"}
        _, _, headers, _, _ = self.api.param_serialize(method, path, header_params=headers, auth_settings=["BearerToken"])
        try:
            resp = self.api.call_api(method, url, header_params=headers, body=body,
                                     _request_timeout=timeout or REQUEST_TIMEOUT)
        except (HTTPError, OSError) as e:
            raise KubeError(0, f"{self.host}: cannot reach the API server ({_short(e)})") from None
        if resp.status >= 400:
            raise _error(resp, method, path)
        return resp


def _error(resp, method: str, path: str) -> KubeError:
    """A KubeError from a Status answer: its code, reason and message (never the body of the
    object: a Secret's data must not reach a message)."""
    try:
        doc = json.loads(resp.read() or b"{}")
    except ValueError:
        doc = {}
    msg = doc.get("message") if isinstance(doc, dict) else None
    reason = doc.get("reason", "") if isinstance(doc, dict) else ""
    text = f"{method} {path}: {resp.status} {reason or resp.reason}" + (f": {msg}" if msg else "")
    return KubeError(resp.status, text, reason)


def _short(e: Exception) -> str:
    text = str(e)
    return type(e).__name__ + (f": {text[:160]}" if text else "")


def _with_kind(obj: dict, res: ApiResource) -> dict:
    # list items carry no apiVersion/kind (the list does): put them back, as kubectl does
    if isinstance(obj, dict):
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
    return obj
