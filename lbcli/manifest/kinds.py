"""Which (apiVersion, kind) pairs cilium-lb knows, read from the JSON Schemas it ships.

Each schema names its kind and accepted apiVersions (`x-kubernetes-kind`,
`x-kubernetes-api-versions`), so adding a kind is adding a schema file.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

# API groups we own the meaning of: an unknown kind or version there is a finding, not a skip.
OWN_GROUPS = ("isovalent.com", "cilium.io")
# Core kinds the toolchain reads (apiVersion "v1"); other core kinds are skipped.

# Every kind that exists upstream in the two groups, with the versions it is served as (None:
# versions not published, any version of the group is accepted). A kind here without a schema
# of ours is known but not carried out: reported once per run at info, never an error.
# Sources: cilium/cilium pkg/k8s/apis/cilium.io/client/crds/{v2,v2alpha1} (main, 2025);
# Isovalent's API types pkg/k8s/apis/isovalent.com/{v1,v1alpha1} and docs (versions unpublished).
_CILIUM_V2 = ("cilium.io/v2",)
_CILIUM_V2A1 = ("cilium.io/v2alpha1",)
_CILIUM_BOTH = ("cilium.io/v2", "cilium.io/v2alpha1")
UPSTREAM_KINDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    # cilium.io v2
    **{k: ("cilium.io", _CILIUM_V2) for k in (
        "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "CiliumEndpoint", "CiliumNode",
        "CiliumIdentity", "CiliumExternalWorkload", "CiliumLocalRedirectPolicy",
        "CiliumEgressGatewayPolicy", "CiliumEnvoyConfig", "CiliumClusterwideEnvoyConfig",
        "CiliumNodeConfig", "CiliumBGPNodeConfig", "CiliumEnvoyCircuitBreaker")},
    # served as v2 and (deprecated) v2alpha1
    **{k: ("cilium.io", _CILIUM_BOTH) for k in (
        "CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig",
        "CiliumBGPAdvertisement", "CiliumBGPNodeConfigOverride", "CiliumCIDRGroup",
        "CiliumPodIPPool", "CiliumVTEPConfig")},
    # cilium.io v2alpha1 only
    **{k: ("cilium.io", _CILIUM_V2A1) for k in (
        "CiliumBGPPeeringPolicy", "CiliumL2AnnouncementPolicy", "CiliumEndpointSlice",
        "CiliumEgressNATPolicy", "CiliumGatewayClassConfig", "CiliumNetworkDriverClusterConfig",
        "CiliumNetworkDriverNodeConfig", "CiliumNetworkDriverConfig", "CiliumDatapathPlugin",
        "CiliumEnvoyExtProcFilter", "CiliumFlowLogging", "CiliumFlowLog", "CiliumGatewayL4Config",
        "CiliumQoSClass", "CiliumQoSMechanism", "CiliumQoSPolicy", "CiliumResourceIPPool",
        "CiliumResourceNetworkConfig", "CiliumVTEPNodeConfig", "CiliumVTEPPolicy",
        "CiliumWorldCIDRSet", "CiliumEgressSRv6Policy", "CiliumEndpointBatch",
        "CiliumBGPLoadBalancerIPPool")},
    # isovalent.com (Isovalent Enterprise for Cilium; versions not all public)
    **{k: ("isovalent.com", None) for k in (
        "LBVIP", "LBService", "LBBackendPool", "LBDeployment", "IsovalentBGPClusterConfig",
        "IsovalentBGPPeerConfig", "IsovalentBGPAdvertisement", "IsovalentBGPNodeConfig",
        "IsovalentBGPNodeConfigOverride", "IsovalentBGPPolicy", "IsovalentBGPVRFConfig",
        "IsovalentBFDProfile", "IsovalentBFDNodeConfig", "IsovalentBFDNodeConfigOverride",
        "IsovalentVRF", "IsovalentSRv6LocatorPool", "IsovalentSRv6EgressPolicy",
        "IsovalentSRv6SIDManager", "IsovalentEgressGatewayPolicy", "IsovalentMulticastGroup",
        "IsovalentMulticastNode", "IsovalentPodNetwork", "IsovalentFQDNGroup",
        "IsovalentMeshEndpoint", "IsovalentNetworkPolicy", "IsovalentClusterwideNetworkPolicy",
        "ClusterPrivateNetwork", "PrivateNetworkEndpointSlice")},
}


def upstream_kind(api_version: str, kind: str) -> bool:
    """True when `kind` exists upstream and is served as `api_version`."""
    entry = UPSTREAM_KINDS.get(kind)
    if entry is None:
        return False
    group, versions = entry
    return group_of(api_version) == group and (versions is None or api_version in versions)


def schema_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "schemas"


@functools.lru_cache(maxsize=None)
def schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> schema."""
    out: dict[tuple[str, str], dict] = {}
    d = schema_dir()
    for p in sorted(d.glob("*.schema.json")):
        if p.name == "plan.schema.json" or p.name.startswith("config"):
            continue
        schema = json.loads(p.read_text())
        kind = schema.get("x-kubernetes-kind")
        for version in schema.get("x-kubernetes-api-versions", []):
            if kind:
                out[(version, kind)] = schema
    return out


@functools.lru_cache(maxsize=None)
def known_kinds() -> dict[str, list[str]]:
    """kind -> sorted apiVersions (kinds with a schema of ours)."""
    kinds: dict[str, list[str]] = {}
    for version, kind in schemas():
        kinds.setdefault(kind, []).append(version)
    return {k: sorted(v) for k, v in kinds.items()}


@functools.lru_cache(maxsize=None)
def all_kinds() -> dict[str, list[str]]:
    """Every kind that exists (ours and upstream's) -> its apiVersions (`group/*` when the
    versions are not published): what "did you mean" suggests from."""
    out = {k: list(v) for k, v in known_kinds().items()}
    for kind, (group, versions) in UPSTREAM_KINDS.items():
        if kind not in out:
            out[kind] = list(versions) if versions else [f"{group}/*"]
    return out


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def is_own_group(api_version: str) -> bool:
    g = group_of(api_version)
    return any(g == o or g.endswith("." + o) for o in OWN_GROUPS)


@functools.lru_cache(maxsize=None)
def validator(api_version: str, kind: str):
    """A compiled jsonschema_rs validator for the kind (cached per process)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(schemas()[(api_version, kind)])


@functools.lru_cache(maxsize=None)
def default_of(kind: str, *path: str):
    """The schema's documented `default` for a field (the one source of truth for defaults);
    `[]` in a path steps into array items."""
    schema = next((s for (_, k), s in schemas().items() if k == kind), None)
    node = schema
    for step in path:
        node = _resolve(node, schema)
        if node is None:
            return None
        if step == "[]":
            node = node.get("items")
            continue
        found = None
        for cand in [node] + [_resolve(b, schema) for key in ("anyOf", "oneOf", "allOf") for b in node.get(key, [])]:
            if isinstance(cand, dict) and step in cand.get("properties", {}):
                found = cand["properties"][step]
                break
        node = found
    node = _resolve(node, schema)
    return node.get("default") if isinstance(node, dict) else None


def _resolve(node, root):
    while isinstance(node, dict) and "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node
