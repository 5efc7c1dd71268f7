"""The per-node plan as types: what `compile` builds, what a node reads, and (generated from
these classes by lbcli/plan/schema.py) schemas/plan.schema.json. docs/plan-format.md explains
the fields; every default is resolved by the compiler, so nothing here has one a node would
have to re-apply (the only optional key, a route's `authDisabled`, is left out when false).

`NodePlan.from_json(doc)` checks everything the schema says and raises PlanFormatError naming
the JSON path; `to_json()` gives back the same JSON, so canonical bytes are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..grammar import IPV4_RE, U16_RE
from .names import node_name_problem
from .spec import (Bool, Const, Enum, Int, ListOf, Nullable, Num, Obj, OpaqueObject, PlanFormatError, PlanObject, Str,
                   StrMap, f)

API_VERSION = "cilium-lb.io/v1"
KIND = "NodePlan"

# shared value kinds ($defs in the schema)
IPV4 = Str(f"^{IPV4_RE}$", ref="ipv4")
IPV4_CIDR = Str(f"^{IPV4_RE}/(3[0-2]|[12]?[0-9])$", ref="ipv4Cidr")
CIDR = Str("^[0-9A-Fa-f:.]+/[0-9]{1,3}$", ref="cidr", desc="IPv4 or IPv6 CIDR (node PodCIDRs).")
PREFIX = Str(f"^({IPV4_RE}/(3[0-2]|[12]?[0-9])|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))$",
             ref="prefix", desc="An IPv4 or IPv6 prefix.")
PORT = Int(1, 65535, ref="port")
PROTOCOL = Enum("TCP", "UDP", ref="protocol")
NODE_NAME = Str(min_len=1, max_len=253, ref="nodeName")
OBJECT_KEY = Str("^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", ref="objectKey",
                 desc="namespace/name")
SERVICE_KEY = Str("^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:" + U16_RE + ")?$",
                  ref="serviceKey", desc="namespace/name (an LBService or LBBackendPool), or namespace/name:port "
                  "(one TCP port of a v1 Service of type LoadBalancer, and the pool of its endpoints).")
SHA256 = Str("^[0-9a-f]{64}$", ref="sha256", desc="Lower-case hex SHA-256.")
MAC = Str("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", ref="mac")
TLS_VERSION = Enum("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", ref="tlsVersion")
U32 = 4294967295
LISTENER_TYPES = ("httpProxy", "httpsProxy", "tlsPassthrough", "tlsProxy", "tcpProxy", "udpProxy")
NAME = Str(min_len=1)
STRINGS = ListOf(Str())


def _t(cls):
    return dataclass(frozen=True)(cls)


# ---------------------------------------------------------------- node, ipam, network
@_t
class PlanNode(PlanObject):
    SCHEMA_DEF = "node"
    name: str = f(NODE_NAME)
    tiers: tuple = f(ListOf(Enum("t1", "t2"), max_items=2, unique=True))
    internal_ip: str | None = f(Nullable(IPV4), "internalIP")
    pod_cidrs: tuple = f(ListOf(CIDR), "podCIDRs")
    labels: dict = f(StrMap())

    def validate(self, path):
        why = node_name_problem(self.name)
        if why is not None:
            raise PlanFormatError((*path, "name"), why, joined=True)


@_t
class Assignment(PlanObject):
    ref: str = f(Str("^(LBVIP|Service)/[^/]+/[^/]+$"))
    ipv4: str = f(IPV4)
    pool: str = f(Str())
    sharing_key: str | None = f(Nullable(Str()))
    ports: tuple = f(ListOf(PORT))


@_t
class Condition(PlanObject):
    SCHEMA_DEF = "condition"
    ref: str = f(Str(min_len=1))
    type: str = f(Str(r"^lb\.cilium\.io/[A-Za-z0-9]+$"))
    status: str = f(Enum("True", "False", "Unknown"))
    reason: str = f(Str(min_len=1))
    message: str = f(Str())


@_t
class Ipam(PlanObject):
    SCHEMA_DEF = "ipam"
    assignments: tuple = f(ListOf(Obj(Assignment)))
    conditions: tuple = f(ListOf(Obj(Condition)))


@_t
class Peer(PlanObject):
    node: str = f(NODE_NAME)
    ip: str = f(IPV4)
    pod_cidrs: tuple = f(ListOf(CIDR), "podCIDRs")
    tunnel_mac: str = f(MAC, desc="The peer's pod tunnel device MAC (inner destination in tunnel mode).")


@_t
class PodBandwidth(PlanObject):
    pod: str = f(OBJECT_KEY)
    ip: str = f(IPV4)
    egress_bps: int | None = f(Nullable(Int(1000, 34359738360)), "egressBitsPerSecond")
    ingress_bps: int | None = f(Nullable(Int(1000, 34359738360)), "ingressBitsPerSecond")


@_t
class Network(PlanObject):
    SCHEMA_DEF = "network"
    routing_mode: str = f(Enum("tunnel", "native"))
    tunnel_protocol: str | None = f(Enum("vxlan", "geneve", None), desc=(
        "null with native routing; geneve is refused by the agent on kernels without it."))
    tunnel_port: int | None = f(Nullable(PORT))
    tunnel_device: str | None = f(Nullable(Str("^[a-z][a-z0-9_]{0,14}$")), desc="null with native routing.")
    tunnel_vni: int | None = f(Nullable(Int(1, 16777215)), "tunnelVNI")
    tunnel_mac: str | None = f(Nullable(MAC), desc="This node's pod tunnel device MAC.")
    auto_direct_node_routes: bool = f(Bool())
    native_routing_cidr: str | None = f(Nullable(IPV4_CIDR), "nativeRoutingCIDR")
    masquerade: bool = f(Bool())
    bandwidth_manager: bool = f(Bool())
    peers: tuple = f(ListOf(Obj(Peer)))
    bandwidth: tuple = f(ListOf(Obj(PodBandwidth)), desc=(
        "This node's Pods with a bandwidth annotation (empty unless bandwidthManager), sorted by pod."))


# ---------------------------------------------------------------- tier 1
@_t
class T1Dispatch(PlanObject):
    mode: str = f(Enum("vxlan", "ipip"))
    device: str = f(Str(min_len=1, max_len=15))
    vni: int = f(Int(0, 16777215))
    port: int = f(PORT)


@_t
class T2Node(PlanObject):
    name: str = f(NODE_NAME)
    ip: str | None = f(Nullable(IPV4))
    tunnel_mac: str = f(MAC)


def _check_table_digest(table, path) -> None:
    """A node knows a programmed table by its sha256 (lbcli/agent/datapath/reconciler.py
    table_identity): a plan whose table no longer matches it (edited by hand, damaged) would
    leave the old slots in place, so it is refused here, where plans come in from outside."""
    import base64
    import binascii
    import hashlib

    try:
        raw = base64.b64decode(table.table, validate=True)
    except (binascii.Error, ValueError):
        raise PlanFormatError((*path, "table"), "is not base64") from None
    if len(raw) != 2 * table.size:
        raise PlanFormatError((*path, "table"), f"holds {len(raw) // 2} entries, size says {table.size}")
    if hashlib.sha256(raw).hexdigest() != table.sha256:
        raise PlanFormatError((*path, "sha256"), "is not the SHA-256 of table (the plan was edited or damaged)")


@_t
class MaglevTable(PlanObject):
    id: int = f(Int(0))
    size: int = f(Int(2, 131071))
    t2_nodes: tuple = f(ListOf(NODE_NAME, min_items=1))
    weights: tuple = f(ListOf(Int(1, 65535), min_items=1))
    slots: tuple = f(ListOf(Int(0), min_items=1),
                     desc="Table entries per T2 node (same order as t2Nodes); they sum to size.")
    encoding: str = f(Const("u16le-base64"))
    table: str = f(Str("^[A-Za-z0-9+/]*={0,2}$"), desc="size x uint16 little-endian, each an index into t2Nodes.")
    sha256: str = f(SHA256)

    def validate_outside(self, path):
        _check_table_digest(self, path)


@_t
class T1Service(PlanObject):
    service: str = f(SERVICE_KEY)
    vip: str = f(IPV4)
    port: int = f(PORT)
    protocol: str = f(PROTOCOL)
    t2_nodes: tuple = f(ListOf(NODE_NAME, min_items=1))
    maglev_table: int = f(Int(0))


# t1-only services (docs/t1-only.md): tier 1 sends straight to the backends through NAT
@_t
class T1Backend(PlanObject):
    id: int = f(Int(1, 2147483647), desc="Stable id (from the address and port), what backend tables hold.")
    ip: str = f(IPV4)
    port: int = f(PORT)


@_t
class BackendTable(PlanObject):
    id: int = f(Int(0))
    size: int = f(Int(2, 131071))
    backends: tuple = f(ListOf(Int(1, 2147483647), min_items=1), desc="Backend ids (tier1.backends).")
    weights: tuple = f(ListOf(Int(1, 65535), min_items=1))
    slots: tuple = f(ListOf(Int(0), min_items=1),
                     desc="Table entries per backend (same order as backends); they sum to size.")
    encoding: str = f(Const("u16le-base64"))
    table: str = f(Str("^[A-Za-z0-9+/]*={0,2}$"), desc="size x uint16 little-endian, each an index into backends.")
    sha256: str = f(SHA256)

    def validate_outside(self, path):
        _check_table_digest(self, path)


@_t
class T1DirectService(PlanObject):
    service: str = f(OBJECT_KEY)
    vip: str = f(IPV4)
    port: int = f(PORT)
    protocol: str = f(PROTOCOL)
    backend_table: int = f(Int(0))
    hash: str = f(Enum("flow", "sourceIP"), desc="What picks the backend: the 5-tuple, or the client address only.")
    nat: str = f(Const("snat"), desc="Source and destination NAT on the tier-1 node (docs/t1-only.md).")


@_t
class T2HealthCheck(PlanObject):
    DESCRIPTION = ("How tier 1 checks the tier-2 nodes (their health endpoint, per service); left out, "
                   "the agent's defaults apply (lbcli/agent/health/config.py).")
    port: int = f(PORT, desc="The tier-2 nodes' health endpoint port (their tier2.healthPort).")
    interval_ms: int = f(Int(10, 60000), "intervalMs")
    timeout_ms: int = f(Int(10, 60000), "timeoutMs")
    rise: int = f(Int(1, 100), desc="Passes in a row before a failed tier-2 node takes traffic again.")
    fall: int = f(Int(1, 100), desc="Failures in a row before a tier-2 node stops taking new flows.")


@_t
class Tier1(PlanObject):
    SCHEMA_DEF = "tier1"
    DESCRIPTION = ("Present on tier-1 nodes: per VIP:port/protocol the T2 nodes and their Maglev table; "
                   "t1-only services (only when there are some) with their backends and tables.")
    dispatch: T1Dispatch = f(Obj(T1Dispatch))
    t2_nodes: tuple = f(ListOf(Obj(T2Node)))
    maglev_tables: tuple = f(ListOf(Obj(MaglevTable)))
    services: tuple = f(ListOf(Obj(T1Service)))
    backends: tuple = f(ListOf(Obj(T1Backend)), omit_if=(), desc="Backends of t1-only services, by id.")
    backend_tables: tuple = f(ListOf(Obj(BackendTable)), omit_if=())
    direct_services: tuple = f(ListOf(Obj(T1DirectService)), omit_if=(),
                               desc="t1-only services: straight to the backends of their table.")
    health_check: T2HealthCheck | None = f(Nullable(Obj(T2HealthCheck)), omit_if=None)

    def validate(self, path):
        ids = {t.id for t in self.maglev_tables}
        for i, s in enumerate(self.services):
            if s.maglev_table not in ids:
                raise PlanFormatError((*path, "services", i, "maglevTable"), "names no table of maglevTables")
        _validate_direct(self, path)


def _validate_direct(t1: Tier1, path) -> None:
    """t1-only parts: every table a direct service names exists, every id a table holds is a backend."""
    be_ids = {b.id for b in t1.backends}
    if len(be_ids) != len(t1.backends):
        raise PlanFormatError((*path, "backends"), "holds an id twice")
    for i, t in enumerate(t1.backend_tables):
        if not (len(t.backends) == len(t.weights) == len(t.slots)):
            raise PlanFormatError((*path, "backendTables", i), "backends, weights and slots differ in length")
        for j, b in enumerate(t.backends):
            if b not in be_ids:
                raise PlanFormatError((*path, "backendTables", i, "backends", j), "names no backend of backends")
    tables = {t.id for t in t1.backend_tables}
    for i, s in enumerate(t1.direct_services):
        if s.backend_table not in tables:
            raise PlanFormatError((*path, "directServices", i, "backendTable"), "names no table of backendTables")


# ---------------------------------------------------------------- tier 2
@_t
class SecretRef(PlanObject):
    """A Secret by reference: the plan never holds the material, only a digest of it
    (docs/plan-format.md, "Secret digests"); null when the Secret is missing."""

    SCHEMA_DEF = "secretRef"
    DESCRIPTION = ("A secret by reference and digest of its content (null: the Secret is missing). "
                   "Never material.")
    secret_ref: str = f(OBJECT_KEY)
    sha256: str | None = f(Nullable(SHA256))


@_t
class ClientValidation(PlanObject):
    ca_secret_ref: str = f(OBJECT_KEY)
    sha256: str | None = f(Nullable(SHA256))
    subject_alternative_names: tuple = f(STRINGS)


@_t
class Tls(PlanObject):
    certificates: tuple = f(ListOf(Obj(SecretRef)))
    min_version: str = f(TLS_VERSION)
    max_version: str = f(TLS_VERSION)
    cipher_suites: tuple = f(STRINGS)
    client_validation: ClientValidation | None = f(Nullable(Obj(ClientValidation)))


@_t
class Auth(PlanObject):
    basic: SecretRef = f(Obj(SecretRef))


@_t
class RoutePath(PlanObject):
    type: str = f(Enum("prefix", "exact"))
    value: str = f(Str("^/"))


@_t
class Persistence(PlanObject):
    source_ip: bool = f(Bool(), "sourceIP")
    cookies: tuple = f(STRINGS)
    headers: tuple = f(STRINGS)


@_t
class RateLimit(PlanObject):
    SCHEMA_DEF = "rateLimit"
    DESCRIPTION = "At most `limit` requests (HTTP routes) or connections per client address per `periodSeconds`."
    limit: int = f(Int(1, U32))
    period_seconds: int = f(Int(1, 86400 * 365))


@_t
class NameMatch(PlanObject):
    type: str = f(Enum("exact", "suffix"))
    value: str = f(Str(min_len=1))


@_t
class ValueMatch(PlanObject):
    name: str = f(Str(min_len=1))
    type: str = f(Enum("exact", "prefix", "regex"))
    value: str = f(Str(min_len=1))


@_t
class FilterRule(PlanObject):
    """One allow/deny rule; what it sets must all hold (an unset condition holds)."""
    source_cidr: str | None = f(Nullable(CIDR), "sourceCIDR")
    host_name: NameMatch | None = f(Nullable(Obj(NameMatch)), desc="Host header (HTTP) or SNI (TLS routes).")
    path: RoutePath | None = f(Nullable(Obj(RoutePath)))
    headers: tuple = f(ListOf(Obj(ValueMatch)))


@_t
class Filtering(PlanObject):
    SCHEMA_DEF = "filtering"
    DESCRIPTION = "Allow: only what a rule matches passes; Deny: what a rule matches is refused."
    rule_type: str = f(Enum("Allow", "Deny"))
    rules: tuple = f(ListOf(Obj(FilterRule), min_items=1))


@_t
class HttpVersions(PlanObject):
    SCHEMA_DEF = "httpVersions"
    http11: bool = f(Bool(), "http11")
    http2: bool = f(Bool(), "http2")


@_t
class Route(PlanObject):
    host_names: tuple = f(ListOf(Str(min_len=1)))
    path: RoutePath | None = f(Nullable(Obj(RoutePath)))
    backend_pool: str = f(SERVICE_KEY)
    persistence: Persistence | None = f(Nullable(Obj(Persistence)))
    auth_disabled: bool = f(Const(True), omit_if=False, desc="Only present when the route turns basic auth off.")
    rate_limit: RateLimit | None = f(Nullable(Obj(RateLimit)), omit_if=None)
    filtering: Filtering | None = f(Nullable(Obj(Filtering)), omit_if=None)


@_t
class Listener(PlanObject):
    SCHEMA_DEF = "listener"
    service: str = f(SERVICE_KEY)
    vip: str = f(IPV4)
    port: int = f(PORT)
    protocol: str = f(PROTOCOL)
    type: str = f(Enum(*LISTENER_TYPES))
    proxy_protocol: Any = f(Nullable(OpaqueObject()), desc="The LBService proxyProtocolConfig as written.")
    tls: Tls | None = f(Nullable(Obj(Tls)))
    auth: Auth | None = f(Nullable(Obj(Auth)))
    routes: tuple = f(ListOf(Obj(Route)))
    rate_limit: RateLimit | None = f(Nullable(Obj(RateLimit)), omit_if=None,
                                     desc="Connections per client address (the application's rateLimits).")
    connection_filtering: Filtering | None = f(Nullable(Obj(Filtering)), omit_if=None)
    http_versions: HttpVersions | None = f(Nullable(Obj(HttpVersions)), omit_if=None)


@_t
class Backend(PlanObject):
    address: str = f(Str(min_len=1))
    port: int | None = f(Nullable(PORT))
    weight: int = f(Int(1))
    status: str = f(Enum("Active", "Draining"))


@_t
class HttpCheck(PlanObject):
    path: str = f(Str("^/"))
    method: str = f(Str())
    host: str | None = f(Nullable(Str()))
    expected_status_codes: tuple = f(ListOf(Int(100, 599), min_items=1))


@_t
class BackendTls(PlanObject):
    SCHEMA_DEF = "backendTls"
    DESCRIPTION = ("TLS towards the backends: verified against the CA Secret's ca.crt (null: the system "
                   "CAs), SNI and verified name `serverName` (null: the backend's host name).")
    min_version: str | None = f(Nullable(TLS_VERSION))
    max_version: str | None = f(Nullable(TLS_VERSION))
    cipher_suites: tuple = f(STRINGS)
    ca: SecretRef | None = f(Nullable(Obj(SecretRef)))
    server_name: str | None = f(Nullable(Str(min_len=1)))


@_t
class HealthCheck(PlanObject):
    # compile writes whole seconds (the LBBackendPool schema's integers); HAProxy takes less
    interval_seconds: float = f(Num(0.1))
    timeout_seconds: float = f(Num(0.1))
    healthy_threshold: int = f(Int(1))
    unhealthy_threshold: int = f(Int(1))
    http: HttpCheck | None = f(Nullable(Obj(HttpCheck)))
    tcp: bool = f(Bool())
    tls: BackendTls | None = f(Nullable(Obj(BackendTls)), omit_if=None, desc="Checks over TLS.")


@_t
class Resolver(PlanObject):
    ip: str = f(Str(min_len=1))
    port: int = f(PORT)


@_t
class BackendPool(PlanObject):
    SCHEMA_DEF = "backendPool"
    name: str = f(SERVICE_KEY)
    backend_type: str = f(Enum("IP", "Hostname", "K8sService"))
    algorithm: str = f(Enum("roundRobin", "leastRequest", "consistentHashing"))
    table_size: int | None = f(Nullable(Int(2)))
    backends: tuple = f(ListOf(Obj(Backend)))
    health_check: HealthCheck | None = f(Nullable(Obj(HealthCheck)))
    resolvers: tuple = f(ListOf(Obj(Resolver)))
    connect_timeout_seconds: int = f(Int(1))
    tls: BackendTls | None = f(Nullable(Obj(BackendTls)), omit_if=None)
    proxy_protocol_version: int | None = f(Nullable(Int(1, 2)), omit_if=None,
                                           desc="Send a PROXY protocol header of this version to the backends.")
    http_versions: HttpVersions | None = f(Nullable(Obj(HttpVersions)), omit_if=None)


@_t
class T2Dispatch(PlanObject):
    mode: str = f(Enum("vxlan", "ipip"))
    device: str = f(Str(min_len=1, max_len=15))
    vni: int = f(Int(0, 16777215))
    port: int = f(PORT)
    tunnel_mac: str = f(MAC)


@_t
class Tier2(PlanObject):
    SCHEMA_DEF = "tier2"
    DESCRIPTION = "Present on tier-2 nodes: the L7 listeners and the backend pools they route to."
    dispatch: T2Dispatch = f(Obj(T2Dispatch))
    vips: tuple = f(ListOf(IPV4, unique=True))
    listeners: tuple = f(ListOf(Obj(Listener)))
    backend_pools: tuple = f(ListOf(Obj(BackendPool)))
    health_port: int | None = f(Nullable(PORT), omit_if=None, desc=(
        "Port of the health endpoint tier 1 probes (HAProxy's view per service); left out: 10901."))

    def pool(self, name: str) -> BackendPool | None:
        return next((p for p in self.backend_pools if p.name == name), None)


# ---------------------------------------------------------------- bgp
@_t
class Timers(PlanObject):
    connect_retry_seconds: int = f(Int(1))
    hold_time_seconds: int = f(Int(0))
    keep_alive_seconds: int = f(Int(1))


@_t
class GracefulRestart(PlanObject):
    enabled: bool = f(Bool())
    restart_time_seconds: int = f(Int(1))


@_t
class Bfd(PlanObject):
    profile: str = f(NAME)
    receive_interval_ms: int = f(Int(10, 60000))
    transmit_interval_ms: int = f(Int(10, 60000))
    detect_multiplier: int = f(Int(2, 255))
    minimum_ttl: int = f(Int(1, 255), "minimumTTL")


@_t
class Family(PlanObject):
    afi: str = f(Enum("ipv4", "ipv6"))
    safi: str = f(Enum("unicast", "multicast"))


@_t
class Prefix(PlanObject):
    prefix: str = f(PREFIX, desc="A VIP as /32, or this node's PodCIDR (advertisementType PodCIDR); "
                               "IPv6 prefixes go out over an ipv6 family.")
    services: tuple = f(ListOf(SERVICE_KEY, unique=True), desc="The services behind a VIP; empty for a PodCIDR.")
    communities: tuple = f(STRINGS)
    large_communities: tuple = f(STRINGS)
    local_preference: int | None = f(Nullable(Int(0, U32)))


@_t
class BgpPeer(PlanObject):
    SCHEMA_DEF = "bgpPeer"
    name: str = f(NAME)
    address: str = f(Str("^[0-9A-Fa-f:.]+$"))
    asn: int = f(Int(0, U32))  # 0: any ASN other than localASN (eBGP), as Cilium's peerASN 0
    port: int = f(PORT)
    timers: Timers = f(Obj(Timers))
    graceful_restart: GracefulRestart = f(Obj(GracefulRestart))
    ebgp_multihop: int | None = f(Nullable(Int(2, 255)))
    auth: SecretRef | None = f(Nullable(Obj(SecretRef)))
    bfd: Bfd | None = f(Nullable(Obj(Bfd)))
    families: tuple = f(ListOf(Obj(Family)))
    prefixes: tuple = f(ListOf(Obj(Prefix)))


@_t
class BgpInstance(PlanObject):
    name: str = f(NAME)
    local_asn: int = f(Int(1, U32), "localASN")
    router_id: str | None = f(Nullable(IPV4))
    local_port: int = f(PORT)
    peers: tuple = f(ListOf(Obj(BgpPeer)))


@_t
class Bgp(PlanObject):
    SCHEMA_DEF = "bgp"
    DESCRIPTION = "Present on nodes an IsovalentBGPClusterConfig selects."
    instances: tuple = f(ListOf(Obj(BgpInstance), min_items=1))


# ---------------------------------------------------------------- the plan
@_t
class NodePlan(PlanObject):
    DESCRIPTION = ("One node's plan as `cilium-lb compile` writes it (docs/plan-format.md): everything the "
                   "agent carries out on that node. Secrets appear only as references with digests.")
    api_version: str = f(Const(API_VERSION))
    kind: str = f(Const(KIND))
    node: PlanNode = f(Obj(PlanNode))
    ipam: Ipam = f(Obj(Ipam))
    network: Network = f(Obj(Network))
    tier1: Tier1 | None = f(Nullable(Obj(Tier1)))
    tier2: Tier2 | None = f(Nullable(Obj(Tier2)))
    bgp: Bgp | None = f(Nullable(Obj(Bgp)))

    @property
    def name(self) -> str:
        return self.node.name

    def secret_refs(self) -> dict[str, str | None]:
        """Every Secret the plan uses: "ns/name" -> its digest (None: the Secret was missing)."""
        out: dict[str, str | None] = {}
        if self.tier2 is not None:
            for lst in self.tier2.listeners:
                if lst.tls is not None:
                    for c in lst.tls.certificates:
                        out[c.secret_ref] = c.sha256
                    cv = lst.tls.client_validation
                    if cv is not None:
                        out[cv.ca_secret_ref] = cv.sha256
                if lst.auth is not None:
                    out[lst.auth.basic.secret_ref] = lst.auth.basic.sha256
            for pool in self.tier2.backend_pools:
                for tls in (pool.tls, pool.health_check.tls if pool.health_check else None):
                    if tls is not None and tls.ca is not None:
                        out[tls.ca.secret_ref] = tls.ca.sha256
        if self.bgp is not None:
            for inst in self.bgp.instances:
                for p in inst.peers:
                    if p.auth is not None:
                        out[p.auth.secret_ref] = p.auth.sha256
        return dict(sorted(out.items()))
