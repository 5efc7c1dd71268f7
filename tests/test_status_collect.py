"""Merging per-node observations for `lb status --observed a.json --observed b.json`."""

import pytest

from lbcli.status.observed import merge

T1A = {"node": "t1-a", "services": {"default/web": {"bgpPeersEstablished": 1, "bgpRoutesAdvertised": 1, "t1Programmed": 1, "packets": 5, "bytes": 500}}}
T1B = {"node": "t1-b", "services": {"default/web": {"bgpPeersEstablished": 0, "bgpRoutesAdvertised": 0, "t1Programmed": 1, "packets": 7, "bytes": 700}}}
T2A = {"node": "t2-a", "services": {"default/web": {"t2Healthy": 1, "backendsHealthy": 3}}}
T2B = {"node": "t2-b", "services": {"default/web": {"t2Healthy": 1, "backendsHealthy": 2}}}


def test_counts_add_up_backends_take_the_worst_peers_the_best():
    f = merge([T1A, T1B, T2A, T2B]).get("default/web")
    assert (f.t1_programmed, f.packets, f.bytes) == (2, 12, 1200)
    assert (f.bgp_peers_established, f.bgp_routes_advertised) == (1, 1)
    assert (f.t2_healthy, f.backends_healthy) == (2, 2)


def test_missing_facts_stay_unknown_and_bad_input_is_refused():
    f = merge([T2A]).get("default/web")
    assert f.packets is None and f.bgp_peers_established is None
    with pytest.raises(ValueError, match="unknown key"):
        merge([{"services": {"default/web": {"nonsense": 1}}}])
