"""Where a v1 Service's traffic goes: its EndpointSlices (or, without any, its Endpoints),
read the way kube-proxy reads them. Lint checks these and compile resolves from them.

- Slices of a Service: EndpointSlices (discovery.k8s.io/v1) in its namespace labelled
  `kubernetes.io/service-name: <name>`, addressType IPv4 or IPv6 (FQDN slices carry no
  address a proxy can dial; kube-proxy skips them too). When the Service lists `ipFamilies`,
  only those families are used; otherwise every IP family of its slices.
- Port: a Service port is found by its number (and protocol); its endpoints' port is the
  slice port with the same `name` ("" for an unnamed port) and protocol — `targetPort`, by
  name or number, is what the EndpointSlice controller already resolved into the slice, as
  kube-proxy relies on. A slice without that port (or whose port has no number, "all
  ports") contributes nothing.
- Readiness (kube-proxy's CategorizeEndpoints): endpoints whose `conditions.ready` is true
  or unset are used; when a Service has none, endpoints that are `serving` (unset: as ready)
  and `terminating` are used instead, so connections drain to terminating pods rather than
  fail. Nothing else is used.
- Fallback: only when no EndpointSlice of the Service exists at all, the v1 Endpoints object
  of the same name: `subsets[].addresses` (ready) with the subset port of the same name;
  `notReadyAddresses` are never used (Endpoints carry no serving/terminating conditions).
- Addresses are deduplicated (a pod may sit in two slices while they are rebalanced) and
  sorted by family, then numerically.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..manifest.index import ResourceIndex
from ..manifest.resource import Resource

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
IP_FAMILIES = ("IPv4", "IPv6")


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int


@dataclass
class Resolution:
    """What a Service port resolves to; `problem` says why it resolves to nothing (None when
    the Service and its port exist; `endpoints` may still be empty, `source` says why)."""

    service: Resource | None
    port: dict | None = None  # the Service's port entry
    endpoints: list[Endpoint] = field(default_factory=list)
    source: str = ""  # "EndpointSlice", "Endpoints" or "" (neither in the set)
    terminating: bool = False  # the serving-terminating fallback was used
    problem: str | None = None


def slices_of(index: ResourceIndex, namespace: str | None, name: str) -> list[Resource]:
    """The EndpointSlices of Service namespace/name, by name (deterministic order). The
    grouping is built once per index: lint and compile ask for every Service."""
    groups = getattr(index, "_slices_by_service", None)
    if groups is None:
        groups = {}
        for s in index.valid("EndpointSlice"):
            svc = s.labels.get(SERVICE_NAME_LABEL)
            if isinstance(svc, str) and svc:
                groups.setdefault((s.namespace, svc), []).append(s)
        for v in groups.values():
            v.sort(key=lambda s: s.name)
        index._slices_by_service = groups
    return groups.get((namespace, name), [])


def pool_protocol(index: ResourceIndex, pool: Resource) -> str:
    """The protocol of the Service ports a K8sService pool's references name: UDP when every
    LBService that routes to the pool is UDP (udpProxy, served by tier 1), TCP otherwise (tier 2
    proxies TCP only; a pool no LBService uses is read as TCP). Grouped once per index."""
    groups = getattr(index, "_pool_protocols", None)
    if groups is None:
        from . import apps

        groups = {}
        for svc in index.valid("LBService"):
            app = apps.application(svc)
            for route in (app[1].get("routes") or []) if app else []:
                ref = route.get("backendRef") if isinstance(route, dict) else None
                name = ref.get("name") if isinstance(ref, dict) else None
                if isinstance(name, str):
                    groups.setdefault((svc.namespace, name), set()).add(apps.protocol(svc))
        index._pool_protocols = groups
    return "UDP" if groups.get((pool.namespace, pool.name)) == {"UDP"} else "TCP"


def service_port(svc: Resource, port: int, protocol: str = "TCP") -> dict | None:
    """The Service's port entry with this number and protocol (protocol defaults to TCP)."""
    for p in svc.spec.get("ports") or []:
        if isinstance(p, dict) and p.get("port") == port and (p.get("protocol") or "TCP") == protocol:
            return p
    return None


def _families(svc: Resource) -> tuple[str, ...]:
    fams = svc.spec.get("ipFamilies")
    if isinstance(fams, list) and fams:
        return tuple(f for f in IP_FAMILIES if f in fams)
    return IP_FAMILIES


