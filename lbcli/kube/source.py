"""The manifest set, read from a cluster: the same LoadResult the file loader makes, so lint,
compile, diff, apply and status run unchanged on it.

Read: every LB kind with a schema of ours (isovalent.com, cilium.io; the best version the
server serves) and the core kinds resources.LISTED names — Nodes, the Services the set uses
(type LoadBalancer: LB-IPAM claimants served on their TCP ports; any type a K8sService
LBBackendPool references) with their EndpointSlices, the `cilium-config` ConfigMap
(kube-system first, then any namespace), Pods with a bandwidth annotation (only the given
node's when there is one) — and, by name, only the Secrets the set references and the v1
Endpoints of a used Service that has no slice (clusters without the EndpointSlice controller).

Cluster objects have no file: their Document has an empty file name and no positions, and
findings on them name the object and the field path (`LBService/ns/name spec.port`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..manifest.loader import LoadResult, add_object
from ..manifest.resource import Document
from .client import Kube, KubeError
from .resources import CILIUM_CONFIG, ENDPOINTS, LISTED, SECRET, ApiResource, Listed, lb_resources

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BANDWIDTH_ANNOTATIONS = ("kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth")


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


def read_cluster(kube: Kube, node: str | None = None) -> ClusterSet:
    """Everything the pipeline needs, as one LoadResult (with `node`: only that node's Pods).
    KubeError on any failed call other than a CRD that is not installed (404: that kind is
    simply absent)."""
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
    for listed in LISTED:
        page = kube.list(listed.res, field_selector=field_selector(listed, node))
        out.resource_versions[listed.res.kind] = page.resource_version
        objects.extend(kept(listed.res.kind, page.items))

    def by_name(res: ApiResource) -> Callable[[str, str], dict | None]:
        def get(ns: str, name: str) -> dict | None:
            try:
                return kube.get(res, ns, name)
            except KubeError as e:
                if e.status != 404:  # a missing Secret is the ref-secret rule's finding
                    raise
                return None
        return get

    out.load = load_of(objects, by_name(SECRET), by_name(ENDPOINTS))
    return out


def field_selector(listed: Listed, node: str | None) -> str | None:
    parts = [listed.field_selector] if listed.field_selector else []
    if listed.node_field and node:
        parts.append(f"{listed.node_field}={node}")
    return ",".join(parts) or None


def kept(kind: str, items: list[dict]) -> list[dict]:
    """The listed objects of `kind` the pipeline uses, as it uses them (Services and
    EndpointSlices all: load_of keeps those the set uses); Pods with a bandwidth annotation, cut down to what the bandwidth manager reads
    (Pods churn: the rest of a Pod must not look like a change to the agent); one
    `cilium-config` (kube-system first, else the first namespace in order)."""
    if kind in ("Service", "EndpointSlice"):  # which are used is a set-wide question: used_services()
        return list(items)
    if kind == "Pod":
        return [_slim_pod(p) for p in items if set(_annotations(p)) & set(BANDWIDTH_ANNOTATIONS)]
    if kind == "ConfigMap":
        cms = [c for c in items if (c.get("metadata") or {}).get("name") == CILIUM_CONFIG]
        cms.sort(key=lambda c: ((c.get("metadata") or {}).get("namespace") != "kube-system",
                                (c.get("metadata") or {}).get("namespace") or ""))
        return cms[:1]
    return list(items)


def _annotations(obj: dict) -> dict:
    ann = (obj.get("metadata") or {}).get("annotations")
    return ann if isinstance(ann, dict) else {}


def _slim_pod(pod: dict) -> dict:
    meta = pod.get("metadata") or {}
    ann = {k: v for k, v in _annotations(pod).items() if k in BANDWIDTH_ANNOTATIONS}
    status = pod.get("status") or {}
    out = {"apiVersion": pod.get("apiVersion", "v1"), "kind": "Pod",
           "metadata": {k: meta[k] for k in ("name", "namespace", "uid") if k in meta} | {"annotations": ann},
           "spec": {k: v for k, v in (pod.get("spec") or {}).items() if k == "nodeName"},
           "status": {k: v for k, v in status.items() if k in ("podIP", "podIPs")}}
    return out


def load_of(objects: list[dict], secret: Callable[[str, str], dict | None],
            endpoints: Callable[[str, str], dict | None] | None = None) -> LoadResult:
    """One LoadResult of cluster `objects` (only the Services the set uses, with their
    EndpointSlices: used_services) and the Secrets they reference, read one by one through
    `secret(namespace, name)` (None: not there); with `endpoints`, the v1 Endpoints of a used
    Service without any slice, by name the same way."""
    load = LoadResult()
    objects = used_services(objects)
    if endpoints is not None:
        with_slices = {(_ns_name(o)[0], _service_of(o)) for o in objects if o.get("kind") == "EndpointSlice"}
        for ns, name in sorted(_ns_name(o) for o in objects if o.get("kind") == "Service"):
            if (ns, name) not in with_slices and (found := endpoints(ns, name)) is not None:
                objects.append(found)
    for obj in objects:
        _add(obj, load)
    from ..manifest.index import ResourceIndex

    for ns, name in sorted(referenced_secrets(ResourceIndex(load.resources))):
        found = secret(ns, name)
        if found is not None:
            _add(found, load)
    return load


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _ns_name(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def _service_of(sl: dict) -> str | None:
    labels = (sl.get("metadata") or {}).get("labels")
    return labels.get(SERVICE_NAME_LABEL) if isinstance(labels, dict) else None


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


def service_used(svc: dict, wanted: set[tuple[str, str]]) -> bool:
    """Whether the set uses Service `svc`: type LoadBalancer, or in `wanted` (pool_services)."""
    spec = svc.get("spec") if isinstance(svc.get("spec"), dict) else {}
    return spec.get("type") == "LoadBalancer" or _ns_name(svc) in wanted


def slice_service(sl: dict) -> tuple[str, str]:
    """(namespace, name) of the Service an EndpointSlice belongs to (its service-name label)."""
    return (_ns_name(sl)[0], _service_of(sl) or "")


def used_services(objects: list[dict]) -> list[dict]:
    """`objects` without the Services the set does not use (used: type LoadBalancer, or named by
    a K8sService LBBackendPool) and without the EndpointSlices of unused ones."""
    wanted = pool_services(objects)
    used = {_ns_name(o) for o in objects if o.get("kind") == "Service" and service_used(o, wanted)}
    return [o for o in objects
            if (o.get("kind") != "Service" or _ns_name(o) in used)
            and (o.get("kind") != "EndpointSlice" or slice_service(o) in used)]


def referenced_secrets(index) -> set[tuple[str, str]]:
    """(namespace, name) of every Secret the set names: each `secretRef.name` in an LB object
    (in the object's namespace) and the BGP peer configs' `authSecretRef` (in the BGP secrets
    namespace). Only these are fetched: RBAC grants `get` on Secrets, never `list`."""
    out: set[tuple[str, str]] = set()
    for r in index.resources:
        if r.kind in ("Secret", "Node", "ConfigMap", "Service") or r.namespace is None:
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
