"""Label selectors match at least one object of the kind they select.

A selector that matches nothing is silent in Kubernetes: the VIP is never announced, the peer
gets no routes, the pool serves nobody. Checked:

- IsovalentBGPAdvertisement / CiliumBGPAdvertisement `advertisements[].selector` of type
  Service: for LoadBalancerIP, at least one load-balanced service (an LBService, with the labels
  Isovalent puts on its Service, or a v1
  Service of type LoadBalancer). A Service advertisement without a selector advertises no
  service at all in Cilium; select every service with
  `matchExpressions: [{key: somekey, operator: NotIn, values: [never-used-value]}]`.
- ClusterIP / ExternalIP addresses select Services of any type, so such an advertisement
  is satisfied by any v1 Service or LBService its selector matches.
- IsovalentBGPPeerConfig `families[].advertisements`: at least one IsovalentBGPAdvertisement
  (by its metadata.labels). A family without the selector is not reported (no routes by design).
- IsovalentBGPClusterConfig `nodeSelector` and LBDeployment `nodes.labelSelectors.t1/t2`: at
  least one Node. Checked only when the set holds Nodes (many sets leave them to the cluster).
- CiliumLoadBalancerIPPool `serviceSelector` (when set): at least one LBVIP or LoadBalancer
  Service, with the `io.kubernetes.service.namespace/name` labels Cilium adds.
- LBDeployment `services.labelSelector`: at least one LBService in the deployment's namespace.

Example of a finding:

    bgp.yaml:12:9: warning: selector (advertisement=ilb) matches no IsovalentBGPAdvertisement
    [selector-match]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.index import bgp_sibling
from ...manifest.resource import Resource, get_in
from ...manifest.selectors import describe, matches
from ..finding import Context, Finding
from ..problem import Severity
from ...model import ipam
from ._refs import as_list

ID = "selector-match"
SEVERITY = Severity.WARNING


def check(ctx: Context) -> Iterator[Finding]:
    yield from _advertisements(ctx)
    yield from _peer_families(ctx)
    yield from _nodes(ctx)
    yield from _pools(ctx)
    yield from _deployments(ctx)


# A selector is only checked when the set holds objects of the kind it selects: with none (the
# Services are generated, or kept elsewhere) "matches nothing" would say nothing.


def _selector(value) -> dict | None:
    """A selector field, or None when absent; other shapes are the schema's to report."""
    return value if isinstance(value, dict) else None


def _none(res: Resource, path: tuple, selector, what: str) -> Finding:
    return Finding(res, path, f"selector ({describe(selector)}) matches no {what}", key=True)


def _advertisements(ctx: Context) -> Iterator[Finding]:
    idx = ctx.index
    advertisements = idx.bgp("Advertisement")
    if not advertisements:
        return  # nothing selects services: their labels are not read
    # service_labels reads vipRef.name: only for well-shaped vipRefs (the schema checks them)
    labels = [idx.service_labels(s) if isinstance(s.spec.get("vipRef", {}), dict) else s.labels
              for s in idx.valid("LBService")]
    labels += [s.labels for s in idx.load_balancer_services() if s.valid]
    # ClusterIP / ExternalIP advertisements select Services of any type (as upstream)
    any_type = labels + [s.labels for s in idx.valid("Service") if s.spec.get("type") != "LoadBalancer"]
    if not any_type:
        return
    for adv in advertisements:
        for i, item in enumerate(as_list(adv.spec.get("advertisements"))):
            if not isinstance(item, dict) or item.get("advertisementType") != "Service":
                continue
            path = ("spec", "advertisements", i)
            sel = item.get("selector")
            if sel is not None and _selector(sel) is None:
                continue
            if sel is None:
                yield Finding(adv, path + ("advertisementType",),
                              "Service advertisement without selector advertises no service; "
                              "add a selector (NotIn a never-used value selects all)")
            elif set(as_list(get_in(item, ("service", "addresses")))) - {"LoadBalancerIP"}:
                if not any(matches(sel, lab) for lab in any_type):
                    yield _none(adv, path + ("selector",), sel, "Service or LBService")
            elif not any(matches(sel, lab) for lab in labels):
                yield _none(adv, path + ("selector",), sel,
                            "load-balanced service (LBService or Service of type LoadBalancer)")


def _peer_families(ctx: Context) -> Iterator[Finding]:
    for peer in ctx.index.bgp("PeerConfig"):
        adv_kind = bgp_sibling(peer.kind, "Advertisement")
        adverts = [a.labels for a in ctx.index.valid(adv_kind)]
        for i, fam in enumerate(as_list(peer.spec.get("families"))):
            sel = _selector(fam.get("advertisements")) if isinstance(fam, dict) else None
            if sel is not None and not any(matches(sel, lab) for lab in adverts):
                yield _none(peer, ("spec", "families", i, "advertisements"), sel, adv_kind)


def _nodes(ctx: Context) -> Iterator[Finding]:
    configs, deployments = ctx.index.bgp("ClusterConfig"), list(ctx.index.valid("LBDeployment"))
    if not configs and not deployments:
        return  # no node selector to check: the Nodes' labels are not read
    nodes = [n.labels for n in ctx.index.of_kind("Node")]
    if not nodes:
        return
    for cfg in configs:
        sel = _selector(cfg.spec.get("nodeSelector"))
        if sel is not None and not any(matches(sel, lab) for lab in nodes):
            yield _none(cfg, ("spec", "nodeSelector"), sel, "Node: no node runs this BGP config")
    for dep in deployments:
        sels = get_in(dep.spec, ("nodes", "labelSelectors"))
        sels = sels if isinstance(sels, dict) else {}
        for tier in ("t1", "t2"):
            sel = _selector(sels.get(tier))
            if sel is not None and not any(matches(sel, lab) for lab in nodes):
                yield _none(dep, ("spec", "nodes", "labelSelectors", tier), sel, f"Node for tier {tier}")


def _pools(ctx: Context) -> Iterator[Finding]:
    clients = ipam.shared_clients(ctx.index)
    if not clients:
        return
    made: list[dict] = []  # the claimants' labels, made as far as a search has needed them

    def selects_one(sel) -> bool:  # a pool selects one of the first claimants as a rule
        for i, client in enumerate(clients):
            if i == len(made):
                made.append(ipam.labels(client))
            if matches(sel, made[i]):
                return True
        return False

    for pool in ctx.index.valid("CiliumLoadBalancerIPPool"):
        sel = _selector(pool.spec.get("serviceSelector"))
        if sel is not None and not selects_one(sel):
            yield _none(pool, ("spec", "serviceSelector"), sel, "LBVIP or Service of type LoadBalancer")


def _deployments(ctx: Context) -> Iterator[Finding]:
    for dep in ctx.index.valid("LBDeployment"):
        sel = _selector(get_in(dep.spec, ("services", "labelSelector")))
        svcs = [s.labels for s in ctx.index.valid("LBService") if s.namespace == dep.namespace]
        if not any(matches(sel, lab) for lab in svcs):
            path = ("spec", "services", "labelSelector") if sel is not None else ("spec", "services")
            yield _none(dep, path, sel, f"LBService in namespace {dep.namespace}")
