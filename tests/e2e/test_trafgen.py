"""The packet-rate bench's generator and counter (lbcli.lab.trafgen) count what they should."""

from __future__ import annotations

import shutil

import pytest

from lbcli.lab import trafgen as tg

pytestmark = pytest.mark.netns


def test_receiver_counts_exactly_what_was_sent(lab_driver):
    if shutil.which("trafgen") is None:
        pytest.skip("needs trafgen (netsniff-ng)")
    lab = lab_driver.lab
    mac = lambda n, d: lab.run_in(n, ["cat", f"/sys/class/net/{d}/address"]).stdout.strip()  # noqa: E731
    lab.run_in("t2-a", ["ping", "-c", "1", "-W", "1", lab.topology.router_ip])  # the bridge learns T2
    tg.counter_setup(lab, "t2-a", "eth0", 4789, 9999)
    try:
        to_t2 = tg.frame(mac("t2-a", "eth0"), mac("router", "eth0"), "172.30.0.2", "192.168.121.21", 9999)
        other = tg.frame(mac("t2-a", "eth0"), mac("router", "eth0"), "172.30.0.2", "192.168.121.21", 9998)
        tg.send(lab, "router", "eth0", to_t2, 1000)
        tg.send(lab, "router", "eth0", other, 300)  # another port: not counted
        assert tg.counter_read(lab, "t2-a") == 1000
    finally:
        tg.counter_teardown(lab, "t2-a")
