"""The API resources cilium-lb reads from a cluster, named as the REST API names them.

The LB kinds come from the registry of known kinds (lbcli/manifest/kinds.py: a kind is known
because its schema exists); core kinds are the few the pipeline carries out. Nothing here
imports the `kubernetes` client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..manifest.kinds import group_of, is_own_group, known_kinds
from ..manifest.resource import CLUSTER_SCOPED


@dataclass(frozen=True)
class ApiResource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        """The REST path: /api/v1/... for the core group, /apis/GROUP/VERSION/... otherwise;
        `namespace` None on a namespaced resource lists across all namespaces."""
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}" + (f"/{sub}" if sub else "")
        return base


def plural_of(kind: str) -> str:
    """The lower-case plural the API server serves a CRD kind under (as kubebuilder makes it)."""
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple:
    """Kubernetes' version order: GA > beta > alpha, then by number (v2 > v1 > v1beta1)."""
    m = _VERSION.match(version)
    if not m:
        return (0, 0, 0)
    major, pre, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    return ({None: 3, "beta": 2, "alpha": 1}[pre], major, minor)


def lb_resources() -> list[tuple[str, list[ApiResource]]]:
    """(kind, its versions best first) for every LB kind with a schema of ours (isovalent.com,
    cilium.io): a cluster serves one object under each version, so a reader lists the best
    version the server has, not all of them."""
    out = []
    for kind, api_versions in sorted(known_kinds().items()):
        own = [v for v in api_versions if is_own_group(v)]
        if not own:
            continue
        versions = sorted(own, key=lambda v: version_priority(v.rsplit("/", 1)[1]), reverse=True)
        out.append((kind, [ApiResource(group_of(v), v.rsplit("/", 1)[1], kind, plural_of(kind),
                                       kind not in CLUSTER_SCOPED) for v in versions]))
    return out


NODE = ApiResource("", "v1", "Node", "nodes", False)
SECRET = ApiResource("", "v1", "Secret", "secrets", True)
SERVICE = ApiResource("", "v1", "Service", "services", True)
ENDPOINT_SLICE = ApiResource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True)
ENDPOINTS = ApiResource("", "v1", "Endpoints", "endpoints", True)  # get by name only (source.load_of)
CONFIGMAP = ApiResource("", "v1", "ConfigMap", "configmaps", True)
POD = ApiResource("", "v1", "Pod", "pods", True)
LEASE = ApiResource("coordination.k8s.io", "v1", "Lease", "leases", True)
CRD = ApiResource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)

CILIUM_CONFIG = "cilium-config"


@dataclass(frozen=True)
class Listed:
    """A core kind the source lists besides the LB kinds. The one-shot commands list it, the
    agent runs one reflector (list + watch) per entry: add a kind here and both read it.
    Which of the listed objects the pipeline keeps is source.keep()."""

    res: ApiResource
    field_selector: str | None = None  # always applied (least data over the wire)
    node_field: str | None = None  # with a node given: only objects whose field is that node


LISTED = (
    Listed(NODE),
    Listed(SERVICE),  # kept: type LoadBalancer (LB-IPAM claimants) and those a K8sService pool names
    Listed(ENDPOINT_SLICE),  # kept: the slices of the kept Services (label kubernetes.io/service-name)
    Listed(CONFIGMAP, field_selector=f"metadata.name={CILIUM_CONFIG}"),  # in any namespace, kube-system wins
    Listed(POD, node_field="spec.nodeName"),  # bandwidth-annotated Pods kept (the bandwidth manager)
)