def _true(value, default: bool) -> bool:
    return default if value is None else value is True


def resolve(index: ResourceIndex, namespace: str | None, name: str, port: int,
            protocol: str = "TCP") -> Resolution:
    """The endpoints of port `port`/`protocol` of Service namespace/name (see the module doc)."""
    svc = index.get("Service", namespace, name)
    if svc is None or not svc.valid:
        return Resolution(None, problem=f"Service {namespace}/{name} is not in the set"
                          if svc is None else f"Service {namespace}/{name} is not valid")
    sp = service_port(svc, port, protocol)
    if sp is None:
        have = ", ".join(f"{p.get('port')}/{p.get('protocol') or 'TCP'}" for p in svc.spec.get("ports") or []
                         if isinstance(p, dict)) or "none"
        return Resolution(svc, problem=f"Service {namespace}/{name} has no port {port}/{protocol} (it has {have})")
    pname = sp.get("name") or ""
    slices = slices_of(index, namespace, name)
    if slices:
        return _from_slices(svc, sp, pname, protocol, slices)
    eps = index.get("Endpoints", namespace, name)
    if eps is not None and eps.valid:
        return _from_endpoints(svc, sp, pname, protocol, eps)
    return Resolution(svc, sp)


def _from_slices(svc: Resource, sp: dict, pname: str, protocol: str, slices: list[Resource]) -> Resolution:
    fams = _families(svc)
    ready: set[Endpoint] = set()
    terminating: set[Endpoint] = set()
    for sl in slices:
        if sl.body.get("addressType") not in fams:
            continue
        target = next((p.get("port") for p in sl.body.get("ports") or []
                       if isinstance(p, dict) and (p.get("name") or "") == pname
                       and (p.get("protocol") or "TCP") == protocol), None)
        if not isinstance(target, int) or isinstance(target, bool):
            continue
        for ep in sl.body.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            is_ready = _true(cond.get("ready"), True)
            serving = _true(cond.get("serving"), is_ready)
            term = _true(cond.get("terminating"), False)
            for addr in ep.get("addresses") or []:
                if not isinstance(addr, str) or _family(addr) != sl.body.get("addressType"):
                    continue
                e = Endpoint(addr, target)
                if is_ready:
                    ready.add(e)
                elif serving and term:
                    terminating.add(e)
    if ready:
        return Resolution(svc, sp, _sorted(ready), "EndpointSlice")
    return Resolution(svc, sp, _sorted(terminating), "EndpointSlice", terminating=bool(terminating))


def _from_endpoints(svc: Resource, sp: dict, pname: str, protocol: str, eps: Resource) -> Resolution:
    fams = _families(svc)
    out: set[Endpoint] = set()
    for sub in eps.body.get("subsets") or []:
        target = next((p.get("port") for p in sub.get("ports") or []
                       if isinstance(p, dict) and (p.get("name") or "") == pname
                       and (p.get("protocol") or "TCP") == protocol), None)
        if not isinstance(target, int) or isinstance(target, bool):
            continue
        for a in sub.get("addresses") or []:
            ip = a.get("ip") if isinstance(a, dict) else None
            if isinstance(ip, str) and _family(ip) in fams:
                out.add(Endpoint(ip, target))
    return Resolution(svc, sp, _sorted(out), "Endpoints")


def _family(ip: str) -> str | None:
    try:
        return "IPv4" if ipaddress.ip_address(ip).version == 4 else "IPv6"
    except ValueError:
        return None


def _sorted(eps: set[Endpoint]) -> list[Endpoint]:
    def key(e: Endpoint):
        try:
            a = ipaddress.ip_address(e.address)
            return (a.version, int(a), e.port, e.address)
        except ValueError:
            return (9, 0, e.port, e.address)
    return sorted(eps, key=key)


def pool_refs(pool: Resource) -> list[tuple[int, str, int]]:
    """(backend index, Service name, port) of each `k8sServiceRef` backend of an LBBackendPool."""
    out = []
    for i, b in enumerate(pool.spec.get("backends") or []):
        ref = b.get("k8sServiceRef") if isinstance(b, dict) else None
        name = ref.get("name") if isinstance(ref, dict) else None
        port = b.get("port")
        if isinstance(name, str) and name and isinstance(port, int) and not isinstance(port, bool):
            out.append((i, name, port))
    return out
