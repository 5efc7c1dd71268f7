"""A lab of network namespaces on one machine, built from a :class:`Topology`.

Namespaces: `<prefix>-client`, `<prefix>-router`, `<prefix>-seg` (holds the bridge of the node
segment), one per node and backend. Every link is created directly inside its namespaces, so
nothing appears in the root namespace and runs with different prefixes never collide. `Lab` is a
context manager: teardown also runs on failure, KeyboardInterrupt and SIGTERM; `cleanup(prefix)`
removes what an earlier, killed run left behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from lbcli.lab.topology import DEFAULT, Topology

CLIENT, ROUTER, SEGMENT, EXTERNAL = "client", "router", "seg", "ext"
POD_GATEWAY = "169.254.1.1"  # the pods' next hop, answered by proxy ARP on the node's veth


class LabError(RuntimeError):
    pass


def _run(argv: list[str], check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 60)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kw)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc


def namespaces(prefix: str) -> list[str]:
    out = _run(["ip", "netns", "list"], check=False).stdout.split("\n")
    return sorted(line.split()[0] for line in out if line.strip().startswith(prefix + "-"))


def _kill_pids_in(ns: str) -> None:
    for pid in _run(["ip", "netns", "pids", ns], check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def cleanup(prefix: str) -> list[str]:
    """Remove every namespace named `<prefix>-*` (killing the processes started in them)."""
    removed = []
    for ns in namespaces(prefix):
        _kill_pids_in(ns)
        _run(["ip", "netns", "del", ns], check=False)
        removed.append(ns)
    return removed


class Lab:
    def __init__(self, topology: Topology = DEFAULT, prefix: str | None = None,
                 workdir: Path | None = None):
        self.topology = topology
        self.prefix = prefix or f"lb{secrets.token_hex(3)}"
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.bpf_root = self.workdir / "bpf"
        self._procs: list[subprocess.Popen] = []
        self._bpffs = False
        self._old_sigterm: Any = None

    # -- names ------------------------------------------------------------------------------
    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def ip_of(self, node: str) -> str:
        if node == CLIENT:
            return self.topology.client_ip
        if node == ROUTER:
            return self.topology.router_ip
        if node == EXTERNAL:
            return self.topology.external_ip
        for pod in self.topology.pods:
            if pod.name == node:
                return pod.ip
        return self.topology.node(node).ip

    def state_dir(self, node: str) -> Path:
        return self.workdir / "state" / node

    # -- running things inside ---------------------------------------------------------------
    def run_in(self, node: str, argv: list[str], check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
        """Run `argv` in the node's namespace (`ip netns exec`), capture output."""
        return _run(["ip", "netns", "exec", self.ns(node), *argv], check=check, **kw)

    exec = run_in

    def popen(self, node: str, argv: list[str], **kw: Any) -> subprocess.Popen:
        """Start `argv` in the node's namespace; stopped at teardown at the latest."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(node), *argv], **kw)
        self._procs.append(proc)
        return proc

    def sysctl(self, node: str, key: str, value: str) -> None:
        self.run_in(node, ["sysctl", "-qw", f"{key}={value}"])

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        if hasattr(signal, "SIGTERM") and _main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self.create()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    def create(self) -> None:
        t = self.topology
        if namespaces(self.prefix):
            raise LabError(f"namespaces with prefix {self.prefix} exist; cleanup({self.prefix!r}) first")
        members = ([CLIENT, ROUTER] + [n.name for n in t.nodes + t.backends] + [p.name for p in t.pods]
                   + ([EXTERNAL] if t.external_ip else []))
        for name in [SEGMENT, *members]:
            _run(["ip", "netns", "add", self.ns(name)])
            self.run_in(name, ["ip", "link", "set", "lo", "up"])
            self.sysctl(name, "net.ipv6.conf.all.disable_ipv6", "1")
            self.sysctl(name, "net.ipv6.conf.default.disable_ipv6", "1")
        seg = self.ns(SEGMENT)
        _run(["ip", "-n", seg, "link", "add", "br0", "mtu", str(t.segment_mtu), "type", "bridge",
              "forward_delay", "0", "stp_state", "0"])
        _run(["ip", "-n", seg, "link", "set", "br0", "up"])
        on_segment = [(ROUTER, t.router_ip)] + [(n.name, n.ip) for n in t.nodes + t.backends]
        for name, ip in on_segment:
            port = f"p-{name}"[:15]
            _run(["ip", "-n", self.ns(name), "link", "add", "eth0", "mtu", str(t.segment_mtu), "type", "veth",
                  "peer", "name", port, "mtu", str(t.segment_mtu), "netns", seg])
            _run(["ip", "-n", seg, "link", "set", port, "master", "br0", "up"])
            _run(["ip", "-n", self.ns(name), "addr", "add", f"{ip}/{t.segment_prefix}", "dev", "eth0"])
            _run(["ip", "-n", self.ns(name), "link", "set", "eth0", "up"])
            if name != ROUTER:
                _run(["ip", "-n", self.ns(name), "route", "add", "default", "via", t.router_ip])
        # client <-> router
        _run(["ip", "-n", self.ns(CLIENT), "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
              "netns", self.ns(ROUTER)])
        _run(["ip", "-n", self.ns(ROUTER), "addr", "add", f"{t.router_client_ip}/{t.client_net_prefix}",
              "dev", "eth1"])
        _run(["ip", "-n", self.ns(ROUTER), "link", "set", "eth1", "up"])
        _run(["ip", "-n", self.ns(CLIENT), "addr", "add", f"{t.client_ip}/{t.client_net_prefix}", "dev", "eth0"])
        _run(["ip", "-n", self.ns(CLIENT), "link", "set", "eth0", "up"])
        _run(["ip", "-n", self.ns(CLIENT), "route", "add", "default", "via", t.router_client_ip])
        self.sysctl(ROUTER, "net.ipv4.ip_forward", "1")
        self.sysctl(ROUTER, "net.ipv4.fib_multipath_hash_policy", "1")
        if t.static_vip_routes:
            for vip in t.vips:
                self.route_vip(vip)
        if t.external_ip:
            _run(["ip", "-n", self.ns(EXTERNAL), "link", "add", "eth0", "type", "veth", "peer", "name", "eth2",
                  "netns", self.ns(ROUTER)])
            _run(["ip", "-n", self.ns(ROUTER), "addr", "add", f"{t.router_external_ip}/24", "dev", "eth2"])
            _run(["ip", "-n", self.ns(ROUTER), "link", "set", "eth2", "up"])
            _run(["ip", "-n", self.ns(EXTERNAL), "addr", "add", f"{t.external_ip}/24", "dev", "eth0"])
            _run(["ip", "-n", self.ns(EXTERNAL), "link", "set", "eth0", "up"])
            _run(["ip", "-n", self.ns(EXTERNAL), "route", "add", "default", "via", t.router_external_ip])
        for pod in t.pods:
            self._add_pod(pod)

    def _add_pod(self, pod) -> None:
        """The pod's namespace, wired to its node as a CNI plugin would (see LabPod)."""
        node, ns, host = self.ns(pod.node), self.ns(pod.name), f"lxc-{pod.name}"[:15]
        _run(["ip", "-n", node, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns])
        _run(["ip", "-n", node, "link", "set", host, "up"])
        self.sysctl(pod.node, f"net.ipv4.conf.{host}.proxy_arp", "1")
        _run(["ip", "-n", node, "route", "add", f"{pod.ip}/32", "dev", host])
        _run(["ip", "-n", ns, "addr", "add", f"{pod.ip}/32", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "route", "add", POD_GATEWAY, "dev", "eth0", "scope", "link"])
        _run(["ip", "-n", ns, "route", "add", "default", "via", POD_GATEWAY, "dev", "eth0"])

    def route_vip(self, vip: str, via: list[str] | None = None) -> None:
        """Point the router's route for `vip`/32 at tier-1 nodes (ECMP over all by default)."""
        hops = via or [n.ip for n in self.topology.tier("t1")]
        argv = ["ip", "route", "replace", f"{vip}/32"]
        for hop in hops:
            argv += ["nexthop", "via", hop]
        self.run_in(ROUTER, argv)

    def enable_xdp_tx(self, node: str) -> None:
        """Make the lab carry what native XDP on `node`'s uplink transmits (XDP_TX), as a wire
        between physical NICs would: a veth hands XDP frames only to a peer that runs NAPI, here
        through an XDP_PASS program on the node's bridge port (GRO on the peer did not start
        NAPI on this kernel); and an XDP frame has no skb to carry a pending checksum, so the
        client computes its checksums itself (no tx offload), as a NIC would have on the wire."""
        obj = self.workdir / "xdp_pass.o"
        if not obj.exists():
            src = self.workdir / "xdp_pass.c"
            src.write_text('__attribute__((section("xdp.frags"), used)) int xdp_pass(void *ctx) { return 2; }\n'
                           'char _license[] __attribute__((section("license"), used)) = "GPL";\n')
            _run(["clang", "-O2", "-target", "bpf", "-c", str(src), "-o", str(obj)])
        _run(["ip", "-n", self.ns(SEGMENT), "link", "set", "dev", f"p-{node}"[:15], "xdpdrv", "obj", str(obj),
              "sec", "xdp.frags"])
        self.run_in(CLIENT, ["ethtool", "-K", "eth0", "tx", "off"])

    def mount_bpffs(self) -> Path:
        """A bpffs of the lab's own (pins survive one-shot applies run with `ip netns exec`)."""
        if not self._bpffs:
            self.bpf_root.mkdir(parents=True, exist_ok=True)
            _run(["mount", "-t", "bpf", "bpf", str(self.bpf_root)])
            self._bpffs = True
        return self.bpf_root

    def teardown(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        cleanup(self.prefix)
        if self._bpffs:
            _run(["umount", "-l", str(self.bpf_root)], check=False)
            self._bpffs = False
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
