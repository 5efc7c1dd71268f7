"""peerASN 0 (Cilium: the ASN is taken from the peer's OPEN): the node runs the session as
BIRD's `external` (any ASN but localASN). Against a real FRR router in another AS the VIP is
learned over eBGP; against a router in the node's own AS the session cannot come up and apply
says so (lint warned before: an iBGP peer must name its ASN). Needs root, bird2 and frr."""

from __future__ import annotations

import pytest

from .bgp_topology import ASN, BFD_300x3, NODE_IPS, bgp_lab, have_tools, plan_for, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.daemons,
              pytest.mark.skipif(have_tools() is not None, reason=str(have_tools()))]

VIP = "100.64.0.111/32"
ROUTER_ASN = 65010


def ad(prefix: str) -> dict:
    return {"prefix": prefix, "service": "default/svc", "communities": [], "largeCommunities": [],
            "localPreference": None}


def test_peer_asn_zero_peers_with_a_router_in_another_as():
    with bgp_lab(router_asn=ROUTER_ASN) as lab:
        for node in NODE_IPS:
            plan = plan_for(node, [ad(VIP)], bfd=BFD_300x3, peer_asn=0)
            peer = plan["bgp"]["instances"][0]["peers"][0]
            assert peer["asn"] == 0
            res = lab.apply(node, plan)
            assert res.ok and res.degraded is None and res.error is None, (node, res)
        want = sorted(NODE_IPS.values())
        wait_for(lambda: lab.router.nexthops(VIP) == want, 15)
        paths = lab.router.bgp_prefix(VIP)["paths"]
        # learned over eBGP: the node's AS is on the path
        assert {str(p["aspath"]["string"]) for p in paths} == {str(ASN)}
        neighbors = lab.router.bgp_neighbors()
        assert {neighbors[a]["remoteAs"] for a in NODE_IPS.values()} == {ASN}


def test_peer_asn_zero_towards_an_ibgp_router_is_reported_not_silent():
    with bgp_lab() as lab:  # the router is in the node's own AS
        node = "t1-a"
        lab.nodes[node].settle_timeout = 3.0
        res = lab.apply(node, plan_for(node, [ad(VIP)], bfd=BFD_300x3, peer_asn=0))
        assert res.error is None and res.degraded and "peer instance0/peer0" in res.degraded, res
        assert VIP not in lab.router.bgp_routes()
