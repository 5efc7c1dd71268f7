"""One status writer for the cluster, chosen with a coordination.k8s.io/v1 Lease (leader
election as client-go does it: holderIdentity, leaseDurationSeconds, renewTime).

Why a single leader and not a per-node split: the status cilium-lb writes (LBVIP addresses,
LBService conditions) is a cluster-wide fact — LB-IPAM allocates the same addresses on every
node — so N nodes would only write N copies of one answer and fight over resourceVersions.
The lease holder writes; the others read. A holder that dies stops renewing and another takes
over after leaseDurationSeconds. Every change to the Lease is an update with its
resourceVersion, so two candidates never both win (the loser gets 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .client import Kube, KubeError
from .resources import LEASE

LEASE_NAME = "cilium-lb-status"
DEFAULT_NAMESPACE = "kube-system"
DEFAULT_DURATION = 15


def _fmt(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # MicroTime


def _parse(s) -> datetime | None:
    if not isinstance(s, str) or not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class LeaseLock:
    kube: Kube
    identity: str
    namespace: str = DEFAULT_NAMESPACE
    name: str = LEASE_NAME
    duration: int = DEFAULT_DURATION

    def holder(self) -> str | None:
        try:
            lease = self.kube.get(LEASE, self.namespace, self.name)
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return (lease.get("spec") or {}).get("holderIdentity") or None

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; False when another live holder has it or a concurrent
        candidate won the race (409)."""
        now = now or datetime.now(timezone.utc)
        try:
            lease = self.kube.get(LEASE, self.namespace, self.name)
        except KubeError as e:
            if e.status != 404:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(now, now, 0)}
            try:
                self.kube.create(LEASE, self.namespace, body)
                return True
            except KubeError as e2:
                if e2.status == 409:
                    return False
                raise
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds") or self.duration
        live = holder and renewed is not None and now < renewed + timedelta(seconds=duration)
        if live and holder != self.identity:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        acquired = _parse(spec.get("acquireTime")) if holder == self.identity else None
        if holder != self.identity:
            transitions += 1
        lease["spec"] = self._spec(acquired or now, now, transitions)
        try:
            self.kube.replace(LEASE, self.namespace, lease)
            return True
        except KubeError as e:
            if e.status == 409:
                return False
            raise

    def release(self) -> None:
        """Give the lease up (holder cleared), so the next candidate need not wait it out."""
        try:
            lease = self.kube.get(LEASE, self.namespace, self.name)
        except KubeError as e:
            if e.status == 404:
                return
            raise
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return
        lease["spec"] = {**spec, "holderIdentity": None, "leaseDurationSeconds": 1}
        try:
            self.kube.replace(LEASE, self.namespace, lease)
        except KubeError as e:
            if e.status != 409:  # someone else moved it on already
                raise

    def _spec(self, acquired: datetime, renewed: datetime, transitions: int) -> dict:
        return {"holderIdentity": self.identity, "leaseDurationSeconds": self.duration,
                "acquireTime": _fmt(acquired), "renewTime": _fmt(renewed), "leaseTransitions": transitions}
