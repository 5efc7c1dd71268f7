"""The manifest set, read from a cluster: the same LoadResult the file loader makes, so lint,
compile, diff, apply and status run unchanged on it.

Read: every LB kind with a schema of ours (isovalent.com, cilium.io; the best version the
server serves), Nodes, the Services the set uses (type LoadBalancer: LB-IPAM claimants served
on their TCP ports; any type a K8sService LBBackendPool references) with their EndpointSlices
(one list across namespaces, kept for those Services only), the v1 Endpoints of such a Service
by name when it has no slice (clusters without the EndpointSlice controller), the
`cilium-config` ConfigMap (kube-system first, then any namespace) and, by name, only the
Secrets the set references. Not read: Pods — per-pod bandwidth is not compiled from a cluster
yet, so reading them would only widen the RBAC. The kinds and how each is read are listed in
lbcli/kube/resources.py (LISTED, BY_NAME).

Cluster objects have no file: their Document has an empty file name and no positions, and
findings on them name the object and the field path (`LBService/ns/name spec.port`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..manifest.loader import LoadResult, add_object
from ..manifest.resource import Document
from .client import Kube, KubeError
from .resources import (CILIUM_CONFIG, CONFIGMAP, ENDPOINT_SLICE, ENDPOINTS, NODE, SECRET, SERVICE, ApiResource,
                        lb_resources)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class NoPositions:
    """Positions of an object that came from an API server: there is no text to point into."""

    def locate(self, path, key: bool = False) -> tuple[int, int]:
        return (0, 0)


@dataclass
class ClusterSet:
    load: LoadResult
    served: dict[str, ApiResource] = field(default_factory=dict)  # kind -> the version read
    missing: list[str] = field(default_factory=list)  # LB kinds the cluster does not serve
    resource_versions: dict[str, str] = field(default_factory=dict)  # kind -> list resourceVersion


def read_cluster(kube: Kube) -> ClusterSet:
    """Everything the pipeline needs, as one LoadResult. KubeError on any failed call other
    than a CRD that is not installed (404: that kind is simply absent)."""
    out = ClusterSet(LoadResult())
    objects: list[dict] = []
    for kind, versions in lb_resources():
        for res in versions:
            try:
                page = kube.list(res)
            except KubeError as e:
                if e.status == 404:
                    continue  # this version (or the CRD) is not served: try the next one
                raise
            out.served[kind] = res
            out.resource_versions[kind] = page.resource_version
            objects.extend(page.items)
            break
        else:
            out.missing.append(kind)
    page = kube.list(NODE)
    out.resource_versions["Node"] = page.resource_version
    objects.extend(page.items)
    page = kube.list(SERVICE)
    out.resource_versions["Service"] = page.resource_version
    wanted = pool_services(objects)
    services = [s for s in page.items if (s.get("spec") or {}).get("type") == "LoadBalancer"
                or _ns_name(s) in wanted]
    objects.extend(services)
    objects.extend(service_endpoints(kube, services, out))
    cfg = cilium_config(kube)
    if cfg is not None:
        objects.append(cfg)
    for obj in objects:
        _add(obj, out.load)
    from ..manifest.index import ResourceIndex

    for ns, name in sorted(referenced_secrets(ResourceIndex(out.load.resources))):
        try:
            _add(kube.get(SECRET, ns, name), out.load)
        except KubeError as e:
            if e.status != 404:  # a missing Secret is the ref-secret rule's finding
                raise
    return out


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _ns_name(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def pool_services(objects: list[dict]) -> set[tuple[str, str]]:
    """(namespace, name) of every Service a K8sService LBBackendPool references."""
    out = set()
    for obj in objects:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        if obj.get("kind") != "LBBackendPool" or spec.get("backendType") != "K8sService":
            continue
        ns = _ns_name(obj)[0]
        for b in spec.get("backends") or []:
            ref = b.get("k8sServiceRef") if isinstance(b, dict) else None
            if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]:
                out.add((ns, ref["name"]))
    return out


def service_endpoints(kube: Kube, services: list[dict], out: ClusterSet) -> list[dict]:
    """The EndpointSlices of `services` (one list across namespaces, filtered by the
    kubernetes.io/service-name label) and, for a Service without any slice, its v1 Endpoints
    by name (404: it has none; the lint rules say what that means)."""
    wanted = {_ns_name(s) for s in services}
    page = kube.list(ENDPOINT_SLICE)
    out.resource_versions["EndpointSlice"] = page.resource_version
    found = []
    for sl in page.items:
        labels = (sl.get("metadata") or {}).get("labels") or {}
        key = (_ns_name(sl)[0], labels.get(SERVICE_NAME_LABEL))
        if key in wanted:
            found.append(sl)
    with_slices = {(_ns_name(sl)[0], ((sl.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL))
                   for sl in found}
    for ns, name in sorted(wanted - with_slices):
        try:
            found.append(kube.get(ENDPOINTS, ns, name))
        except KubeError as e:
            if e.status != 404:
                raise
    return found


def cilium_config(kube: Kube) -> dict | None:
    """The `cilium-config` ConfigMap: kube-system first (where Cilium installs it), else the
    first namespace (sorted) that has one."""
    try:
        return kube.get(CONFIGMAP, "kube-system", CILIUM_CONFIG)
    except KubeError as e:
        if e.status != 404:
            raise
    found = kube.list(CONFIGMAP, field_selector=f"metadata.name={CILIUM_CONFIG}").items
    found.sort(key=lambda o: (o.get("metadata") or {}).get("namespace") or "")
    return found[0] if found else None


def referenced_secrets(index) -> set[tuple[str, str]]:
    """(namespace, name) of every Secret the set names: each `secretRef.name` in an LB object
    (in the object's namespace) and the BGP peer configs' `authSecretRef` (in the BGP secrets
    namespace). Only these are fetched: RBAC grants `get` on Secrets, never `list`."""
    out: set[tuple[str, str]] = set()
    for r in index.resources:
        if r.kind in ("Secret", "Node", "ConfigMap", "Service", "EndpointSlice", "Endpoints") or r.namespace is None:
            continue
        for name in _secret_refs(r.body.get("spec")):
            out.add((r.namespace, name))
    bgp_ns = index.bgp_secrets_namespace()
    for peer in index.bgp("PeerConfig"):
        name = peer.spec.get("authSecretRef")
        if isinstance(name, str) and name:
            out.add((bgp_ns, name))
    return out


def _secret_refs(node):
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            ref = cur.get("secretRef")
            if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]:
                yield ref["name"]
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)


def _add(obj: dict, load: LoadResult) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)  # server bookkeeping, not the object
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            # kubectl apply keeps the whole object here, a Secret's data included
            ann.pop(LAST_APPLIED, None)
            if not ann:
                meta.pop("annotations")
    doc = Document("", len(load.documents), 0, NoPositions())
    load.documents.append(doc)
    add_object(obj, doc, load)


def allocations_of(load: LoadResult) -> dict[str, str]:
    """What the cluster recorded as allocated (the allocation lock's part, in a cluster): each
    LBVIP's status.addresses.ipv4 and each LoadBalancer Service's first ingress IP. Compile
    keeps those addresses, as it keeps the lock's."""
    out = {}
    for r in load.resources:
        status = r.body.get("status") if isinstance(r.body.get("status"), dict) else {}
        if r.kind == "LBVIP":
            ip = (status.get("addresses") or {}).get("ipv4") if isinstance(status.get("addresses"), dict) else None
        elif r.kind == "Service":
            ingress = (status.get("loadBalancer") or {}).get("ingress") if isinstance(status.get("loadBalancer"), dict) else None
            ip = ingress[0].get("ip") if isinstance(ingress, list) and ingress and isinstance(ingress[0], dict) else None
        else:
            continue
        if isinstance(ip, str) and ip:
            out[f"{r.kind}/{r.namespace}/{r.name}"] = ip
    return out
