"""Faults on real nodes (the rebel-base lab: 2 T1 with BIRD peering a real FRR router, 2 T2 with
HAProxy, eBPF dispatch), driven through `cilium-lb apply` / `reset` as a user runs them.

* A node never announces what it cannot serve: a T1 whose tier-1 program cannot be attached
  (another filter holds its tc slot) or loaded (a foreign map pinned where its map goes) exits
  1 naming the failure and the VIP, and the router does not learn the VIP from it (withdrawn if
  it was announced); once repaired, the next apply announces it again.
* State survives damage: each state file in turn is truncated between two applies; apply and
  reset then leave the namespace exactly as before the first apply (links, addresses, routes,
  ARP/rp_filter sysctls, qdiscs and filters, pinned objects, daemons, files). When a record and
  its mirror are both lost, apply and reset fail naming the file instead of reporting success.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbcli.agent.datapath import layout as L
from lbcli.lab.rebel import T1, T2, TOPOLOGY, VIP, RebelLab

pytestmark = [pytest.mark.netns, pytest.mark.daemons]

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"{VIP}/32"

# What a node's namespace holds, read with pyroute2 and /proc/sys inside it.
SNAPSHOT = r"""
import glob, json, socket
from pyroute2 import IPRoute
out = {}
with IPRoute() as ipr:
    names = {}
    links = []
    for l in ipr.get_links():
        name = l.get_attr("IFLA_IFNAME"); names[l["index"]] = name
        info = l.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info else None
        links.append([name, kind, bool(l["flags"] & 1), l.get_attr("IFLA_ADDRESS"), l.get_attr("IFLA_MTU")])
    out["links"] = sorted(links)
    out["addresses"] = sorted([names.get(a["index"]), a.get_attr("IFA_ADDRESS"), a["prefixlen"]]
                              for a in ipr.get_addr(family=socket.AF_INET))
    routes = []
    for r in ipr.route("dump", family=socket.AF_INET):
        routes.append([r.get_attr("RTA_TABLE"), r.get_attr("RTA_DST"), r["dst_len"], r.get_attr("RTA_GATEWAY"),
                       names.get(r.get_attr("RTA_OIF")), r["proto"], r["type"], r.get_attr("RTA_PREFSRC")])
    out["routes"] = sorted(routes, key=str)
    tc = []
    for idx, name in sorted(names.items()):
        for q in ipr.get_qdiscs(index=idx):
            tc.append([name, "qdisc", q.get_attr("TCA_KIND"), q["handle"], q["parent"]])
        for parent in (0xFFFFFFF2, 0xFFFFFFF3):
            try:
                filters = ipr.get_filters(index=idx, parent=parent)
            except Exception:
                filters = []
            for f in filters:
                tc.append([name, "filter", f.get_attr("TCA_KIND"), parent, f["info"] >> 16])
    out["tc"] = sorted(tc, key=str)
sysctls = {}
for p in sorted(glob.glob("/proc/sys/net/ipv4/conf/*/*")):
    if p.rsplit("/", 1)[1] in ("arp_ignore", "arp_announce", "rp_filter", "forwarding", "accept_local"):
        sysctls[p[len("/proc/sys/"):]] = open(p).read().strip()
