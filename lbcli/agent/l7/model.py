"""Typed view of a plan's `tier2` section: what this node's HAProxy must serve.

Only the fields the L7 tier needs are kept; everything is a frozen dataclass so the renderer
works on values and two models compare equal exactly when they render the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from lbcli.model.apps import APPLICATION_TYPES as APP_TYPES  # noqa: F401  (a plain module)


@dataclass(frozen=True)
class SecretRef:
    ref: str  # "ns/name"
    sha256: str = ""


@dataclass(frozen=True)
class ClientValidation:
    ca: SecretRef
    subject_alt_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class TlsConfig:
    certificates: tuple[SecretRef, ...]
    min_version: str | None = None
    max_version: str | None = None
    cipher_suites: tuple[str, ...] = ()
    client_validation: ClientValidation | None = None


@dataclass(frozen=True)
class PathMatch:
    type: str  # "prefix" | "exact"
    value: str


@dataclass(frozen=True)
class Persistence:
    source_ip: bool = False
    cookies: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RateLimit:
    limit: int
    period_seconds: int


@dataclass(frozen=True)
class NameMatch:
    type: str  # "exact" | "suffix"
    value: str


@dataclass(frozen=True)
class HeaderMatch:
    name: str
    type: str  # "exact" | "prefix" | "regex"
    value: str


@dataclass(frozen=True)
class FilterRule:
    source_cidr: str | None = None
    host_name: NameMatch | None = None
    path: PathMatch | None = None
    headers: tuple[HeaderMatch, ...] = ()


@dataclass(frozen=True)
class Filtering:
    rule_type: str  # "Allow" | "Deny"
    rules: tuple[FilterRule, ...]


@dataclass(frozen=True)
class HttpVersions:
    http11: bool = True
    http2: bool = True


@dataclass(frozen=True)
class BackendTls:
    min_version: str | None = None
    max_version: str | None = None
    cipher_suites: tuple[str, ...] = ()
    ca: SecretRef | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class Route:
    host_names: tuple[str, ...]
    path: PathMatch | None
    backend_pool: str
    persistence: Persistence | None = None
    rate_limit: RateLimit | None = None
    filtering: Filtering | None = None


@dataclass(frozen=True)
class Listener:
    service: str  # "ns/name"
    vip: str
    port: int
    protocol: str
    type: str
    proxy_protocol: bool
    tls: TlsConfig | None
    basic_auth: SecretRef | None
    routes: tuple[Route, ...]
    rate_limit: RateLimit | None = None
    connection_filtering: Filtering | None = None
    http_versions: HttpVersions | None = None


@dataclass(frozen=True)
class HttpCheck:
    path: str = "/"
    method: str = "GET"
    host: str | None = None
    expected_status_codes: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class HealthCheck:
    interval_seconds: float = 5
    timeout_seconds: float = 5
    healthy_threshold: int = 1
    unhealthy_threshold: int = 3
    http: HttpCheck | None = None
    tcp: bool = False
    tls: BackendTls | None = None


@dataclass(frozen=True)
class Backend:
    address: str  # IP address (IPv6 for some endpoints), or a host name for Hostname pools
    port: int
    weight: int = 1
    status: str = "Active"  # or "Draining"

    @property
    def server_name(self) -> str:
        # stable across reloads and readable in `show stat`; ':' and '.' are legal in names
        return f"{self.address}:{self.port}"

    @property
    def effective_weight(self) -> int:
        # a draining backend keeps its connections but gets no new ones (nor hash slots)
        return 0 if self.status == "Draining" else self.weight


@dataclass(frozen=True)
class Resolver:
    ip: str
    port: int = 53


@dataclass(frozen=True)
class BackendPool:
    name: str  # "ns/name"
    backend_type: str  # "IP" | "Hostname" | "K8sService" (endpoint addresses, served like IP)
    algorithm: str  # roundRobin | leastRequest | consistentHashing
    backends: tuple[Backend, ...]
    health_check: HealthCheck | None
    resolvers: tuple[Resolver, ...] = ()
    connect_timeout_seconds: float = 5
    table_size: int | None = None
    tls: BackendTls | None = None
    proxy_protocol_version: int | None = None
    http_versions: HttpVersions | None = None


@dataclass(frozen=True)
class L7Model:
    listeners: tuple[Listener, ...]
    pools: tuple[BackendPool, ...]

    def pool(self, name: str) -> BackendPool | None:
        return next((p for p in self.pools if p.name == name), None)


def _secret(d: Mapping[str, Any] | None) -> SecretRef | None:
    if not d:
        return None
    return SecretRef(ref=str(d["secretRef"]), sha256=str(d.get("sha256") or ""))


def _tls(d: Mapping[str, Any] | None) -> TlsConfig | None:
    if not d:
        return None
    cv = d.get("clientValidation")
    return TlsConfig(
        certificates=tuple(_secret(c) for c in d.get("certificates") or ()),  # type: ignore[misc]
        min_version=d.get("minVersion"),
        max_version=d.get("maxVersion"),
        cipher_suites=tuple(d.get("cipherSuites") or ()),
        client_validation=(
            ClientValidation(
                ca=SecretRef(ref=str(cv["caSecretRef"]), sha256=str(cv.get("sha256") or "")),
                subject_alt_names=tuple(cv.get("subjectAlternativeNames") or ()),
            )
            if cv
            else None
        ),
    )


def _rate(d: Mapping[str, Any] | None) -> RateLimit | None:
    return RateLimit(limit=d["limit"], period_seconds=d["periodSeconds"]) if d else None


def _path(d: Mapping[str, Any] | None) -> PathMatch | None:
    return PathMatch(type=str(d["type"]), value=str(d["value"])) if d else None


def _filtering(d: Mapping[str, Any] | None) -> Filtering | None:
    if not d:
        return None
    return Filtering(rule_type=str(d["ruleType"]), rules=tuple(
        FilterRule(
            source_cidr=r.get("sourceCIDR"),
            host_name=NameMatch(str(r["hostName"]["type"]), str(r["hostName"]["value"])) if r.get("hostName") else None,
            path=_path(r.get("path")),
            headers=tuple(HeaderMatch(str(h["name"]), str(h["type"]), str(h["value"])) for h in r.get("headers") or ()),
        )
        for r in d.get("rules") or ()))


def _versions(d: Mapping[str, Any] | None) -> HttpVersions | None:
    return HttpVersions(http11=bool(d.get("http11", True)), http2=bool(d.get("http2", True))) if d else None


def _backend_tls(d: Mapping[str, Any] | None) -> BackendTls | None:
    if d is None:
        return None
    ca = d.get("ca")
    return BackendTls(
        min_version=d.get("minVersion"), max_version=d.get("maxVersion"),
        cipher_suites=tuple(d.get("cipherSuites") or ()),
        ca=SecretRef(ref=str(ca["secretRef"]), sha256=str(ca.get("sha256") or "")) if ca else None,
        server_name=d.get("serverName"),
    )


def _route(d: Mapping[str, Any]) -> Route:
    path = d.get("path")
    pers = d.get("persistence")
    return Route(
        host_names=tuple(d.get("hostNames") or ()),
        path=PathMatch(type=str(path["type"]), value=str(path["value"])) if path else None,
        backend_pool=str(d["backendPool"]),
        persistence=(
            Persistence(
                source_ip=bool(pers.get("sourceIP")),
                cookies=tuple(pers.get("cookies") or ()),
                headers=tuple(pers.get("headers") or ()),
            )
            if pers
            else None
        ),
        rate_limit=_rate(d.get("rateLimit")),
        filtering=_filtering(d.get("filtering")),
    )


def _listener(d: Mapping[str, Any]) -> Listener:
    auth = d.get("auth") or {}
    return Listener(
        service=str(d["service"]),
        vip=str(d["vip"]),
        port=int(d["port"]),
        protocol=str(d.get("protocol") or "TCP"),
        type=str(d["type"]),
        proxy_protocol=bool(d.get("proxyProtocol")),
        tls=_tls(d.get("tls")),
        basic_auth=_secret(auth.get("basic")),
        routes=tuple(_route(r) for r in d.get("routes") or ()),
        rate_limit=_rate(d.get("rateLimit")),
        connection_filtering=_filtering(d.get("connectionFiltering")),
        http_versions=_versions(d.get("httpVersions")),
    )


def _health(d: Mapping[str, Any] | None) -> HealthCheck | None:
    if not d:
        return None
    http = d.get("http")
    return HealthCheck(
        interval_seconds=d.get("intervalSeconds") or 5,
        timeout_seconds=d.get("timeoutSeconds") or 5,
        healthy_threshold=int(d.get("healthyThreshold") or 1),
        unhealthy_threshold=int(d.get("unhealthyThreshold") or 3),
        http=(
            HttpCheck(
                path=str(http.get("path") or "/"),
                method=str(http.get("method") or "GET"),
                host=http.get("host"),
                expected_status_codes=tuple(int(c) for c in http.get("expectedStatusCodes") or (200,)),
            )
            if http is not None
            else None
        ),
        tcp=bool(d.get("tcp")),
        tls=_backend_tls(d.get("tls")),
    )


def _pool(d: Mapping[str, Any]) -> BackendPool:
    return BackendPool(
        name=str(d["name"]),
        backend_type=str(d.get("backendType") or "IP"),
        algorithm=str(d.get("algorithm") or "roundRobin"),
        backends=tuple(
            Backend(
                address=str(b["address"]),
                port=int(b["port"]),
                weight=int(b.get("weight", 1)),
                status=str(b.get("status") or "Active"),
            )
            for b in d.get("backends") or ()
        ),
        health_check=_health(d.get("healthCheck")),
        resolvers=tuple(Resolver(ip=str(r["ip"]), port=int(r.get("port") or 53)) for r in d.get("resolvers") or ()),
        connect_timeout_seconds=d.get("connectTimeoutSeconds") or 5,
        table_size=d.get("tableSize"),
        tls=_backend_tls(d.get("tls")),
        proxy_protocol_version=d.get("proxyProtocolVersion"),
        http_versions=_versions(d.get("httpVersions")),
    )


def model_from_plan(plan: Mapping[str, Any]) -> L7Model | None:
    """The L7 model of a NodePlan (dict), or None when the node is not a tier-2 node."""
    tier2 = plan.get("tier2")
    if not tier2:
        return None
    listeners = sorted((_listener(x) for x in tier2.get("listeners") or ()), key=lambda l: (l.service, l.vip, l.port))
    pools = sorted((_pool(x) for x in tier2.get("backendPools") or ()), key=lambda p: p.name)
    return L7Model(listeners=tuple(listeners), pools=tuple(pools))
