"""Status write-back: what compile found, in Isovalent's places and vocabulary.

- LBVIP `status.addresses.ipv4` (the LB-IPAM allocation) and the condition
  `lb.cilium.io/IPv4AddressAllocated` (False with NoPool / AddressAlreadyInUse /
  NoAvailableAddress, as compile reports it);
- LBService condition `lb.cilium.io/VIPExist` (False with VIPNotFound / VIPNotAllocated / the
  VIP's IPAM reason).

Writes go through the status subresource with the object's resourceVersion (optimistic
concurrency): on 409 the object is read again, the status recomputed on the fresh copy and
written again, a bounded number of times. A status that would not change is not written
(lastTransitionTime moves only when a condition's status does), so a second run writes nothing.
Only the lease holder (lease.py) calls this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from .client import Kube, KubeError
from .resources import ApiResource

IPAM = "lb.cilium.io/IPv4AddressAllocated"
VIP_EXIST = "lb.cilium.io/VIPExist"
MAX_ATTEMPTS = 5


@dataclass
class StatusResult:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: int = 0  # 409s retried
    failed: list[str] = field(default_factory=list)  # "ref: why"
    skipped: list[str] = field(default_factory=list)  # not tried: the writer lost its lease


def desired(compiled, index) -> dict[str, dict]:
    """ref -> {"addresses": {...} | None, "conditions": [...]} for every LBVIP and LBService."""
    conds: dict[str, dict] = {c["ref"]: c for c in compiled.conditions}
    out = {}
    for vip in index.of_kind("LBVIP"):
        ip = compiled.allocations.get(vip.ref)
        c = conds.get(vip.ref)
        cond = _cond(IPAM, "False", c["reason"], c["message"]) if c and c["type"] == IPAM else \
            _cond(IPAM, "True" if ip else "False", "AddressAllocated" if ip else "NotAllocated",
                  f"address {ip} allocated" if ip else "no address allocated (the object has errors?)")
        out[vip.ref] = {"addresses": {"ipv4": ip} if ip else None, "conditions": [cond]}
    for svc in index.of_kind("LBService"):
        c = conds.get(svc.ref)
        cond = _cond(VIP_EXIST, "False", c["reason"], c["message"]) if c and c["type"] == VIP_EXIST else \
            _cond(VIP_EXIST, "True", "VIPExists", "the LBVIP exists and has an address")
        out[svc.ref] = {"addresses": None, "conditions": [cond]}
    return out


def _cond(type_: str, status: str, reason: str, message: str) -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def merged(current: dict, want: dict, generation, now: str) -> dict:
    """The object's new status: our conditions replaced by type (lastTransitionTime kept while
    the status stays), conditions of other writers and other status fields kept."""
    status = dict(current.get("status") or {})
    if want["addresses"] is not None:
        status["addresses"] = want["addresses"]
    elif "addresses" in status and "ipv4" in (status.get("addresses") or {}):
        status.pop("addresses")
    old = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    mine = {c["type"] for c in want["conditions"]}
    conds = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") not in mine]
    for c in want["conditions"]:
        prev = old.get(c["type"])
        keep = prev is not None and prev.get("status") == c["status"]
        new = {**c, "lastTransitionTime": prev.get("lastTransitionTime") if keep and prev.get("lastTransitionTime") else now}
        if isinstance(generation, int):
            new["observedGeneration"] = generation
        conds.append(new)
    status["conditions"] = sorted(conds, key=lambda c: str(c.get("type")))
    return status


def write_status(kube: Kube, served: dict[str, ApiResource], want: dict[str, dict],
                 now: datetime | None = None, still_leader: Callable[[], bool] | None = None) -> StatusResult:
    """Write each object's status where it differs; 409 -> read again, retry. `still_leader`
    is asked before each write: once False, the rest is skipped (another holder may write)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = StatusResult()
    for ref in sorted(want):
        kind, ns, name = ref.split("/")
        res = served.get(kind)
        if res is None:
            continue
        for attempt in range(MAX_ATTEMPTS):
            if still_leader is not None and not still_leader():
                result.skipped.append(ref)
                break
            try:
                obj = kube.get(res, ns, name)
                status = merged(obj, want[ref], (obj.get("metadata") or {}).get("generation"), stamp)
                if status == (obj.get("status") or {}):
                    result.unchanged.append(ref)
                    break
                obj["status"] = status
                kube.replace(res, ns, obj, sub="status")
                result.written.append(ref)
                break
            except KubeError as e:
                if e.status == 409 and attempt + 1 < MAX_ATTEMPTS:
                    result.conflicts += 1
                    continue
                result.failed.append(f"{ref}: {e}")
                break
    return result