sysctls["net/ipv4/ip_forward"] = open("/proc/sys/net/ipv4/ip_forward").read().strip()
out["sysctls"] = sysctls
print(json.dumps(out, sort_keys=True))
"""


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, BPF, daemons")
    for t in tools:
        if shutil.which(t) is None and not Path(f"/usr/lib/frr/{t}").exists():
            pytest.skip(f"needs {t}")


@pytest.fixture(scope="module")
def rebel(tmp_path_factory):
    _need("bird", "haproxy", "clang", "bgpd", "bpftool", "tc")
    rl = RebelLab(ROOT / "examples" / "rebel-base", tmp_path_factory.mktemp("faults"))
    with rl.running():
        assert rl.wait_for_nexthops(len(T1)), "lab did not come up"
        yield rl


def _cli(rl: RebelLab, node: str, *args: str) -> tuple[int, dict | str, str]:
    p = rl.cli(node, *args, "--node", node, "--state-dir", str(rl.lab.state_dir(node)),
               "--bpf-root", str(rl.lab.bpf_root), "-o", "json", check=False)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = p.stdout
    return p.returncode, doc, p.stderr


def _apply(rl: RebelLab, node: str, *extra: str) -> tuple[int, dict, str]:
    return _cli(rl, node, "apply", str(rl.manifests), *extra)


def _reset(rl: RebelLab, node: str) -> tuple[int, dict, str]:
    return _cli(rl, node, "reset")


def _hops(rl: RebelLab) -> list[str]:
    return rl.router.kernel_nexthops(PREFIX)


def _wait(cond, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g}s")
        time.sleep(0.1)


def _established(rl: RebelLab, ip: str) -> bool:
    return rl.router.bgp_neighbors().get(ip, {}).get("bgpState") == "Established"


def _ip(node: str) -> str:
    return TOPOLOGY.node(node).ip


# ---- a node never announces what it cannot serve ----------------------------------------------

def test_t1_whose_program_cannot_attach_withdraws_the_vip_then_announces_after_repair(rebel):
    rl, node = rebel, T1[0]
    assert _hops(rl) == sorted(_ip(n) for n in T1)
    # another tc filter takes the tier-1 program's slot on the uplink (prio 1, protocol all)
    rl.lab.run_in(node, ["tc", "filter", "del", "dev", "eth0", "ingress", "prio", "1", "handle", "1", "bpf"])
    rl.lab.run_in(node, ["tc", "filter", "add", "dev", "eth0", "ingress", "prio", "1", "protocol", "all",
                         "u32", "match", "u32", "0", "0"])
    try:
        rc, doc, _ = _apply(rl, node, "--dry-run")  # the dry run reports what apply will refuse
        assert rc == 1 and not doc["ok"], doc
        assert [w["prefix"] for w in doc["withheld"]] == [PREFIX]
        rc, doc, _ = _apply(rl, node)
        assert rc == 1 and not doc["ok"] and not doc["recorded"], doc
        dp = next(c for c in doc["components"] if c["name"] == "datapath")
        assert "u32 filter" in dp["error"] and "eth0" in dp["error"], dp
        [w] = doc["withheld"]
        assert w["prefix"] == PREFIX and "datapath" in w["reason"] and "u32" in w["reason"]
        text = rl.cli(node, "apply", str(rl.manifests), "--node", node, "--state-dir",
                      str(rl.lab.state_dir(node)), "--bpf-root", str(rl.lab.bpf_root), check=False)
        assert text.returncode == 1 and f"not announced {PREFIX}" in text.stdout, text.stdout
        _wait(lambda: _hops(rl) == [_ip(T1[1])], what="withdrawal")  # BIRD still peers, VIP gone
        assert _established(rl, _ip(node))
    finally:
        rl.lab.run_in(node, ["tc", "filter", "del", "dev", "eth0", "ingress", "prio", "1", "protocol", "all",
                             "u32"], check=False)
    rc, doc, err = _apply(rl, node)
    assert rc == 0 and doc["ok"] and doc["recorded"] and not doc["withheld"], (doc, err)
    _wait(lambda: _hops(rl) == sorted(_ip(n) for n in T1), what="announcement after repair")


def test_t1_whose_program_cannot_load_never_announces_the_vip(rebel):
    rl, node = rebel, T1[0]
    rc, doc, err = _reset(rl, node)
    assert rc == 0, (doc, err)
    _wait(lambda: _hops(rl) == [_ip(T1[1])], what="withdrawal by reset")
    # a foreign map (wrong type and size) pinned where the program's config map goes
    pin_dir = rl.lab.bpf_root / node
    pin_dir.mkdir(exist_ok=True)
    foreign = pin_dir / L.MAP_NAMES[0]
    subprocess.run(["bpftool", "map", "create", str(foreign), "type", "hash", "key", "8", "value", "8",
                    "entries", "4", "name", "foreign"], check=True, capture_output=True)
    try:
        rc, doc, _ = _apply(rl, node)
        assert rc == 1 and not doc["ok"], doc
        dp = next(c for c in doc["components"] if c["name"] == "datapath")
        assert dp["error"] and dp["error"].startswith(f"program {L.PROGRAM}"), dp
        assert [w["prefix"] for w in doc["withheld"]] == [PREFIX]
        # BIRD runs and peers with the router, which never learns the VIP from this node
        _wait(lambda: _established(rl, _ip(node)), what="BGP session")
        for _ in range(30):
            assert _ip(node) not in _hops(rl)
            assert all(p["peer"]["peerId"] != _ip(node)
                       for p in rl.router.bgp_prefix(PREFIX).get("paths", []))
            time.sleep(0.1)
    finally:
        foreign.unlink(missing_ok=True)
    rc, doc, err = _apply(rl, node)
    assert rc == 0 and doc["ok"] and not doc["withheld"], (doc, err)
    _wait(lambda: _hops(rl) == sorted(_ip(n) for n in T1), what="announcement after repair")
    p = rl.curl("-k", "-u", "rebel:use-the-force", "-o", "/dev/null", "-w", "%{http_code}")
    assert p.stdout.strip() == "200", p.stderr


# ---- state survives damage ----------------------------------------------------------------------

def _snapshot(rl: RebelLab, node: str) -> dict:
    snap = json.loads(rl.lab.run_in(node, [sys.executable, "-c", SNAPSHOT]).stdout)
    pins = rl.lab.bpf_root / node
    snap["pins"] = sorted(p.name for p in pins.iterdir()) if pins.exists() else None
    pids = subprocess.run(["ip", "netns", "pids", rl.lab.ns(node)], capture_output=True, text=True).stdout.split()
    cmds = []
    for pid in pids:
        try:
            cmds.append(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode())
        except OSError:
            pass
    snap["processes"] = sorted(cmds)
    sd = rl.lab.state_dir(node)
    snap["files"] = sorted(str(p.relative_to(sd)) for p in sd.rglob("*")
                           if "bpf-cache" not in p.parts and p.name != "apply.lock") if sd.exists() else []
    return snap


def _damage(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a torn write; a pid file becomes empty or partial


CASES = [
    (T1[0], "datapath.json"), (T1[0], "datapath.json.mirror"), (T1[0], "bird/applied.json"),
    (T1[0], "bird/bird.pid"), (T1[0], "applied-plan.json"),
    (T2[0], "receive.json"), (T2[0], "receive.json.mirror"), (T2[0], "haproxy/haproxy.pid"),
]


def test_each_state_file_truncated_in_turn_then_apply_and_reset_restore_the_host(rebel):
    rl = rebel
    for node, rel in CASES:
        rc, doc, err = _reset(rl, node)
        assert rc == 0, (node, doc, err)
        before = _snapshot(rl, node)
        rc, doc, err = _apply(rl, node)
        assert rc == 0, (node, doc, err)
        applied = _snapshot(rl, node)
        assert applied != before
        path = rl.lab.state_dir(node) / node / rel
        assert path.exists(), (node, rel, applied["files"])
        _damage(path)
        rc, doc, err = _apply(rl, node)
        assert rc == 0 and doc["ok"], json.dumps([node, rel, doc, err], indent=1)
        after_apply = _snapshot(rl, node)
        assert {k: v for k, v in after_apply.items() if k != "files"} == \
               {k: v for k, v in applied.items() if k != "files"}, (node, rel)  # no second daemon
        rc, doc, err = _reset(rl, node)
        assert rc == 0 and doc["ok"], json.dumps([node, rel, doc, err], indent=1)
        after = _snapshot(rl, node)
        assert after == before, (node, rel, {k: (before[k], after[k]) for k in before if before[k] != after[k]})
    for node in T2 + T1:  # the lab as the other tests expect it
        rc, doc, err = _apply(rl, node)
        assert rc == 0, (node, doc, err)
    assert rl.wait_for_nexthops(len(T1))


def test_lost_sysctl_originals_fail_naming_the_file_instead_of_reporting_success(rebel):
    rl, node = rebel, T2[1]
    rc, doc, err = _reset(rl, node)
    assert rc == 0, (doc, err)
    before = _snapshot(rl, node)
    assert _apply(rl, node)[0] == 0
    state = rl.lab.state_dir(node) / node / "receive.json"
    for p in (state, state.with_name("receive.json.mirror")):
        _damage(p)
    try:
        for command in (_apply, _reset):
            rc, doc, err = command(rl, node)
            assert rc == 1 and not doc["ok"], (command.__name__, doc, err)
            rcv = next(c for c in doc["components"] if c["name"] == "receive")
            assert str(state) in rcv["error"] and "by hand" in rcv["error"], rcv
        assert state.exists()
        rc, doc, _ = _reset(rl, node)
        assert rc == 1  # still not "converged" while the ARP sysctls may stay changed
    finally:
        # the operator's repair: restore the values from before, delete the record, reset
        for key, value in before["sysctls"].items():
            rl.lab.run_in(node, ["sh", "-c", f"echo {value} > /proc/sys/{key}"], check=False)
        rl.lab.run_in(node, ["ip", "link", "del", "lb2vx"], check=False)
        rl.lab.run_in(node, ["ip", "addr", "del", PREFIX, "dev", "lo"], check=False)
        for p in (state, state.with_name("receive.json.mirror")):
            p.unlink(missing_ok=True)
    rc, doc, err = _reset(rl, node)
    assert rc == 0, (doc, err)
    assert _snapshot(rl, node) == before
    assert _apply(rl, node)[0] == 0
