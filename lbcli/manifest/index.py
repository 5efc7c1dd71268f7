"""The resource index every rule and the compiler query: lookups by kind/namespace/name and
the derived views (tier nodes, LB services and their labels, the cilium-config options)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator

from .resource import Resource

TIER_LABEL = "service.cilium.io/node"
VIP_NAME_LABEL = "loadbalancer.isovalent.com/vip-name"
NO_ADVERTISEMENT = "service.cilium.io/no-advertisement"
IPAM_IPS = "lbipam.cilium.io/ips"
IPAM_SHARING_KEY = "lbipam.cilium.io/sharing-key"
# Cilium still honours the io.cilium/ spellings (deprecated since 1.15)
DEPRECATED_IPAM = {IPAM_IPS: "io.cilium/lb-ipam-ips", IPAM_SHARING_KEY: "io.cilium/lb-ipam-sharing-key"}
# `t1-t2` nodes serve both tiers (Isovalent's default selectors: `in (t1, t1-t2)`, `in (t2, t1-t2)`)
BOTH_TIERS = "t1-t2"
TIER_VALUES = {"t1": ("t1", BOTH_TIERS), "t2": ("t2", BOTH_TIERS)}
# Isovalent's BGP kinds and Cilium OSS's BGP v2 kinds describe the same speaker; a cluster
# config refers to the peer configs (and advertisements) of its own family.
BGP_FAMILIES = ("IsovalentBGP", "CiliumBGP")


def bgp_kinds(suffix: str) -> tuple[str, ...]:
    """("IsovalentBGP" + suffix, "CiliumBGP" + suffix), e.g. for "PeerConfig"."""
    return tuple(f + suffix for f in BGP_FAMILIES)


def bgp_sibling(kind: str, suffix: str) -> str:
    """The kind of the same BGP family: bgp_sibling("CiliumBGPClusterConfig", "PeerConfig")."""
    family = next((f for f in BGP_FAMILIES if kind.startswith(f)), BGP_FAMILIES[0])
    return family + suffix


def ipam_annotation(res: Resource, key: str) -> tuple[str, str] | None:
    """(annotation key used, value) for an LB-IPAM annotation, honouring the deprecated
    io.cilium/ spelling when the current one is absent."""
    ann = res.annotations
    for k in (key, DEPRECATED_IPAM.get(key)):
        if k and k in ann:
            return k, ann[k]
    return None


_orjson = None  # imported on first use (json_text)


class ResourceIndex:
    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources: list[Resource] = list(resources)
        self._by_kind: dict[str, list[Resource]] = defaultdict(list)
        self._by_key: dict[tuple[str, str | None, str], Resource] = {}
        self._derived: dict[str, Any] = {}
        self._valid: dict[str, list[Resource]] | None = None  # per kind, once validity is settled
        for r in self.resources:
            extra = r.extra
            if extra and (extra.get("unknown") or extra.get("foreign")):
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

    def derived(self, key: str, build: Callable[["ResourceIndex"], Any]) -> Any:
        """`build(self)`, computed once per index and shared: a view several rules (or one rule
        per resource) ask for. Only for views of schema-valid objects asked after the schema
        phase (validity is settled then); the index lives for one run, so nothing goes stale."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = build(self)
            return value

    def json_text(self, res: Resource) -> bytes | None:
        """`res.body` as compact JSON (orjson, integers within 53 bits), for the rules that
        screen a body's text before walking it (schema, not-implemented); None when orjson
        cannot write it (a non-string key, a larger integer). Every key of every mapping
        appears in it as `"key":`; a non-finite float is written `null`. Made anew at each
        call, not kept: a text dropped right away leaves its buffer to the next one, while
        10,000 kept texts cost more to allocate (~30 ms) than writing them twice (~6 ms)."""
        global _orjson
        if _orjson is None:
            import orjson as _orjson
        try:
            return _orjson.dumps(res.body, option=_orjson.OPT_STRICT_INTEGER)
        except TypeError:  # orjson.JSONEncodeError
            return None

    def of_kind(self, kind: str, valid_only: bool = False) -> list[Resource]:
        items = self._by_kind.get(kind, [])
        return [r for r in items if r.valid] if valid_only else items

    def valid(self, kind: str) -> Iterator[Resource]:
        if self._valid is None:
            return (r for r in self._by_kind.get(kind, []) if r.valid)
        found = self._valid.get(kind)
        if found is None:
            found = self._valid[kind] = [r for r in self._by_kind.get(kind, []) if r.valid]
        return iter(found)

    def settle(self) -> None:
        """Validity is final (lint's schema phase is over): each kind's valid objects are
        listed once from now on (~30 rules ask for them)."""
        if self._valid is None:
            self._valid = {}

    def bgp(self, suffix: str) -> list[Resource]:
        """Schema-valid BGP objects of both families (Isovalent first), e.g. "ClusterConfig"."""
        return [r for kind in bgp_kinds(suffix) for r in self.valid(kind)]

    def get(self, kind: str, namespace: str | None, name: str) -> Resource | None:
        return self._by_key.get((kind, namespace, name))

    def secret(self, namespace: str, name: str) -> Resource | None:
        return self.get("Secret", namespace, name)

    # -- derived views -------------------------------------------------------------------
    def nodes_of_tier(self, tier: str) -> list[Resource]:
        return [n for n in self.of_kind("Node") if n.labels.get(TIER_LABEL) in TIER_VALUES[tier]]

    def cilium_config(self) -> Resource | None:
        """The `cilium-config` ConfigMap in any namespace (Cilium is often installed outside
        kube-system); kube-system first, then by namespace."""
        found = [r for r in self.of_kind("ConfigMap") if r.name == "cilium-config"]
        found.sort(key=lambda r: (r.namespace != "kube-system", r.namespace or ""))
        return found[0] if found else None

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
