"""Secret material: decoded for the agent, and digests for plans (which never hold secrets)."""

from __future__ import annotations

import base64
import hashlib

from ..manifest.index import ResourceIndex


def secret_data(index: ResourceIndex, namespace: str, name: str) -> dict[str, bytes] | None:
    """The Secret's keys decoded (`data` is base64, `stringData` plain and wins, as in k8s)."""
    s = index.secret(namespace, name)
    if s is None:
        return None
    out: dict[str, bytes] = {}
    for k, v in (s.body.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(str(v), validate=False)
        except (ValueError, TypeError):
            continue
    for k, v in (s.body.get("stringData") or {}).items():
        out[k] = str(v).encode()
    return out


def digest(data: dict[str, bytes] | None) -> str | None:
    if data is None:
        return None
    h = hashlib.sha256()
    for k in sorted(data):
        h.update(k.encode() + b"\0" + hashlib.sha256(data[k]).digest())
    return h.hexdigest()


class SecretStore:
    """Collects the secrets a plan references: refs + digests go into the plan, material to
    the agent."""

    def __init__(self, index: ResourceIndex) -> None:
        self.index = index
        self.material: dict[str, dict[str, bytes]] = {}

    def ref(self, namespace: str, name: str, key: str = "secretRef") -> dict:
        data = secret_data(self.index, namespace, name)
        ref = f"{namespace}/{name}"
        if data is not None:
            self.material[ref] = data
        return {key: ref, "sha256": digest(data)}
