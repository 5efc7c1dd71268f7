"""Fields the schemas accept but cilium-lb does not carry out are refused, never dropped.

The schemas follow upstream, so a manifest written for Cilium or Isovalent validates. A field
that validates and then vanishes between the manifest and the host is the worst kind of error:
the set looks right, the rate limit or filter or TLS to the backends is simply not there. So
every such field is reported where it is written, named, with what happens instead. The object
stays valid and everything else in it is carried out; the field is not.

Severity is error where the missing behaviour matters (traffic would be served without a
filter, authentication or backend it asks for), warning where it only tunes something optional
(BFD echo, PROXY protocol version and TLV filters, TLS curve and signature lists, JWT switches
on routes, the pod networking keys of cilium-config) and for the BGP features the speaker
leaves out (last item below; the rule's default severity is theirs).
tests/test_schema_coverage.py proves every schema field is either carried out or refused here.
(Rate limits, request/connection filtering, multi-key persistence, httpConfig, backend TLS,
TLS health checks and PROXY protocol to backends are carried out: lbcli/model/l7policy.py.)

Refused (error unless marked):

- LBService: `udpProxy` with `forceDeploymentMode: t1-t2` (tier 2 proxies TCP only; udpProxy
  is served by tier 1 straight to the backends), `auth.jwt` of an application (HAProxy
  2.6's jwt_verify takes one PEM key, not a JWKS, and checks no claims); filter rules'
  `clientCertificateSANs` (HAProxy 2.6 has no SAN fetch) and `jwtClaims`; a route's `auth.jwt` (warning); a route's
  `auth.basic.disabled: true` (the listener's basic auth still applies to it);
  `proxyProtocolConfig.disallowedVersions` (HAProxy 2.6 exposes no PROXY version) and
  `.passthroughTLVs`, `tlsConfig` `allowedECDHCurves` and `allowedSignatureAlgorithms` (warning).
- t1-only services (`forceDeploymentMode: t1-only`, and udpProxy): what tier 1 does not do —
  the service's `proxyProtocolConfig`, its route's `connectionFiltering` and `rateLimits`; on a
  pool one of them uses: `healthCheck`, a `roundRobin` or `leastRequest` algorithm (tier 1 is
  Maglev), Hostname backends, `tlsConfig`, `proxyProtocolConfig`, and (warning) `tcpConfig`,
  `httpConfig` (lbcli/lint/rules/_t1only.py, docs/t1-only.md).
- LBBackendPool: health checks' `send` and `receive`; `proxyProtocolConfig.passthroughTLVs`, `tlsConfig` and
  `healthCheck.tlsConfig` `allowedECDHCurves` / `allowedSignatureAlgorithms` (warning).
- IsovalentBFDProfile `echoFunction` (warning).
- v1 Service of type LoadBalancer that LB-IPAM serves: its UDP and SCTP ports (its TCP ports
  are served like LBServices: lbcli/model/lbservices.py); `externalTrafficPolicy: Local`
  (warning: every ready endpoint is used and the client address is not kept), a ClientIP
  affinity timeout other than the default 10800 s (warning: the hash has no timeout).
- CiliumLoadBalancerIPPool IPv6 blocks (warning: plans hold IPv4 only).
- cilium-config `tunnel-protocol: geneve` with routing-mode tunnel (the node's network
  component builds VXLAN tunnels only; kernels of this machine kind have no GENEVE at all). The
  other pod networking keys are carried out by the `network` component.
- BGP values the node's speaker cannot carry out (it would refuse the node's whole BGP
  section), on IsovalentBGP* and CiliumBGP* kinds alike: peer config families other than
  ipv4/unicast and ipv6/unicast, well-known communities other than no-export, no-advertise,
  no-export-subconfed and no-peer (lbcli/model/bgp.py).
- BGP (warning), on IsovalentBGP* and CiliumBGP* kinds alike:
  - advertisements of a type other than Service and PodCIDR (CiliumPodIPPool, Interface,
    EgressGateway, SRv6LocatorPool), Service addresses other than LoadBalancerIP (tier 1
    announces only the VIPs it serves), aggregationLengthIPv4/IPv6 (PodCIDR advertisements
    are carried out: each selected node announces its own IPv4 PodCIDRs);
  - peers found by autoDiscovery or over peerInterface, instances without localASN, VRFs and
    route reflectors; peer config transport.sourceInterface / transport.localPort and
    families[].importPolicyRef;
  - node overrides: per-peer localAddress, localPort, peerInterface and autoDiscovery,
    srv6Responder and maintenance (routerID, localPort and localASN of an instance are
    carried out).

Examples:

    vip-service.yaml:31:9: error: spec.applications.httpsProxy.routes[0].rateLimits is not
    implemented by cilium-lb: requests would not be limited; remove it [not-implemented]
    bgp.yaml:42:9: warning: advertisementType Interface is not implemented by cilium-lb: tier 1
    announces only the VIPs it serves; this advertisement is ignored [not-implemented]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ...manifest.index import BGP_FAMILIES, ResourceIndex, bgp_kinds
from ...manifest.resource import Resource
from ...model import ipam
from ...model.apps import APPLICATION_TYPES
from ...model.bgp import CHANNELS, WELL_KNOWN_COMMUNITIES
from ..finding import Context, Finding
from ..problem import Severity
from ._refs import as_list
from ._t1only import refusals as refusals_t1_only

ID = "not-implemented"
SEVERITY = Severity.WARNING  # the BGP findings below; the refusal table sets its own

E, W = Severity.ERROR, Severity.WARNING

_NOT = "is not implemented by cilium-lb"


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


def _served_lb_service(svc: Resource, index: ResourceIndex) -> bool:
    return svc.spec.get("type") == "LoadBalancer" and ipam.is_client(index, svc)


def _ipv6(text: Any) -> bool:
    return isinstance(text, str) and ":" in text


def _cilium_config(cm: Resource, index: ResourceIndex) -> bool:
    return cm is index.cilium_config()


A = "spec.applications.*"


def _unknown_communities(names: Any) -> list[str]:
    return [n for n in names if n not in WELL_KNOWN_COMMUNITIES] if isinstance(names, list) else []


_KNOWN = ", ".join(WELL_KNOWN_COMMUNITIES)
_AFIS = sorted({a for a, _ in CHANNELS})
_SAFIS = sorted({s for _, s in CHANNELS})

# BGP values the node's speaker cannot carry out: it would refuse the node's whole BGP section
BGP_REFUSALS = tuple(r for fam in BGP_FAMILIES for r in (
    Refusal(f"{fam}PeerConfig", "spec.families[].afi", E, f"BIRD opens {' and '.join(_AFIS)} sessions only",
            when=lambda v: v not in _AFIS, names=lambda v: f"afi {v}", fix="remove the family"),
    Refusal(f"{fam}PeerConfig", "spec.families[].safi", E, f"BIRD opens {' and '.join(_SAFIS)} sessions only",
            when=lambda v: v not in _SAFIS, names=lambda v: f"safi {v}", fix="remove the family"),
    Refusal(f"{fam}Advertisement", "spec.advertisements[].attributes.communities.wellKnown", E,
            f"the node knows only {_KNOWN} by name", when=lambda v: bool(_unknown_communities(v)),
            fix="write the number in `standard` instead",
            names=lambda v: "wellKnown communit" + ("ies " if len(_unknown_communities(v)) > 1 else "y ")
            + ", ".join(_unknown_communities(v))),
))

REFUSALS: tuple[Refusal, ...] = BGP_REFUSALS + (
    Refusal("LBService", f"{A}.auth.jwt", E, "requests would not be authenticated (HAProxy 2.6's "
            "jwt_verify takes one PEM key, not a JWKS, and checks no expiry, issuer or audience)"),
    Refusal("LBService", f"{A}.routes[].auth.jwt", W, "JWT authentication is not implemented at all"),
    Refusal("LBService", f"{A}.routes[].auth.basic.disabled", E, "tier 2 asks every route of the "
            "listener for basic auth", when=lambda v: v is True),
    Refusal("LBService", f"{A}.tlsConfig.allowedECDHCurves", W, "curves stay HAProxy's defaults"),
    Refusal("LBService", f"{A}.tlsConfig.allowedSignatureAlgorithms", W,
            "signature algorithms stay HAProxy's defaults"),
    Refusal("LBService", "spec.proxyProtocolConfig.disallowedVersions", W,
            "PROXY protocol v1 and v2 are both accepted (HAProxy 2.6 has no fetch of the version)"),
    Refusal("LBService", "spec.proxyProtocolConfig.passthroughTLVs", W, "TLVs are not passed on"),
    # filter conditions HAProxy 2.6 cannot test (lbcli/model/l7policy.py); an Allow rule with one
    # is dropped, a Deny rule keeps its other conditions
    *(Refusal("LBService", f"{A}.routes[].{flt}.rules[].clientCertificateSANs", E,
              "HAProxy 2.6 has no fetch for certificate SANs") for flt in ("requestFiltering", "connectionFiltering")),
    Refusal("LBService", f"{A}.routes[].requestFiltering.rules[].jwtClaims", E,
            "no JWT is validated, so it has no claims"),
    Refusal("LBBackendPool", "spec.proxyProtocolConfig.passthroughTLVs", W,
            "HAProxy sends only the TLVs it makes itself"),
    Refusal("LBBackendPool", "spec.tlsConfig.allowedECDHCurves", W, "curves stay HAProxy's defaults"),
    Refusal("LBBackendPool", "spec.tlsConfig.allowedSignatureAlgorithms", W,
            "signature algorithms stay HAProxy's defaults"),
    Refusal("LBBackendPool", "spec.healthCheck.tlsConfig.allowedECDHCurves", W, "curves stay HAProxy's defaults"),
    Refusal("LBBackendPool", "spec.healthCheck.tlsConfig.allowedSignatureAlgorithms", W,
            "signature algorithms stay HAProxy's defaults"),
    Refusal("LBBackendPool", "spec.healthCheck.http.send", E, "the check sends its plain request instead"),
    Refusal("LBBackendPool", "spec.healthCheck.http.receive", E, "the check does not look for this text"),
    Refusal("LBBackendPool", "spec.healthCheck.tcp.send", E, "the check only opens a connection"),
    Refusal("LBBackendPool", "spec.healthCheck.tcp.receive", E, "the check does not look for this text"),
    Refusal("IsovalentBFDProfile", "spec.echoFunction", W, "BFD runs without echo"),
    Refusal("Service", "spec.ports[].protocol", E, "tier 2 proxies TCP only, so this port of the "
            "LoadBalancer Service is not served", when=lambda v: v in ("UDP", "SCTP"),
            applies=_served_lb_service, names=lambda v: f"protocol {v}", fix="serve it with a TCP port"),
    Refusal("Service", "spec.sessionAffinityConfig.clientIP.timeoutSeconds", W, "ClientIP affinity hashes the "
            "client address: it holds while the endpoints do not change, with no timeout",
            when=lambda v: v != 10800, applies=_served_lb_service, fix="leave it at 10800 (the default) or remove it"),
    Refusal("Service", "spec.externalTrafficPolicy", W, "tier 2 proxies to every ready endpoint of the "
            "cluster (as with Cluster) and the backend sees tier 2's address, not the client's",
            when=lambda v: v == "Local", applies=_served_lb_service, fix="use Cluster"),
    Refusal("CiliumLoadBalancerIPPool", "spec.blocks[].cidr", W, "plans hold IPv4 only: no address is "
            "allocated from it", when=_ipv6),
    Refusal("CiliumLoadBalancerIPPool", "spec.blocks[].start", W, "plans hold IPv4 only: no address is "
            "allocated from it", when=_ipv6),
    Refusal("ConfigMap", "data", E, "the node's network component builds VXLAN tunnels only",
            when=lambda d: isinstance(d, dict) and str(d.get("tunnel-protocol", "")).strip() == "geneve"
            and str(d.get("routing-mode", "tunnel")).strip() == "tunnel",
            applies=_cilium_config, fix="use tunnel-protocol vxlan", names=lambda d: "data.tunnel-protocol geneve"),
)
REFUSALS += refusals_t1_only(Refusal)  # t1-only services: what tier 1 does not do (_t1only.py)
# schema paths refused whatever their value (besides REFUSALS without `when`); none at present
REFUSED_KEYS: set[tuple[str, str]] = set()

# The fields the BGP checks below refuse wherever they are set, by kind suffix (on each family's
# kind that has the field), and those they refuse for some values only (the other values are
# carried out). tests/test_schema_coverage.py counts them refused; tests/rules/ fires each.
BGP_REFUSED = {
    "Advertisement": ("spec.advertisements[].service.aggregationLengthIPv4",
                      "spec.advertisements[].service.aggregationLengthIPv6"),
    "ClusterConfig": ("spec.bgpInstances[].vrfs", "spec.bgpInstances[].routeReflector",
                      "spec.bgpInstances[].peers[].autoDiscovery", "spec.bgpInstances[].peers[].peerInterface"),
    "PeerConfig": ("spec.transport.sourceInterface", "spec.transport.localPort", "spec.families[].importPolicyRef"),
    "NodeConfigOverride": ("spec.bgpInstances[].srv6Responder", "spec.bgpInstances[].maintenance",
                           "spec.bgpInstances[].peers[].localAddress", "spec.bgpInstances[].peers[].localPort",
                           "spec.bgpInstances[].peers[].peerInterface", "spec.bgpInstances[].peers[].autoDiscovery"),
}
BGP_REFUSED_VALUES = {
    "Advertisement": ("spec.advertisements[].advertisementType",  # all but Service
                      "spec.advertisements[].service.addresses"),  # all but LoadBalancerIP
}


def check(ctx: Context) -> Iterator[Finding]:
    yield from _refusals(ctx)
    for kind in bgp_kinds("Advertisement"):
        for adv in ctx.index.valid(kind):
            yield from _advertisement(adv)
    for kind in bgp_kinds("ClusterConfig"):
        for cfg in ctx.index.valid(kind):
            yield from _cluster_config(cfg)
    for kind in bgp_kinds("PeerConfig"):
        for pc in ctx.index.valid(kind):
            yield from _peer_config(pc)
    for kind in bgp_kinds("NodeConfigOverride"):
        for o in ctx.index.valid(kind):
            yield from _override(o)


def _refusals(ctx: Context) -> Iterator[Finding]:
    by_kind: dict[str, list[Refusal]] = {}
    for r in REFUSALS:
        by_kind.setdefault(r.kind, []).append(r)
    for kind, refusals in sorted(by_kind.items()):
        # the tests on the resource (t1-only service, served Service...) are asked once per
        # object, and the walk looks only for the refusals that apply to it; most objects
        # hold none of their fields at all, which their JSON text says without a walk
        tests = list(dict.fromkeys(r.applies for r in refusals if r.applies is not None))
        plans: dict[tuple, tuple[dict, Any]] = {}
        index = ctx.index
        for res in index.valid(kind):
            on = (tests[0](res, index),) if len(tests) == 1 else tuple(t(res, index) for t in tests)
            plan = plans.get(on)
            if plan is None:
                plan = plans[on] = _plan(refusals, {t for t, yes in zip(tests, on) if yes})
            trie, needles = plan
            if not trie:
                continue
            text = index.json_text(res)
            if text is not None and needles.search(text) is None:
                continue  # no key any refusal ends at: nothing to find
            hits: list = []
            _reach(res.body, trie, (), hits)
            if not hits:
                continue  # the common case: one walk of the few keys any refusal names
            hits.sort(key=lambda h: h[0])  # refusal by refusal, each in document order
            for n, path, value in hits:
                r = refusals[n]
                if r.when is None or r.when(value):
                    what = r.names(value) if r.names else dotted(path)
                    verb = "are" if r.names and "," in what else "is"
                    yield Finding(res, path, f"{what} {verb} not implemented by cilium-lb: {r.why}; {r.fix}",
                                  key=r.when is None or r.names is not None or isinstance(value, (dict, list)),
                                  severity=r.severity)


def _plan(refusals: list[Refusal], applying: set) -> tuple[dict, Any]:
    """The trie of the refusals that apply (those without a test, and those whose test said
    yes) and a search for the JSON text of the keys they end at (`"key":`)."""
    import re

    chosen = [(n, r) for n, r in enumerate(refusals) if r.applies is None or r.applies in applying]
    ends = sorted({next(s for s in reversed(r.steps) if s not in ("[]", "*")) for _, r in chosen})
    return _trie(chosen), re.compile(b'"(?:' + b"|".join(re.escape(e.encode()) for e in ends) + b')":')


def _trie(refusals: list[tuple[int, Refusal]]) -> dict:
    """The refusals' paths (with their indexes) as one tree of steps (`None` holds the indexes
    of the refusals that end there), so each resource is walked once for all of them, not
    once per refusal."""
    root: dict = {}
    for n, r in refusals:
        node = root
        for step in r.steps:
            node = node.setdefault(step, {})
        node.setdefault(None, []).append(n)
    return root


def _reach(node: Any, trie: dict, path: tuple, out: list) -> None:
    """Append (refusal index, path, value) for every node of `trie` that `node` has, depth first
    (so in document order)."""
    for step, sub in trie.items():
        if step is None:
            out.extend((n, path, node) for n in sub)
        elif step == "[]":
            if isinstance(node, list):
                for i, item in enumerate(node):
                    _reach(item, sub, path + (i,), out)
        elif step == "*":
            if isinstance(node, dict):
                for key in APPLICATION_TYPES:  # an application type
                    if key in node:
                        _reach(node[key], sub, path + (key,), out)
        elif isinstance(node, dict) and step in node:
            _reach(node[step], sub, path + (step,), out)


def dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _f(res: Resource, path: tuple, what: str, effect: str) -> Finding:
    return Finding(res, path, f"{what} {_NOT}: {effect}", key=True)


def _advertisement(adv: Resource) -> Iterator[Finding]:
    for i, item in enumerate(as_list(adv.spec.get("advertisements"))):
        if not isinstance(item, dict):
            continue
        base = ("spec", "advertisements", i)
        t = item.get("advertisementType")
        if t == "PodCIDR":
            continue  # announced by each selected node (lbcli/compile/bgp.py)
        if t != "Service":
            yield _f(adv, base + ("advertisementType",), f"advertisementType {t}",
                     "tier 1 announces only the VIPs it serves; this advertisement is ignored")
            continue
        svc = item.get("service") if isinstance(item.get("service"), dict) else {}
        for j, addr in enumerate(as_list(svc.get("addresses"))):
            if addr != "LoadBalancerIP":
                yield _f(adv, base + ("service", "addresses", j), f"advertising {addr} addresses",
                         "tier 1 announces only the VIPs it serves (LoadBalancerIP)")
        for key in ("aggregationLengthIPv4", "aggregationLengthIPv6"):
            if key in svc:
                yield _f(adv, base + ("service", key), key, "each VIP is announced as a host route")


def _cluster_config(cfg: Resource) -> Iterator[Finding]:
    for i, inst in enumerate(as_list(cfg.spec.get("bgpInstances"))):
        if not isinstance(inst, dict):
            continue
        base = ("spec", "bgpInstances", i)
        if "localASN" not in inst:
            yield Finding(cfg, base + ("name",), f"instance {inst.get('name')} without localASN {_NOT}: "
                          "BIRD needs the local AS number; this instance is not configured")
        for key, effect in (("vrfs", "the instance peers in the default table only"),
                            ("routeReflector", "no route-reflector sessions are made")):
            if key in inst:
                yield _f(cfg, base + (key,), key, effect)
        for j, peer in enumerate(as_list(inst.get("peers"))):
            if not isinstance(peer, dict):
                continue
            pbase = base + ("peers", j)
            if "autoDiscovery" in peer:
                yield _f(cfg, pbase + ("autoDiscovery",), "peer autoDiscovery",
                         "only peers with a peerAddress are configured" +
                         ("" if peer.get("peerAddress") else f"; peer {peer.get('name')} is not"))
            if "peerInterface" in peer:
                yield _f(cfg, pbase + ("peerInterface",), "peerInterface",
                         "the session is not bound to the interface")


def _peer_config(pc: Resource) -> Iterator[Finding]:
    transport = pc.spec.get("transport") if isinstance(pc.spec.get("transport"), dict) else {}
    for key, effect in (("sourceInterface", "BIRD picks the source address by route"),
                        ("localPort", "BIRD connects from an ephemeral port")):
        if key in transport:
            yield _f(pc, ("spec", "transport", key), f"transport.{key}", effect)
    for i, fam in enumerate(as_list(pc.spec.get("families"))):
        if isinstance(fam, dict) and "importPolicyRef" in fam:
            yield _f(pc, ("spec", "families", i, "importPolicyRef"), "importPolicyRef",
                     "tier 1 imports no routes")


def _override(o: Resource) -> Iterator[Finding]:
    for i, inst in enumerate(as_list(o.spec.get("bgpInstances"))):
        if not isinstance(inst, dict):
            continue
        base = ("spec", "bgpInstances", i)
        for key in ("srv6Responder", "maintenance"):
            if key in inst:
                yield _f(o, base + (key,), key, "ignored on this node")
        for j, peer in enumerate(as_list(inst.get("peers"))):
            if not isinstance(peer, dict):
                continue
            for key in ("localAddress", "localPort", "peerInterface", "autoDiscovery"):
                if key in peer:
                    yield _f(o, base + ("peers", j, key), f"per-peer {key} override",
                             f"peer {peer.get('name')} keeps the cluster config's settings on node {o.name}")
