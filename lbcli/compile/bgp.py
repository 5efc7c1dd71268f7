"""BGP: per node that a BGP cluster config selects (IsovalentBGPClusterConfig or Cilium OSS's
CiliumBGPClusterConfig: the same speaker, each family referring to its own peer configs,
advertisements and node overrides), its instances, peers (timers, graceful restart, multihop,
BFD, MD5 auth by reference) and exactly which prefixes each peer gets, from the peer config's
family advertisement selectors. A node override (metadata.name = the node) sets an instance's
router ID, listen port and local ASN on that node; what cilium-lb does not carry out of it
(per-peer source address/port) the `not-implemented` rule refuses."""

from __future__ import annotations

from ..manifest.index import NO_ADVERTISEMENT, ResourceIndex, bgp_sibling
from ..manifest.kinds import default_of
from ..manifest.selectors import matches
from .nodes import NodeInfo
from .secrets import SecretStore

def bgp_section(node: NodeInfo, index: ResourceIndex, announced: list[dict], secrets: SecretStore,
                pod_cidr_only: bool = False) -> dict | None:
    """`announced`: [{service, vip, labels, noAdvertisement}] — services that have T2 nodes.
    `pod_cidr_only` (a node that is not tier 1): only peers that get this node's PodCIDR
    (advertisementType PodCIDR) are kept, and no section when none does: such a node runs BIRD
    just to announce its PodCIDR."""
    instances = []
    for cc in sorted(index.bgp("ClusterConfig"), key=lambda r: (r.name, r.kind)):
        if not matches(cc.spec.get("nodeSelector"), node.labels):
            continue
        override = index.get(bgp_sibling(cc.kind, "NodeConfigOverride"), None, node.name)
        overrides = {o.get("name"): o for o in (override.spec.get("bgpInstances") or [])} \
            if override is not None and override.valid else {}
        for inst in cc.spec.get("bgpInstances") or []:
            o = overrides.get(inst.get("name")) or {}
            local_asn = o.get("localASN", inst.get("localASN"))
            if local_asn is None:
                continue  # Isovalent allows it; BIRD cannot run without (not-implemented says so)
            peers = [_peer(cc.kind, p, local_asn, index, announced, secrets, node)
                     for p in inst.get("peers") or [] if p.get("peerAddress")]  # autoDiscovery: refused
            if pod_cidr_only:
                peers = [p for p in peers if p["prefixes"]]
                if not peers:
                    continue
            instances.append({
                "name": inst.get("name"), "localASN": local_asn, "routerId": o.get("routerID", node.internal_ip),
                "localPort": o.get("localPort", inst.get("localPort", 179)),
                "peers": sorted(peers, key=lambda p: p["name"] or ""),
            })
    return {"instances": instances} if instances else None


