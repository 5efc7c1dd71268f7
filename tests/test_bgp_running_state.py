"""BGP drift is read from the running BIRD (its control socket, rows by reply code), not only
from bird.conf: a protocol disabled behind our back is enabled again, one missing from the
process takes a `configure`, an established peer exporting other prefixes gets `reload out`.
The real daemon is exercised in tests/e2e/test_agent.py."""

from __future__ import annotations

import pytest

from lbcli.agent.bgp.reconciler import BgpReconciler, Configure, Enable, ReloadOut
from lbcli.agent.bgp.render import protocol_names
from lbcli.agent.bgp.status import BgpObserved, DaemonState, PeerStatus, protocol_states
from lbcli.agent.reconciler import NodeContext
from tests.test_bgp_render import CASES, SECRETS

ROWS = ((2002, "Name       Proto      Table      State  Since         Info"),
        (1002, "device1    Device     ---        up     13:32:24.605  "),
        (1002, "lb_vips4   Static     master4    down   13:32:25.674  "),
        (1002, "p1         BGP        ---        start  13:32:25.676  Active        "),
        (1006, "  BGP state:          Active"), (0, ""))


def test_protocol_states_come_from_the_1002_rows():
    assert protocol_states(list(ROWS)) == {"device1": "up", "lb_vips4": "down", "p1": "start"}


@pytest.fixture
def desired(tmp_path):
    rec = BgpReconciler(NodeContext("t1-a", tmp_path, tmp_path / "bpf"), settle_timeout=0)
    return rec, rec.desired(CASES["seed_ibgp_bfd_md5"], SECRETS)


def _observed(desired, states=None, exported=None):
    model = desired.model
    names = protocol_names(model)
    peers = tuple(PeerStatus(p.protocol, p.key, p.address, 64512, "up", "Established", 0.0, "Established", None)
                  for p in model.peers)
    return BgpObserved(DaemonState(running=True, pid=1), config_sha256=desired.sha256, peers=peers,
                       exported=exported if exported is not None else {p.protocol: tuple(p.prefixes) for p in model.peers},
                       protocols={**{n: "up" for n in names}, **(states or {})})


def test_a_converged_bird_needs_nothing(desired):
    rec, d = desired
    names = protocol_names(d.model)
    assert names[0] == "lb_bfd" and "lb_vips4" in names and len(names) == 3
    assert rec.diff(d, _observed(d)) == []


def test_a_disabled_protocol_is_enabled(desired):
    rec, d = desired
    (ch,) = rec.diff(d, _observed(d, {"lb_vips4": "down"}))
    assert ch.spec == Enable("lb_vips4") and ch.object == "protocol lb_vips4" and ch.batch is None


def test_a_protocol_missing_from_the_process_takes_a_configure(desired):
    rec, d = desired
    obs = _observed(d)
    peer = d.model.peers[0].protocol
    del obs.protocols[peer]
    (ch,) = rec.diff(d, obs)
    assert isinstance(ch.spec, Configure) and f"lacks protocol {peer}" in ch.detail


def test_an_export_that_differs_is_reloaded_out(desired):
    rec, d = desired
    peer = d.model.peers[0]
    (ch,) = rec.diff(d, _observed(d, exported={peer.protocol: ("100.64.0.99/32",)}))
    assert ch.spec == ReloadOut(peer.protocol)
    assert "not exported: " + peer.prefixes[0] in ch.detail and "100.64.0.99/32" in ch.detail


def test_a_file_difference_still_wins(desired):
    rec, d = desired
    obs = _observed(d, {"lb_vips4": "down"})
    obs = BgpObserved(obs.daemon, config_sha256="0" * 64, peers=obs.peers, exported=obs.exported,
                      protocols=obs.protocols)
    changes = rec.diff(d, obs)
    assert changes and all(isinstance(c.spec, Configure) for c in changes)
