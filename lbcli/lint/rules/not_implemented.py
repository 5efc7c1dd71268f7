"""Fields the schemas accept (as upstream does) but cilium-lb does not carry out are named.

The schemas follow upstream, so a manifest written for Cilium or Isovalent validates; where
cilium-lb cannot do what a field asks, this rule says so at the field instead of ignoring it
silently. The object stays valid and everything else in it is carried out; the field is not.

Reported (warning), on IsovalentBGP* and CiliumBGP* kinds alike:

- advertisements of a type other than Service and PodCIDR (CiliumPodIPPool, Interface,
  EgressGateway, SRv6LocatorPool), Service addresses other than LoadBalancerIP (tier 1
  announces only the VIPs it serves), aggregationLengthIPv4/IPv6 (PodCIDR advertisements are
  carried out: each selected node announces its own IPv4 PodCIDRs);
- peers found by autoDiscovery or over peerInterface, instances without localASN, VRFs and
  route reflectors; peer config transport.sourceInterface / transport.localPort and
  families[].importPolicyRef;
- node overrides: per-peer localAddress, localPort, peerInterface and autoDiscovery,
  srv6Responder and maintenance (routerID, localPort and localASN of an instance are carried out).

Example (warning):

    bgp.yaml:42:9: warning: advertisementType Interface is not implemented by cilium-lb: tier 1
    announces only the VIPs it serves; this advertisement is ignored [not-implemented]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.index import bgp_kinds
from ...manifest.resource import Resource
from ..finding import Context, Finding
from ..problem import Severity
from ._refs import as_list

ID = "not-implemented"
SEVERITY = Severity.WARNING

_NOT = "is not implemented by cilium-lb"


def check(ctx: Context) -> Iterator[Finding]:
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
