"""Secret material: decoded for the agent, and digests for plans (which never hold secrets).
The digest itself (scrypt, salted by the Secret's identity) is defined with the plan, in
lbcli/plan/secrets.py, where a node checks the material it is given against it.
"""

from __future__ import annotations

from ..manifest.index import ResourceIndex
from ..model import secrets as secret_model
from ..plan.secrets import SALT_LABEL, SCRYPT_N, SCRYPT_P, SCRYPT_R, canonical, digest  # noqa: F401


def secret_data(index: ResourceIndex, namespace: str, name: str) -> dict[str, bytes] | None:
    """The Secret's keys decoded as the API server decodes them (lbcli.model.secrets)."""
    s = index.secret(namespace, name)
    return None if s is None else secret_model.decoded(s.body)


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
