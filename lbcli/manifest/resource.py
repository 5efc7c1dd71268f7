"""A manifest resource with its origin: file, document index and a lazy position index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .documents import Chunk
from .positions import PositionIndex

# Kinds whose objects are cluster-scoped (no namespace); every other kind defaults to "default".
CLUSTER_SCOPED = frozenset(
    {
        "IsovalentBGPClusterConfig",
        "IsovalentBGPPeerConfig",
        "IsovalentBGPAdvertisement",
        "IsovalentBFDProfile",
        "IsovalentBGPNodeConfigOverride",
        "CiliumBGPClusterConfig",
        "CiliumBGPPeerConfig",
        "CiliumBGPAdvertisement",
        "CiliumBGPNodeConfigOverride",
        "CiliumLoadBalancerIPPool",
        "Node",
    }
)


@dataclass(eq=False, slots=True)
class Document:
    """One YAML document of a file."""

    file: str  # the path as the user named it (or "<stdin>")
    index: int  # 0-based document index within the file
    line0: int  # 0-based line where the document's text starts
    # a PositionIndex (or anything with its `locate`), or the document's documents.Chunk, made
    # into a PositionIndex on the first lookup (most documents of a run are never asked)
    source: Any

    @property
    def positions(self) -> PositionIndex:
        p = self.source
        if type(p) is Chunk:
            p = self.source = PositionIndex(p)
        return p

    def locate(self, path: Sequence[Any], key: bool = False) -> tuple[int, int]:
        return self.positions.locate(path, key)


@dataclass(eq=False, slots=True)
class Resource:
    api_version: str
    kind: str
    name: str
    namespace: str | None
    body: dict
    doc: Document
    prefix: tuple = ()  # path of this object inside its document (("items", 3) in a List)
    valid: bool = True  # passed the schema
    schema_problems: int = 0
    extra: dict = field(default_factory=dict)
    _spec: dict | None = field(default=None, init=False, repr=False)  # `spec`, once read

    @property
    def ref(self) -> str:
        """`Kind/namespace/name`, or `Kind/name` for cluster-scoped kinds."""
        if self.namespace is None:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def key(self) -> str:
        """`namespace/name` (or `name`), as plans and references name objects."""
        return self.name if self.namespace is None else f"{self.namespace}/{self.name}"

    @property
    def spec(self) -> dict:
        """body["spec"] when a mapping, else {} (read once: rules ask ~10 times per object; a
        loaded body is never replaced)."""
        s = self._spec
        if s is None:
            s = self.body.get("spec")
            s = self._spec = s if isinstance(s, dict) else {}
        return s

    @property
    def labels(self) -> dict:
        meta = self.body.get("metadata")
        labels = meta.get("labels") if isinstance(meta, dict) else None
        return labels if isinstance(labels, dict) else {}

    @property
    def annotations(self) -> dict:
        meta = self.body.get("metadata")
        ann = meta.get("annotations") if isinstance(meta, dict) else None
        return ann if isinstance(ann, dict) else {}

    def locate(self, path: Sequence[Any] = (), key: bool = False) -> tuple[int, int]:
        return self.doc.locate(self.prefix + tuple(path), key)


def get_in(obj: Any, path: Sequence[Any], default: Any = None) -> Any:
    """Nested lookup that tolerates wrong types (rules run on schema-checked data, but a
    defensive read keeps a bad document from raising)."""
    for step in path:
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and isinstance(step, int) and -len(obj) <= step < len(obj):
            obj = obj[step]
        else:
            return default
        if obj is None:
            return default
    return obj
