"""Facts observed on the hosts (BGP sessions, health checks, counters) that replace what plans
alone cannot know. The agent fills these; `status --observed FILE` reads the same shape:

    {"services": {"default/https-proxy": {"bgpPeersEstablished": 1, "bgpRoutesAdvertised": 2,
      "t1Programmed": 2, "t2Healthy": 2, "t2HealthyByT1": 2, "backendsHealthy": 1, "packets": 10,
      "bytes": 1500}}}

`t2Healthy` is what each tier-2 node says of itself (summed); `t2HealthyByT1` is what a tier-1
node's health checks see (the T2 nodes it still sends new flows to; the most pessimistic tier-1
node speaks). The HC T1->T2 column shows the second when some tier-1 node reported it.

Every fact is optional; one left out stays unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_KEYS = {"bgpPeersEstablished": "bgp_peers_established", "bgpRoutesAdvertised": "bgp_routes_advertised",
         "t1Programmed": "t1_programmed", "t2Healthy": "t2_healthy",
         "t2HealthyByT1": "t2_healthy_by_t1", "backendsHealthy": "backends_healthy",
         "packets": "packets", "bytes": "bytes"}


@dataclass(frozen=True)
class ServiceFacts:
    bgp_peers_established: int | None = None  # peers with an Established session carrying the VIP
    bgp_routes_advertised: int | None = None  # (T1 node, peer) pairs that announced the VIP /32
    t1_programmed: int | None = None          # T1 nodes whose datapath has the VIP:port programmed
    t2_healthy: int | None = None             # T2 nodes healthy as they report themselves
    t2_healthy_by_t1: int | None = None       # T2 nodes healthy as tier 1's checks see them (HC T1->T2)
    backends_healthy: int | None = None       # backends healthy as tier 2 sees them (HC T2->B)
    packets: int | None = None                # tier-1 counters of the VIP:port
    bytes: int | None = None

    def to_json(self) -> dict:
        return {k: getattr(self, a) for k, a in sorted(_KEYS.items())}


@dataclass(frozen=True)
class Observed:
    services: dict[str, ServiceFacts] = field(default_factory=dict)  # "namespace/name" -> facts

    def get(self, service: str) -> ServiceFacts | None:
        return self.services.get(service)

    @classmethod
    def from_dict(cls, doc: object) -> "Observed":
        """Parse the JSON shape above; ValueError names what is wrong."""
        if not isinstance(doc, dict) or not isinstance(doc.get("services", {}), dict):
            raise ValueError('observed facts: expected {"services": {"ns/name": {...}}}')
        out = {}
        for svc, facts in doc.get("services", {}).items():
            if not isinstance(facts, dict):
                raise ValueError(f"observed facts for {svc}: expected an object")
            unknown = set(facts) - set(_KEYS)
            if unknown:
                raise ValueError(f"observed facts for {svc}: unknown key(s) {', '.join(sorted(unknown))} "
                                 f"(known: {', '.join(sorted(_KEYS))})")
            kw = {}
            for k, v in facts.items():
                if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                    raise ValueError(f"observed facts for {svc}: {k} must be a non-negative integer or null")
                kw[_KEYS[k]] = v
            out[str(svc)] = ServiceFacts(**kw)
        return cls(out)


def merge(reports: list[dict]) -> Observed:
    """Several nodes' reports as one: counts add up across nodes, except backendsHealthy,
    where the tier-2 node seeing the fewest healthy backends speaks for the service (and
    t2HealthyByT1, where the tier-1 node seeing the fewest healthy T2 nodes does), and
    bgpPeersEstablished, where the tier-1 nodes peer with the same routers (one cluster config
    selects them all) so the best node's count is the number of peers that have the VIP."""
    acc: dict[str, dict[str, int]] = {}
    for rep in reports:
        one = Observed.from_dict({"services": rep.get("services", {})})  # validates the shape
        for svc, facts in one.services.items():
            cur = acc.setdefault(svc, {})
            for key, attr in _KEYS.items():
                v = getattr(facts, attr)
                if v is None:
                    continue
                if key in ("backendsHealthy", "t2HealthyByT1"):
                    cur[key] = v if key not in cur else min(cur[key], v)
                elif key == "bgpPeersEstablished":
                    cur[key] = max(cur.get(key, 0), v)
                else:
                    cur[key] = cur.get(key, 0) + v
    return Observed({svc: ServiceFacts(**{_KEYS[k]: v for k, v in f.items()}) for svc, f in acc.items()})
