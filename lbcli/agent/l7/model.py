"""What this node's HAProxy must serve, read from the typed plan's `tier2` section
(lbcli/plan/types.py; compile resolved every default, the types checked every value).

Only the fields the L7 tier needs are kept; everything is a frozen dataclass so the renderer
works on values and two models compare equal exactly when they render the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from lbcli.model.apps import APPLICATION_TYPES as APP_TYPES  # noqa: F401  (a plain module)
from lbcli.plan import types as T


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


def _secret(ref: T.SecretRef | None) -> SecretRef | None:
    if ref is None:
        return None
    return SecretRef(ref=str(ref.secret_ref), sha256=str(ref.sha256 or ""))


def _tls(t: T.Tls | None) -> TlsConfig | None:
    if t is None:
        return None
    cv = t.client_validation
    return TlsConfig(
        certificates=tuple(_secret(c) for c in t.certificates),  # type: ignore[misc]
        min_version=t.min_version,
        max_version=t.max_version,
        cipher_suites=tuple(t.cipher_suites),
        client_validation=(
            ClientValidation(
                ca=SecretRef(ref=str(cv.ca_secret_ref), sha256=str(cv.sha256 or "")),
                subject_alt_names=tuple(cv.subject_alternative_names),
            )
            if cv is not None
            else None
        ),
    )


def _rate(r: T.RateLimit | None) -> RateLimit | None:
    return RateLimit(limit=r.limit, period_seconds=r.period_seconds) if r is not None else None


def _path(p: T.RoutePath | None) -> PathMatch | None:
    return PathMatch(type=str(p.type), value=str(p.value)) if p is not None else None


def _filtering(f: T.Filtering | None) -> Filtering | None:
    if f is None:
        return None
    return Filtering(rule_type=str(f.rule_type), rules=tuple(
        FilterRule(
            source_cidr=r.source_cidr,
            host_name=NameMatch(str(r.host_name.type), str(r.host_name.value)) if r.host_name is not None else None,
            path=_path(r.path),
            headers=tuple(HeaderMatch(str(h.name), str(h.type), str(h.value)) for h in r.headers),
        )
        for r in f.rules))


def _versions(v: T.HttpVersions | None) -> HttpVersions | None:
    return HttpVersions(http11=bool(v.http11), http2=bool(v.http2)) if v is not None else None


def _backend_tls(t: T.BackendTls | None) -> BackendTls | None:
    if t is None:
        return None
    return BackendTls(
        min_version=t.min_version, max_version=t.max_version,
        cipher_suites=tuple(t.cipher_suites),
        ca=_secret(t.ca),
        server_name=t.server_name,
    )


def _route(r: T.Route) -> Route:
    pers = r.persistence
    return Route(
        host_names=tuple(r.host_names),
        path=_path(r.path),
        backend_pool=str(r.backend_pool),
        persistence=(
            Persistence(source_ip=bool(pers.source_ip), cookies=tuple(pers.cookies), headers=tuple(pers.headers))
            if pers is not None
            else None
        ),
        rate_limit=_rate(r.rate_limit),
        filtering=_filtering(r.filtering),
    )


def _listener(lst: T.Listener) -> Listener:
    return Listener(
        service=str(lst.service),
        vip=str(lst.vip),
        port=int(lst.port),
        protocol=str(lst.protocol or "TCP"),
        type=str(lst.type),
        proxy_protocol=bool(lst.proxy_protocol),
        tls=_tls(lst.tls),
        basic_auth=_secret(lst.auth.basic) if lst.auth is not None else None,
        routes=tuple(_route(r) for r in lst.routes),
        rate_limit=_rate(lst.rate_limit),
        connection_filtering=_filtering(lst.connection_filtering),
        http_versions=_versions(lst.http_versions),
    )


def _health(h: T.HealthCheck | None) -> HealthCheck | None:
    if h is None:
        return None
    http = h.http
    return HealthCheck(
        interval_seconds=h.interval_seconds,
        timeout_seconds=h.timeout_seconds,
        healthy_threshold=int(h.healthy_threshold),
        unhealthy_threshold=int(h.unhealthy_threshold),
        http=(
            HttpCheck(path=str(http.path), method=str(http.method), host=http.host,
                      expected_status_codes=tuple(int(c) for c in http.expected_status_codes))
            if http is not None
            else None
        ),
        tcp=bool(h.tcp),
        tls=_backend_tls(h.tls),
    )


def _pool(p: T.BackendPool) -> BackendPool:
    return BackendPool(
        name=str(p.name),
        backend_type=str(p.backend_type),
        algorithm=str(p.algorithm),
        backends=tuple(
            Backend(address=str(b.address), port=int(b.port), weight=int(b.weight), status=str(b.status))
            for b in p.backends
        ),
        health_check=_health(p.health_check),
        resolvers=tuple(Resolver(ip=str(r.ip), port=int(r.port)) for r in p.resolvers),
        connect_timeout_seconds=p.connect_timeout_seconds,
        table_size=p.table_size,
        tls=_backend_tls(p.tls),
        proxy_protocol_version=p.proxy_protocol_version,
        http_versions=_versions(p.http_versions),
    )


def model_from_plan(plan: T.NodePlan | Mapping[str, Any]) -> L7Model | None:
    """The L7 model of a node plan, or None when the node is not a tier-2 node. A plan in its
    JSON form is read through the plan types first (PlanFormatError when it is not a plan)."""
    if not isinstance(plan, T.NodePlan):
        plan = T.NodePlan.from_json(plan)
    tier2 = plan.tier2
    if tier2 is None:
        return None
    listeners = sorted((_listener(x) for x in tier2.listeners), key=lambda l: (l.service, l.vip, l.port))
    pools = sorted((_pool(x) for x in tier2.backend_pools), key=lambda p: p.name)
    return L7Model(listeners=tuple(listeners), pools=tuple(pools))
