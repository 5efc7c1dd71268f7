"""Fields the schemas accept but cilium-lb does not carry out yet are refused, never dropped.

A field that validates and then vanishes between the manifest and the host is the worst kind
of error: the set looks right, the rate limit or filter or TLS to the backends is simply not
there. Every such field is reported where it is written, named, with what happens instead.
Severity is error, except for fields that only tune something optional (warning): HTTP
version switches, BFD echo, persistence keys beyond the first, PROXY protocol version and TLV
filters, TLS curve and signature lists, JWT switches on routes, the pod networking keys of
cilium-config.

Refused today (carrying them out is later work; tests/test_schema_coverage.py proves every
schema field is either carried out or listed here):

- LBService: `udpProxy` (tier 2 proxies TCP only), `rateLimits`, `connectionFiltering` and
  `auth.jwt` of an application; `rateLimits`, `requestFiltering`, `connectionFiltering` of a
  route; `forceDeploymentMode: t1-only`; `httpConfig` (warning); a route's `auth.jwt`
  (warning); a route's `auth.basic.disabled: true` (the listener's basic auth still applies
  to it); `persistentBackend` with more than one key (warning: only the first is hashed);
  `proxyProtocolConfig.disallowedVersions` and `.passthroughTLVs`, `tlsConfig`
  `allowedECDHCurves` and `allowedSignatureAlgorithms` (warning).
- LBBackendPool: `tlsConfig` (TLS to backends), `healthCheck.tlsConfig`,
  `proxyProtocolConfig` (PROXY protocol to backends), `backendType: K8sService` and
  `backends[].k8sServiceRef`, health checks' `send` and `receive`; `httpConfig` (warning).
- IsovalentBFDProfile `echoFunction` (warning); IsovalentBGPAdvertisement
  `advertisementType` PodCIDR and CiliumPodIPPool.
- v1 Service of type LoadBalancer that LB-IPAM serves: it gets an address, but no tier-1
  entry, listener or BGP prefix (serve it with an LBVIP and LBServices).
- CiliumLoadBalancerIPPool IPv6 blocks (warning: plans hold IPv4 only).
- cilium-config pod networking keys (one warning at `data` naming those present):
  `routing-mode`, `tunnel-protocol`, `tunnel-port`, `auto-direct-node-routes`,
  `enable-ipv4-masquerade`, `enable-bandwidth-manager`, `ipv4-native-routing-cidr` are
  compiled into the plan but no node component applies them (pod routing stays with the
  cluster's Cilium; `diff` does not list them either).

Example of a finding:

    vip-service.yaml:31:9: error: spec.applications.httpsProxy.routes[0].rateLimits is not
    implemented by cilium-lb: requests would not be limited; remove it [not-implemented]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ...manifest.index import ResourceIndex
from ...manifest.resource import Resource
from ...model import ipam
from ...model.apps import APPLICATION_TYPES
from ..finding import Context, Finding
from ..problem import Severity

ID = "not-implemented"
SEVERITY = Severity.ERROR

E, W = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True)
class Refusal:
    """A schema field cilium-lb refuses: `path` in schema notation (`*` any application type,
    `[]` any list item), the severity, what happens instead, and optionally a test on the
    value (refused only when it says so) or on the resource."""

    kind: str
    path: str
    severity: Severity
    why: str
    when: Callable[[Any], bool] | None = None
    applies: Callable[[Resource, ResourceIndex], bool] | None = None
    fix: str = "remove it"
    names: Callable[[Any], str] | None = None  # the fields named, when not the path itself

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(self.path.replace("[]", ".[]").split("."))


def _several_keys(pb: Any) -> bool:
    if not isinstance(pb, dict):
        return False
    keys = (1 if pb.get("sourceIP") else 0) + len(pb.get("cookies") or []) + len(pb.get("headers") or [])
    return keys > 1


def _served_lb_service(svc: Resource, index: ResourceIndex) -> bool:
    return svc.spec.get("type") == "LoadBalancer" and any(c is svc for c in ipam.clients(index))


def _ipv6(text: Any) -> bool:
    return isinstance(text, str) and ":" in text


def _cilium_config(cm: Resource, index: ResourceIndex) -> bool:
    return cm is index.cilium_config()


A = "spec.applications.*"
NETWORK_KEYS = ("routing-mode", "tunnel-protocol", "tunnel-port", "auto-direct-node-routes",
                "enable-ipv4-masquerade", "enable-bandwidth-manager", "ipv4-native-routing-cidr")

REFUSALS: tuple[Refusal, ...] = (
    Refusal("LBService", "spec.applications.udpProxy", E, "tier 2 proxies TCP only, so nothing would serve it"),
    Refusal("LBService", f"{A}.rateLimits", E, "connections would not be limited"),
    Refusal("LBService", f"{A}.connectionFiltering", E, "connections would not be filtered"),
    Refusal("LBService", f"{A}.auth.jwt", E, "requests would not be authenticated"),
    Refusal("LBService", f"{A}.httpConfig", W, "HTTP versions stay HAProxy's defaults"),
    Refusal("LBService", f"{A}.forceDeploymentMode", E, "every service goes through tier 2",
            when=lambda v: v == "t1-only"),
    Refusal("LBService", f"{A}.routes[].rateLimits", E, "requests would not be limited"),
    Refusal("LBService", f"{A}.routes[].requestFiltering", E, "requests would not be filtered"),
    Refusal("LBService", f"{A}.routes[].connectionFiltering", E, "connections would not be filtered"),
    Refusal("LBService", f"{A}.routes[].auth.jwt", W, "JWT authentication is not implemented at all"),
    Refusal("LBService", f"{A}.routes[].auth.basic.disabled", E, "tier 2 asks every route of the "
            "listener for basic auth", when=lambda v: v is True),
    Refusal("LBService", f"{A}.routes[].persistentBackend", W,
            "only the first key is hashed (headers, then cookies, then sourceIP)", when=_several_keys),
    Refusal("LBService", f"{A}.tlsConfig.allowedECDHCurves", W, "curves stay HAProxy's defaults"),
    Refusal("LBService", f"{A}.tlsConfig.allowedSignatureAlgorithms", W,
            "signature algorithms stay HAProxy's defaults"),
    Refusal("LBService", "spec.proxyProtocolConfig.disallowedVersions", W,
            "PROXY protocol v1 and v2 are both accepted"),
    Refusal("LBService", "spec.proxyProtocolConfig.passthroughTLVs", W, "TLVs are not passed on"),
    Refusal("LBBackendPool", "spec.tlsConfig", E, "backends would be reached without TLS"),
    Refusal("LBBackendPool", "spec.healthCheck.tlsConfig", E, "health checks would not use TLS"),
    Refusal("LBBackendPool", "spec.proxyProtocolConfig", E, "backends would get no PROXY protocol header"),
    Refusal("LBBackendPool", "spec.httpConfig", W, "HTTP versions to backends stay HAProxy's defaults"),
    Refusal("LBBackendPool", "spec.healthCheck.http.send", E, "the check sends its plain request instead"),
    Refusal("LBBackendPool", "spec.healthCheck.http.receive", E, "the check does not look for this text"),
    Refusal("LBBackendPool", "spec.healthCheck.tcp.send", E, "the check only opens a connection"),
    Refusal("LBBackendPool", "spec.healthCheck.tcp.receive", E, "the check does not look for this text"),
    Refusal("LBBackendPool", "spec.backendType", E, "K8sService backends are not resolved, so the pool "
            "would have no servers", when=lambda v: v == "K8sService"),
    Refusal("LBBackendPool", "spec.backends[].k8sServiceRef", E, "Kubernetes Services are not resolved to "
            "backends"),
    Refusal("IsovalentBFDProfile", "spec.echoFunction", W, "BFD runs without echo"),
    Refusal("IsovalentBGPAdvertisement", "spec.advertisements[].advertisementType", E,
            "only Service advertisements are announced", when=lambda v: v in ("PodCIDR", "CiliumPodIPPool")),
    Refusal("Service", "spec.type", E, "LB-IPAM gives it an address but nothing serves or announces it; "
            "serve it with an LBVIP and LBServices", when=lambda v: v == "LoadBalancer",
            applies=_served_lb_service),
    Refusal("CiliumLoadBalancerIPPool", "spec.blocks[].cidr", W, "plans hold IPv4 only: no address is "
            "allocated from it", when=_ipv6),
    Refusal("CiliumLoadBalancerIPPool", "spec.blocks[].start", W, "plans hold IPv4 only: no address is "
            "allocated from it", when=_ipv6),
    Refusal("ConfigMap", "data", W, "no node component applies pod networking (it stays with the cluster's "
            "Cilium)", when=lambda d: isinstance(d, dict) and any(k in d for k in NETWORK_KEYS),
            applies=_cilium_config, fix="cilium-lb only compiles them into the plan",
            names=lambda d: ", ".join(f"data.{k}" for k in NETWORK_KEYS if k in d)),
)
# the schema paths refused by the ConfigMap refusal above (one finding names them all)
REFUSED_KEYS = {("ConfigMap", f"data.{k}") for k in NETWORK_KEYS}


def check(ctx: Context) -> Iterator[Finding]:
    by_kind: dict[str, list[Refusal]] = {}
    for r in REFUSALS:
        by_kind.setdefault(r.kind, []).append(r)
    for kind, refusals in sorted(by_kind.items()):
        for res in ctx.index.valid(kind):
            for r in refusals:
                if r.applies is not None and not r.applies(res, ctx.index):
                    continue
                for path, value in _walk(res.body, r.steps, ()):
                    if r.when is None or r.when(value):
                        what = r.names(value) if r.names else dotted(path)
                        verb = "are" if r.names and "," in what else "is"
                        yield Finding(res, path, f"{what} {verb} not implemented by cilium-lb: {r.why}; {r.fix}",
                                      key=r.when is None or r.names is not None or isinstance(value, (dict, list)),
                                      severity=r.severity)


def _walk(node: Any, steps: tuple[str, ...], at: tuple) -> Iterator[tuple[tuple, Any]]:
    if not steps:
        yield at, node
        return
    step, rest = steps[0], steps[1:]
    if step == "[]":
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from _walk(item, rest, at + (i,))
    elif step == "*":
        if isinstance(node, dict):
            for key in APPLICATION_TYPES:  # `*` stands for an application type
                if key in node:
                    yield from _walk(node[key], rest, at + (key,))
    elif isinstance(node, dict) and step in node:
        yield from _walk(node[step], rest, at + (step,))


def dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out
