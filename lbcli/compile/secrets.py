"""Secret material: decoded for the agent, and digests for plans (which never hold secrets).
The digest itself (scrypt, salted by the Secret's identity) is defined with the plan, in
lbcli/plan/secrets.py, where a node checks the material it is given against it.
"""

from __future__ import annotations

import base64

from ..manifest.index import ResourceIndex
from ..plan.secrets import SALT_LABEL, SCRYPT_N, SCRYPT_P, SCRYPT_R, canonical, digest  # noqa: F401


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
        # the field keeps its v1 name; its value is the scrypt digest (docs/plan-format.md)
        return {key: ref, "sha256": digest(data, ref)}