def _peer(kind: str, p: dict, local_asn, index: ResourceIndex, announced: list[dict], secrets: SecretStore,
          node: NodeInfo) -> dict:
    pc_kind = bgp_sibling(kind, "PeerConfig")
    d = lambda *path: default_of(pc_kind, "spec", *path)  # noqa: E731
    ref = (p.get("peerConfigRef") or {}).get("name")
    pc = index.get(pc_kind, None, ref) if ref else None
    spec = pc.spec if pc is not None and pc.valid else {}
    timers = spec.get("timers") or {}
    gr = spec.get("gracefulRestart") or {}
    hop = spec.get("ebgpMultihop")
    bfd = None
    if spec.get("bfdProfileRef"):
        prof = index.get("IsovalentBFDProfile", None, spec["bfdProfileRef"])
        ps = prof.spec if prof is not None else {}
        bd = lambda k: ps.get(k, default_of("IsovalentBFDProfile", "spec", k))  # noqa: E731
        bfd = {"profile": spec["bfdProfileRef"], "receiveIntervalMs": bd("receiveIntervalMilliseconds"),
               "transmitIntervalMs": bd("transmitIntervalMilliseconds"), "detectMultiplier": bd("detectMultiplier"),
               "minimumTTL": bd("minimumTTL")}
    auth = None
    if spec.get("authSecretRef"):
        auth = secrets.ref(index.bgp_secrets_namespace(), spec["authSecretRef"])
    families, prefixes = [], {}
    for fam in spec.get("families") or []:
        families.append({"afi": fam.get("afi"), "safi": fam.get("safi")})
        if fam.get("afi") != "ipv4":
            continue
        for adv in sorted(index.valid(bgp_sibling(kind, "Advertisement")), key=lambda r: r.name):
            if fam.get("advertisements") is None or not matches(fam.get("advertisements"), adv.labels):
                continue
            for a in adv.spec.get("advertisements") or []:
                _collect(a, announced, prefixes)
                _collect_pod_cidrs(a, node, prefixes)
    peer_asn = p.get("peerASN", 0)  # 0 (the default): the node takes the ASN the peer opens with
    return {
        "name": p.get("name"), "address": p.get("peerAddress"), "asn": peer_asn,
        "port": (spec.get("transport") or {}).get("peerPort", d("transport", "peerPort")),
        "timers": {
            "connectRetrySeconds": timers.get("connectRetryTimeSeconds", d("timers", "connectRetryTimeSeconds")),
            "holdTimeSeconds": timers.get("holdTimeSeconds", d("timers", "holdTimeSeconds")),
            "keepAliveSeconds": timers.get("keepAliveTimeSeconds", d("timers", "keepAliveTimeSeconds")),
        },
        "gracefulRestart": {"enabled": bool(gr.get("enabled", False)),
                            "restartTimeSeconds": gr.get("restartTimeSeconds", d("gracefulRestart", "restartTimeSeconds"))},
        "ebgpMultihop": hop if isinstance(hop, int) and hop > 1 else None,
        "auth": auth, "bfd": bfd,
        "families": sorted(families, key=lambda f: (str(f["afi"]), str(f["safi"]))),
        "prefixes": [prefixes[k] for k in sorted(prefixes, key=_prefix_key)],
    }


def _collect(a: dict, announced: list[dict], prefixes: dict) -> None:
    if a.get("advertisementType") != "Service":
        return
    if "LoadBalancerIP" not in ((a.get("service") or {}).get("addresses") or []):
        return
    attrs = a.get("attributes") or {}
    comms = attrs.get("communities") or {}
    for svc in announced:
        if svc["noAdvertisement"] or not matches(a.get("selector"), svc["labels"]):
            continue
        prefix = f"{svc['vip']}/32"
        entry = prefixes.setdefault(prefix, {"prefix": prefix, "services": [], "communities": [],
                                             "largeCommunities": [], "localPreference": None})
        if svc["service"] not in entry["services"]:
            entry["services"] = sorted(entry["services"] + [svc["service"]])
        std = list(comms.get("standard") or []) + list(comms.get("wellKnown") or [])
        entry["communities"] = sorted(set(entry["communities"]) | set(std))
        entry["largeCommunities"] = sorted(set(entry["largeCommunities"]) | set(comms.get("large") or []))
        lp = attrs.get("localPreference")
        if lp is not None and (entry["localPreference"] is None or lp > entry["localPreference"]):
            entry["localPreference"] = lp


def _collect_pod_cidrs(a: dict, node: NodeInfo, prefixes: dict) -> None:
    """advertisementType PodCIDR: this node's IPv4 PodCIDRs, with the advertisement's attributes
    (Cilium announces each node's PodCIDRs from that node; the selector does not apply)."""
    import ipaddress

    if a.get("advertisementType") != "PodCIDR":
        return
    attrs = a.get("attributes") or {}
    comms = attrs.get("communities") or {}
    for cidr in node.pod_cidrs:
        try:
            net = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            continue
        if net.version != 4:
            continue
        entry = prefixes.setdefault(str(net), {"prefix": str(net), "services": [], "communities": [],
                                               "largeCommunities": [], "localPreference": None})
        std = list(comms.get("standard") or []) + list(comms.get("wellKnown") or [])
        entry["communities"] = sorted(set(entry["communities"]) | set(std))
        entry["largeCommunities"] = sorted(set(entry["largeCommunities"]) | set(comms.get("large") or []))
        lp = attrs.get("localPreference")
        if lp is not None and (entry["localPreference"] is None or lp > entry["localPreference"]):
            entry["localPreference"] = lp


def _prefix_key(p: str):
    import ipaddress

    return int(ipaddress.ip_network(p).network_address)


def no_advertisement(resource) -> bool:
    return str(resource.annotations.get(NO_ADVERTISEMENT, "")).lower() == "true"
