"""The resource index every rule and the compiler query: lookups by kind/namespace/name and
the derived views (tier nodes, LB services and their labels, the cilium-config options)."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Iterator

from .resource import Resource

TIER_LABEL = "service.cilium.io/node"
VIP_NAME_LABEL = "loadbalancer.isovalent.com/vip-name"
NO_ADVERTISEMENT = "service.cilium.io/no-advertisement"
IPAM_IPS = "lbipam.cilium.io/ips"
IPAM_SHARING_KEY = "lbipam.cilium.io/sharing-key"


class ResourceIndex:
    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources: list[Resource] = list(resources)
        self._by_kind: dict[str, list[Resource]] = defaultdict(list)
        self._by_key: dict[tuple[str, str | None, str], Resource] = {}
        for r in self.resources:
            if r.extra.get("unknown") or r.extra.get("foreign"):
                continue
            key = (r.kind, r.namespace, r.name)
            first = self._by_key.get(key)
            if first is not None and first.body == r.body:
                # the same object in two files (shared cluster resources of several example
                # sets, or `kubectl apply -f a -f b`): harmless, counted once
                r.extra["duplicate_of"] = first
                continue
            self._by_kind[r.kind].append(r)
            self._by_key.setdefault(key, r)

    def of_kind(self, kind: str, valid_only: bool = False) -> list[Resource]:
        items = self._by_kind.get(kind, [])
        return [r for r in items if r.valid] if valid_only else items

    def valid(self, kind: str) -> Iterator[Resource]:
        return (r for r in self._by_kind.get(kind, []) if r.valid)

    def get(self, kind: str, namespace: str | None, name: str) -> Resource | None:
        return self._by_key.get((kind, namespace, name))

    def secret(self, namespace: str, name: str) -> Resource | None:
        return self.get("Secret", namespace, name)

    # -- derived views -------------------------------------------------------------------
    def nodes_of_tier(self, tier: str) -> list[Resource]:
        return [n for n in self.of_kind("Node") if n.labels.get(TIER_LABEL) == tier]

    def cilium_config(self) -> Resource | None:
        return self.get("ConfigMap", "kube-system", "cilium-config")

    def bgp_secrets_namespace(self) -> str:
        """Where BGP auth Secrets live: cilium-config's `bgp-secrets-namespace`, else Cilium's
        default `kube-system` (lint and compile must look in the same place)."""
        cfg = self.cilium_config()
        data = cfg.body.get("data") if cfg is not None else None
        ns = data.get("bgp-secrets-namespace") if isinstance(data, dict) else None
        return ns if isinstance(ns, str) and ns else "kube-system"

    def lb_deployment_selectors(self) -> dict[str, list]:
        """tier -> node label selectors from LBDeployments (empty when none override)."""
        out: dict[str, list] = {"t1": [], "t2": []}
        for d in self.valid("LBDeployment"):
            sels = (d.spec.get("nodes") or {}).get("labelSelectors") or {}
            for tier in ("t1", "t2"):
                if sels.get(tier):
                    out[tier].append(sels[tier])
        return out

    def service_labels(self, svc: Resource) -> dict[str, str]:
        """Labels BGP advertisement selectors see for a load-balanced service: an LBService
        carries its own labels plus the VIP name label Isovalent sets on its Service."""
        labels = dict(svc.labels)
        if svc.kind == "LBService":
            ref = svc.spec.get("vipRef")
            vip = ref.get("name") if isinstance(ref, dict) else None
            if isinstance(vip, str):
                labels.setdefault(VIP_NAME_LABEL, vip)
        return labels

    def load_balancer_services(self) -> list[Resource]:
        """v1 Services of type LoadBalancer."""
        return [s for s in self.of_kind("Service") if s.spec.get("type") == "LoadBalancer"]
