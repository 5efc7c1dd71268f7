"""lbcli/agent/host: sysctl names, process checks, and the netlink helpers in a namespace of
their own (root; the namespace is removed also when a test fails)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lbcli.agent.host import proc, sysctl

ROOT = Path(__file__).resolve().parents[1]


# ---- sysctl names ------------------------------------------------------------------------------

@pytest.mark.parametrize("key,path", [
    ("net.ipv4.conf.all.rp_filter", "net/ipv4/conf/all/rp_filter"),
    ("net.ipv4.conf.eth0.100.arp_ignore", "net/ipv4/conf/eth0.100/arp_ignore"),  # a VLAN device
    ("net.ipv6.conf.lo.disable_ipv6", "net/ipv6/conf/lo/disable_ipv6"),
    ("net.ipv4.neigh.br.0.gc_stale_time", "net/ipv4/neigh/br.0/gc_stale_time"),
    ("net.ipv4.ip_forward", "net/ipv4/ip_forward"),
])
def test_sysctl_key_to_path(key, path):
    assert sysctl.path_of(key) == Path("/proc/sys") / path


@pytest.mark.parametrize("key", ["net.ipv4.conf...rp_filter", "net.ipv4.conf.a/b.rp_filter", "net..x", "",
                                 "net.ipv4.conf.x\0y.rp_filter"])
def test_sysctl_refuses_names_that_leave_proc_sys(key):
    with pytest.raises(ValueError, match="not a sysctl name"):
        sysctl.path_of(key)
    assert sysctl.read(key) is None


def test_sysctl_reads_a_real_value_and_none_for_a_missing_device():
    assert sysctl.read("net.ipv4.conf.lo.rp_filter") in ("0", "1", "2")
    assert sysctl.read(sysctl.conf_key("no-such-dev0", "rp_filter")) is None


# ---- processes ---------------------------------------------------------------------------------

def test_proc_alive_zombie_and_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 5
        while proc.cmdline(child.pid) in ([], [b""]) and time.monotonic() < deadline:
            time.sleep(0.01)  # between fork and exec
        assert proc.alive(child.pid) and not proc.is_zombie(child.pid)
        assert proc.ppid(child.pid) == os.getpid()
        assert proc.cmdline(child.pid)[0] == sys.executable.encode()
        child.kill()
        deadline = time.monotonic() + 5
        while not proc.is_zombie(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.is_zombie(child.pid) and not proc.alive(child.pid)  # dead, not yet reaped
    finally:
        child.kill()
        child.wait()
    assert not proc.alive(child.pid) and proc.cmdline(child.pid) == [] and proc.ppid(child.pid) is None


# ---- netlink, in a namespace of its own ------------------------------------------------------------

# Runs inside the namespace; prints what each step observed as JSON.
SCRIPT = r"""
import json, os, sys
from pathlib import Path
from lbcli.agent.host import netlink as nl, sysctl
from lbcli.agent.datapath import libbpf as bpf, layout as L
from lbcli.agent.datapath.build import object_path
from lbcli.agent.datapath.reconciler import _ours
out = {}
def err(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except nl.NetlinkError as e:
        return str(e)
    return None
from pyroute2 import IPRoute
with IPRoute() as ipr:  # the fixture: a veth pair (not something the node code creates)
    ipr.link("add", ifname="up0", kind="veth", peer="up1")
nl.address_replace("up0", "10.77.0.1", 24)
nl.address_replace("up0", "10.77.0.1", 24)  # idempotent
nl.link_up("up0"); nl.link_up("up1"); nl.link_up("lo")
out["uplink"] = nl.link_by_address("10.77.0.1")
out["no_uplink"] = nl.link_by_address("10.77.0.9")
out["addrs"] = nl.addresses("up0")
nl.vxlan_add("vx0", 4789, mac="02:00:00:00:00:AB")
l = nl.link("vx0")
out["vx_down"] = [l.kind, l.up, l.mac, l.vxlan.external, l.vxlan.port, l.vxlan.learning]
nl.link_up("vx0")
out["vx_up"] = nl.link("vx0").up
out["vx_again"] = err(nl.vxlan_add, "vx0", 4789)
out["missing"] = [nl.link("nope0"), nl.addresses("nope0"), nl.filters("nope0"), nl.clsact_delete("nope0"),
                  nl.link_delete("nope0"), nl.address_delete("nope0", "1.2.3.4", 32)]
out["addr_missing_link"] = err(nl.address_replace, "nope0", "1.2.3.4", 32)
nl.address_replace("lo", "100.64.9.1", 32)
out["lo"] = nl.addresses("lo")
out["lo_del"] = [nl.address_delete("lo", "100.64.9.1", 32), nl.address_delete("lo", "100.64.9.1", 32)]
out["geneve"] = nl.link_kind_supported("geneve", geneve_id=1, geneve_remote="127.0.0.1")
out["vxlan_ok"] = nl.link_kind_supported("vxlan", vxlan_id=7)
out["probe_left"] = sorted(x.name for x in nl.links() if x.name.startswith("lbprb"))
# tc: clsact + a direct-action bpf filter running the tier-1 program
pins = Path(sys.argv[1])
obj, _ = object_path(Path(sys.argv[2]))
bpf.load_object(str(obj), {m: str(pins / m) for m in L.MAP_NAMES}, L.PROGRAM, str(pins / "prog"))
fd = bpf.obj_get(str(pins / "prog"))
pid = bpf.prog_info(fd).id
out["no_clsact"] = nl.filters("up0")
nl.clsact_replace("up0"); nl.clsact_replace("up0")
nl.bpf_filter_replace("up0", fd, "prog", 1, 1)
nl.bpf_filter_replace("up0", fd, "prog", 1, 1)  # replace in place
[f] = nl.filters("up0")
out["filter"] = [f.link, f.parent == nl.INGRESS, f.prio, f.handle, f.kind, f.prog_id == pid, f.name, _ours(f)]
out["all"] = [(x.link, x.prog_id == pid) for x in nl.all_filters()]
out["egress"] = nl.filters("up0", nl.EGRESS)
os.system("tc filter add dev up0 ingress prio 2 protocol all u32 match u32 0 0")  # a foreign one
out["foreign"] = sorted({(x.prio, x.kind, _ours(x)) for x in nl.filters("up0")})  # (u32: table + filter)
# attached the way earlier versions did (tc object-pinned): still recognised as the tier-1 program
os.system(f"tc filter add dev up0 ingress prio 3 handle 1 bpf da object-pinned {pins / 'prog'}")
out["tc_attached"] = sorted({(x.prio, _ours(x)) for x in nl.filters("up0")})
out["del"] = [nl.filter_delete("up0", 1, 1), nl.filter_delete("up0", 1, 1), nl.filter_delete("up0", 3, 1)]
out["left"] = sorted({(x.prio, x.kind) for x in nl.filters("up0")})
out["clsact_del"] = [nl.clsact_delete("up0"), nl.clsact_delete("up0"), nl.filters("up0")]
os.close(fd)
out["vx_del"] = [nl.link_delete("vx0"), nl.link_delete("vx0"), nl.link("vx0")]
print(json.dumps(out))
"""


@pytest.fixture
def netns(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("clang") is None:
        pytest.skip("needs root, iproute2 (to make the namespace) and clang")
    name = f"lbhost-{uuid.uuid4().hex[:8]}"
    bpffs = tmp_path / "bpf"
    bpffs.mkdir()
    subprocess.run(["ip", "netns", "add", name], check=True)
    mounted = subprocess.run(["mount", "-t", "bpf", "bpf", str(bpffs)]).returncode == 0
    try:
        if not mounted:
            pytest.skip("cannot mount a bpffs")
        yield name, bpffs
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        if mounted:
            subprocess.run(["umount", str(bpffs)], check=False)


def test_netlink_helpers_in_a_namespace(netns, tmp_path):
    name, bpffs = netns
    p = subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c", SCRIPT, str(bpffs), str(tmp_path / "cache")],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["uplink"] == "up0" and out["no_uplink"] is None and out["addrs"] == ["10.77.0.1/24"]
    assert out["vx_down"] == ["vxlan", False, "02:00:00:00:00:ab", True, 4789, False] and out["vx_up"]
    assert "add vxlan link vx0: File exists" == out["vx_again"]
    assert out["missing"] == [None, [], [], False, False, False]
    assert out["addr_missing_link"] == "link nope0: No such device"
    assert "100.64.9.1/32" in out["lo"] and out["lo_del"] == [True, False]
    ok, why = out["geneve"]  # this machine kind lacks GENEVE: then the reason is the kernel's
    assert (ok and why == "") or (not ok and why == "add geneve link: Operation not supported")
    assert out["vxlan_ok"] == [True, ""] and out["probe_left"] == []
    assert out["no_clsact"] == []
    assert out["filter"] == ["up0", True, 1, 1, "bpf", True, "prog", True]
    assert out["all"] == [["up0", True]] and out["egress"] == []
    assert out["foreign"] == [[1, "bpf", True], [2, "u32", False]]
    assert out["tc_attached"] == [[1, True], [2, False], [3, True]]
    assert out["del"] == [True, False, True] and out["left"] == [[2, "u32"]]
    assert out["clsact_del"] == [True, False, []]
    assert out["vx_del"] == [True, False, None]
