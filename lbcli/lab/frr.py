"""An FRR router inside a network namespace: the lab's datacenter router.

FRR keeps one instance per "pathspace" name: every daemon is started with `-N NAME`, reads
/etc/frr/NAME/ and puts its sockets and pid files in /var/run/frr/NAME/, and `vtysh -N NAME`
talks to that instance. Daemons are started directly (no watchfrr / frrinit) inside the
namespace with `ip netns exec`, then the integrated config is loaded with `vtysh -b`.
TCP vty ports are disabled (`-P 0`), so instances in different namespaces never collide.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbcli.agent.host import proc

FRR_LIB = Path("/usr/lib/frr")
FRR_ETC = Path("/etc/frr")
FRR_RUN = Path("/var/run/frr")


class FrrError(RuntimeError):
    pass


@dataclass(frozen=True)
class FrrBfdProfile:
    name: str = "lb"
    receive_ms: int = 300
    transmit_ms: int = 300
    multiplier: int = 3
    minimum_ttl: int | None = None  # multi-hop sessions only


@dataclass(frozen=True)
class FrrNeighbor:
    address: str
    asn: int
    port: int | None = None  # None: 179
    password: str | None = None
    bfd: bool = True
    ebgp_multihop: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class FrrConfig:
    asn: int
    router_id: str
    neighbors: tuple[FrrNeighbor, ...] = ()
    bfd_profile: FrrBfdProfile | None = field(default_factory=FrrBfdProfile)
    maximum_paths: int = 8  # ECMP over tier-1 nodes (both eBGP and iBGP)
    defaults: str = "traditional"  # FRR profile; "datacenter" shortens timers to 3/9 s
    keepalive: int | None = None  # router-wide BGP timers (None: FRR's profile)
    hold: int | None = None
    connect_retry: int | None = None
    static_routes: tuple[tuple[str, str], ...] = ()  # (prefix, nexthop); starts staticd
    ip_forwarding: bool = True
    hostname: str = "router"


def render_frr_conf(cfg: FrrConfig) -> str:
    """Integrated frr.conf; deterministic (neighbors sorted by address)."""
    lines = [f"frr defaults {cfg.defaults}", f"hostname {cfg.hostname}", "log timestamp precision 3",
             "ip forwarding" if cfg.ip_forwarding else "no ip forwarding", "!"]
    for prefix, nexthop in sorted(cfg.static_routes):
        lines.append(f"ip route {prefix} {nexthop}")
    if cfg.static_routes:
        lines.append("!")
    p = cfg.bfd_profile
    if p is not None:
        lines += ["bfd", f" profile {p.name}", f"  receive-interval {p.receive_ms}",
                  f"  transmit-interval {p.transmit_ms}", f"  detect-multiplier {p.multiplier}"]
        if p.minimum_ttl is not None:
            lines.append(f"  minimum-ttl {p.minimum_ttl}")
        lines += [" exit", "exit", "!"]
    lines += [f"router bgp {cfg.asn}", f" bgp router-id {cfg.router_id}",
              " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast", " bgp bestpath as-path multipath-relax"]
    if cfg.keepalive is not None and cfg.hold is not None:
        lines.append(f" timers bgp {cfg.keepalive} {cfg.hold}")
    neighbors = sorted(cfg.neighbors, key=lambda n: ipaddress.ip_address(n.address))
    for n in neighbors:
        a = n.address
        lines.append(f" neighbor {a} remote-as {n.asn}")
        if n.port and n.port != 179:
            lines.append(f" neighbor {a} port {n.port}")
        if n.description:
            lines.append(f" neighbor {a} description {n.description}")
        if n.password:
            lines.append(f" neighbor {a} password {n.password}")
        if n.ebgp_multihop:
            lines.append(f" neighbor {a} ebgp-multihop {n.ebgp_multihop}")
        if cfg.connect_retry is not None:
            lines.append(f" neighbor {a} timers connect {cfg.connect_retry}")
        if n.bfd and p is not None:
            lines.append(f" neighbor {a} bfd profile {p.name}")
    lines += [" address-family ipv4 unicast"]
    lines += [f"  neighbor {n.address} activate" for n in neighbors]
    lines += [f"  maximum-paths {cfg.maximum_paths}", f"  maximum-paths ibgp {cfg.maximum_paths}",
              " exit-address-family", "exit", "!"]
    return "\n".join(lines) + "\n"


class FrrRouter:
    """One FRR instance named `name` running in netns `netns`. Use as a context manager or
    call start()/stop(); stop() also cleans up after a crashed or half-started instance."""

    def __init__(self, name: str, netns: str, config: FrrConfig) -> None:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"FRR instance name {name!r}: letters, digits, '-' and '_' only")
        self.name = name
        self.netns = netns
        self.config = config
        self.etc = FRR_ETC / name
        self.run = FRR_RUN / name

    @property
    def daemons(self) -> tuple[str, ...]:
        ds = ["zebra", "bgpd"]
        if self.config.bfd_profile is not None:
            ds.append("bfdd")
        if self.config.static_routes:
            ds.append("staticd")
        return tuple(ds)

    def __enter__(self) -> "FrrRouter":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- lifecycle

    def start(self, timeout: float = 10.0) -> None:
        if not (FRR_LIB / "bgpd").exists() or shutil.which("vtysh") is None:
            raise FrrError("FRR not found: install it (Debian/Ubuntu: apt-get install frr)")
        self.stop()  # leftovers of an earlier run with the same name
        uid, gid = _frr_ids()
        for d, mode in ((self.etc, 0o750), (self.run, 0o755)):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
            os.chmod(d, mode)
        self._write(self.etc / "vtysh.conf", "service integrated-vtysh-config\n", uid, gid)
        # daemons file: documents the instance for frrinit-style tooling; we start directly
        self._write(self.etc / "daemons", "".join(f"{d}=yes\n" for d in self.daemons), uid, gid)
        self._write(self.etc / "frr.conf", render_frr_conf(self.config), uid, gid)
        for d in self.daemons:
            args = ["ip", "netns", "exec", self.netns, str(FRR_LIB / d), "-d", "-N", self.name,
                    "-P", "0", "--log", f"file:{self.run / 'frr.log'}"]
            if d == "zebra":
                args += ["-s", "90000000"]  # netlink buffer for many routes at once
            p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
            if p.returncode != 0:
                self.stop()
                raise FrrError(f"FRR {d} failed to start in {self.netns}: {(p.stderr or p.stdout).strip()}")
        self._wait_sockets(timeout)
        p = subprocess.run(["vtysh", "-N", self.name, "-b"], capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            self.stop()
            raise FrrError(f"vtysh -b failed for {self.name}: {(p.stderr or p.stdout).strip()}")

    def _write(self, path: Path, text: str, uid: int, gid: int) -> None:
        path.write_text(text)
        os.chown(path, uid, gid)
        os.chmod(path, 0o640)  # frr.conf may hold BGP passwords

    def _wait_sockets(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        need = [self.run / f"{d}.vty" for d in self.daemons]
        while not all(p.exists() for p in need):
            if time.monotonic() > deadline:
                missing = [p.name for p in need if not p.exists()]
                self.stop()
                raise FrrError(f"FRR {self.name}: {', '.join(missing)} did not appear in {timeout:g}s")
            time.sleep(0.02)

    def pids(self) -> dict[str, int]:
        out = {}
        for pidfile in sorted(self.run.glob("*.pid")) if self.run.exists() else []:
            try:
                out[pidfile.stem] = int(pidfile.read_text().split()[0])
            except (ValueError, IndexError):
                continue
        return out

    def running(self) -> bool:
        return all(proc.alive(pid) for pid in self.pids().values()) and bool(self.pids())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the daemons (SIGTERM, then SIGKILL) and remove /etc/frr/NAME and
        /var/run/frr/NAME."""
        pids = [pid for pid in self.pids().values() if _is_frr(pid, self.name)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while any(proc.alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in pids:
            if proc.alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(self.run, ignore_errors=True)

    # ---- queries

    def vtysh(self, *commands: str, timeout: float = 10.0) -> str:
        args = ["vtysh", "-N", self.name]
        for c in commands:
            args += ["-c", c]
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise FrrError(f"vtysh -N {self.name} {' / '.join(commands)}: {(p.stderr or p.stdout).strip()}")
        return p.stdout

    def json(self, command: str) -> Any:
        out = self.vtysh(command)
        return json.loads(out) if out.strip() else {}

    def routes(self, protocol: str = "bgp") -> dict[str, list[dict]]:
        """`show ip route <protocol> json`: prefix -> route entries (with nexthops)."""
        return self.json(f"show ip route {protocol} json")

    def bgp_routes(self) -> dict[str, list[dict]]:
        """`show bgp ipv4 unicast json`: prefix -> paths."""
        return self.json("show bgp ipv4 unicast json").get("routes", {})

    def bgp_prefix(self, prefix: str) -> dict:
        """`show bgp ipv4 unicast PREFIX json`: paths with communities and local preference."""
        return self.json(f"show bgp ipv4 unicast {prefix} json")

    def bgp_neighbors(self) -> dict[str, dict]:
        return self.json("show bgp neighbors json")

    def bfd_peers(self) -> list[dict]:
        return self.json("show bfd peers json") or []

    def nexthops(self, prefix: str) -> list[str]:
        """Active FIB next hops of `prefix` (empty when FRR has no route)."""
        entries = self.routes().get(prefix, [])
        return sorted(nh["ip"] for e in entries if e.get("selected")
                      for nh in e.get("nexthops", []) if nh.get("active") and "ip" in nh)


    # ---- the router namespace's kernel FIB: what forwarding actually uses (and ~10x cheaper
    # to poll than vtysh, which matters when timing failover)

    def _kernel_routes(self, *selector: str) -> list[dict]:
        p = subprocess.run(["ip", "-n", self.netns, "-j", "route", "show", *selector],
                           capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            raise FrrError(f"ip route in {self.netns}: {p.stderr.strip()}")
        return json.loads(p.stdout or "[]")

    def kernel_nexthops(self, prefix: str) -> list[str]:
        """Gateways of `prefix` in the kernel FIB of the router namespace."""
        out: list[str] = []
        for r in self._kernel_routes("exact", prefix):
            if "gateway" in r:
                out.append(r["gateway"])
            out += [nh["gateway"] for nh in r.get("nexthops", []) if "gateway" in nh]
        return sorted(out)

    def kernel_bgp_routes(self) -> int:
        """How many routes FRR installed in the kernel FIB (proto bgp)."""
        return len(self._kernel_routes("proto", "bgp"))


def _frr_ids() -> tuple[int, int]:
    try:
        pw = pwd.getpwnam("frr")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return 0, 0


def _is_frr(pid: int, name: str) -> bool:
    """Guard against a reused pid: the process must be an FRR daemon of this instance."""
    argv = proc.cmdline(pid)
    return bool(argv) and argv[0].startswith(str(FRR_LIB).encode()) and name.encode() in argv
