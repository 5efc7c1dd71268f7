"""Every API call cilium-lb makes, as RBAC rules: the one list the client checks each request
against (a call not declared here is a bug, refused before it is sent) and the ClusterRole and
Role `cilium-lb manifests` prints are rendered from. Least privilege: Secrets are read by name
(`get`, never `list`: only those the set references), status is written through the status
subresource, and the Lease lives in the agent's own namespace (a Role, not a ClusterRole).
"""

from __future__ import annotations

from dataclasses import dataclass

from .resources import ENDPOINTS, LEASE, LISTED, SECRET, lb_resources


@dataclass(frozen=True)
class Permission:
    group: str
    resource: str  # plural, or plural/subresource
    verbs: tuple[str, ...]
    namespaced: bool = False  # True: granted by a Role in the agent's namespace only


STATUS_KINDS = ("LBVIP", "LBService")  # where Isovalent's controllers write status
READ = ("list", "watch")


def permissions() -> list[Permission]:
    out: dict[tuple[str, str, bool], set[str]] = {}

    def grant(group: str, resource: str, verbs, namespaced: bool = False) -> None:
        out.setdefault((group, resource, namespaced), set()).update(verbs)

    for kind, versions in lb_resources():
        res = versions[0]
        grant(res.group, res.plural, READ)
        if kind in STATUS_KINDS:
            grant(res.group, res.plural, ("get",))  # re-read after a 409
            grant(res.group, f"{res.plural}/status", ("update",))
    for listed in LISTED:  # field selectors narrow what is sent, not what RBAC can express
        grant(listed.res.group, listed.res.plural, READ)
    # by name, only the Secrets the set references; never list/watch (either reads them all),
    # so the agent re-reads them on a poll (kube_source.py) instead of watching
    grant(SECRET.group, SECRET.plural, ("get",))
    grant(ENDPOINTS.group, ENDPOINTS.plural, ("get",))  # by name: a used Service without a slice
    grant(LEASE.group, LEASE.plural, ("get", "create", "update"), namespaced=True)
    order = ("get", "list", "watch", "create", "update", "patch", "delete")
    return [Permission(g, r, tuple(v for v in order if v in verbs), ns)
            for (g, r, ns), verbs in sorted(out.items())]


def allowed(verb: str, group: str, resource: str) -> bool:
    return any(p.group == group and p.resource == resource and verb in p.verbs for p in _cached())


_CACHE: list[Permission] = []


def _cached() -> list[Permission]:
    if not _CACHE:
        _CACHE.extend(permissions())
    return _CACHE
