"""A router namespace and tier-1 node namespaces on one L2 segment (a bridge in its own
namespace), an FRR router in the router namespace and the BGP reconciler of each node.
Shared by tests/e2e/test_bgp.py and bench/bench_bgp.py. Only namespaces and links created
here are touched; every name starts with a unique prefix."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from lbcli.agent.bgp.reconciler import BgpReconciler
from lbcli.agent.reconciler import ComponentResult, NodeContext
from lbcli.lab.frr import FrrBfdProfile, FrrConfig, FrrNeighbor, FrrRouter

ROUTER_IP = "192.168.121.201"
NODE_IPS = {"t1-a": "192.168.121.11", "t1-b": "192.168.121.12"}
ASN = 64512
AUTH_REF = "kube-system/bgp-auth"
PASSWORD = "lab-md5-secret"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def have_tools() -> str | None:
    """Why the e2e tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    for tool, hint in (("bird", "bird2"), ("vtysh", "frr")):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} not installed (apt-get install {hint})"
    if not Path("/usr/lib/frr/bgpd").exists():
        return "FRR daemons not installed"
    return None


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block (and processes it starts) in netns `name`; restores the caller's."""
    from pyroute2.netns import popns, pushns

    pushns(name)
    try:
        yield
    finally:
        popns()


def plan_for(node: str, prefixes: list[dict], *, bfd: dict | None = None, hold: int = 9,
             keepalive: int = 3, connect_retry: int = 1, auth: bool = True, peer_asn: int = ASN) -> dict:
    """`node`'s plan as `cilium-lb compile` makes it from a manifest set (bgp_manifests): the
    lab's Nodes and services (lbcli/lab/plans.py) plus the BGP resources for these prefixes,
    timers, authentication and BFD profile."""
    from ..lintkit import compile_docs

    return compile_docs(bgp_manifests(prefixes, bfd=bfd, hold=hold, keepalive=keepalive, connect_retry=connect_retry,
                                      auth=auth, peer_asn=peer_asn), node)


def bgp_manifests(prefixes: list[dict], *, bfd: dict | None, hold: int, keepalive: int, connect_retry: int,
                  auth: bool, peer_asn: int = ASN) -> list[dict]:
    """One LBVIP and TCP LBService per prefix (label `bgp-vip: <n>`), an advertisement per
    prefix with its attributes (communities, large communities, local preference), the peer
    (the FRR router; iBGP unless `peer_asn` differs) with its timers, MD5 Secret and BFD profile."""
    import base64

    from lbcli.lab.plans import LabService, manifests
    from lbcli.lab.topology import DEFAULT, LabNode

    nodes = tuple(LabNode(n, a, ("t1",)) for n, a in NODE_IPS.items()) + (LabNode("t2-a", "192.168.121.21", ("t2",)),)
    topo = DEFAULT.__class__(**{**DEFAULT.__dict__, "nodes": nodes})
    services = [LabService(f"default/svc{i}", p["prefix"].split("/")[0], 80) for i, p in enumerate(prefixes)]
    docs = manifests(topo, services)
    for i, _ in enumerate(prefixes):  # label each LBService so one advertisement selects it
        svc = next(d for d in docs if d["kind"] == "LBService" and d["metadata"]["name"] == f"svc{i}")
        svc["metadata"]["labels"]["bgp-vip"] = str(i)
    peer_cfg: dict = {
        "timers": {"connectRetryTimeSeconds": connect_retry, "holdTimeSeconds": hold, "keepAliveTimeSeconds": keepalive},
        "families": [{"afi": "ipv4", "safi": "unicast", "advertisements": {"matchLabels": {"advertisement": "lab"}}}],
    }
    if auth:
        peer_cfg["authSecretRef"] = AUTH_REF.split("/")[1]
        docs.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"namespace": AUTH_REF.split("/")[0], "name": AUTH_REF.split("/")[1]},
                     "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}})
    if bfd is not None:
        peer_cfg["bfdProfileRef"] = bfd["profile"]
        docs.append({"apiVersion": "isovalent.com/v1alpha1", "kind": "IsovalentBFDProfile",
                     "metadata": {"name": bfd["profile"]},
                     "spec": {"receiveIntervalMilliseconds": bfd["receiveIntervalMs"],
                              "transmitIntervalMilliseconds": bfd["transmitIntervalMs"],
                              "detectMultiplier": bfd["detectMultiplier"], "minimumTTL": bfd["minimumTTL"]}})
    docs.append({"apiVersion": "isovalent.com/v1", "kind": "IsovalentBGPClusterConfig", "metadata": {"name": "lab"},
                 "spec": {"nodeSelector": {"matchLabels": {"service.cilium.io/node": "t1"}},
                          "bgpInstances": [{"name": "instance0", "localASN": ASN, "peers": [
                              {"name": "peer0", "peerAddress": ROUTER_IP, "peerASN": peer_asn,
                               "peerConfigRef": {"name": "lab-peer"}}]}]}})
    docs.append({"apiVersion": "isovalent.com/v1", "kind": "IsovalentBGPPeerConfig", "metadata": {"name": "lab-peer"},
                 "spec": peer_cfg})
    for i, p in enumerate(prefixes):
        wk = [c for c in p.get("communities") or () if ":" not in c]
        communities = {k: v for k, v in (("standard", [c for c in p.get("communities") or () if ":" in c]),
                                         ("wellKnown", wk), ("large", list(p.get("largeCommunities") or ()))) if v}
        attributes: dict = {}
        if communities:
            attributes["communities"] = communities
        if p.get("localPreference") is not None:
            attributes["localPreference"] = p["localPreference"]
        ad = {"advertisementType": "Service", "service": {"addresses": ["LoadBalancerIP"]},
              "selector": {"matchLabels": {"bgp-vip": str(i)}}}
        if attributes:
            ad["attributes"] = attributes
        docs.append({"apiVersion": "isovalent.com/v1", "kind": "IsovalentBGPAdvertisement",
                     "metadata": {"name": f"lab-{i}", "labels": {"advertisement": "lab"}},
                     "spec": {"advertisements": [ad]}})
    return docs


BFD_300x3 = {"profile": "router-bfd", "receiveIntervalMs": 300, "transmitIntervalMs": 300,
             "detectMultiplier": 3, "minimumTTL": 255}
SECRETS = {AUTH_REF: {"password": PASSWORD.encode()}}


@dataclass
class BgpLab:
    prefix: str
    state_dir: Path
    router: FrrRouter | None = None
    nodes: dict[str, BgpReconciler] = field(default_factory=dict)

    @property
    def router_ns(self) -> str:
        return f"{self.prefix}r"

    @property
    def bridge_ns(self) -> str:
        return f"{self.prefix}br"

    def node_ns(self, node: str) -> str:
        return f"{self.prefix}{node[-1]}"

    def apply(self, node: str, plan: dict, secrets: dict | None = SECRETS) -> ComponentResult:
        from lbcli.agent.engine import run_component

        with in_netns(self.node_ns(node)):
            return run_component(self.nodes[node], plan, secrets)[1]

    def link(self, node: str, up: bool) -> None:
        ip("-n", self.node_ns(node), "link", "set", "eth0", "up" if up else "down")


def wait_for(cond: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll `cond` until truthy (returns its value) or raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout:g}s")
        time.sleep(interval)


@contextlib.contextmanager
def bgp_lab(*, bfd: FrrBfdProfile | None = FrrBfdProfile(), router_password: str | None = PASSWORD,
            keepalive: int | None = 3, hold: int | None = 9, router_asn: int = ASN) -> Iterator[BgpLab]:
    """Namespaces + bridge + FRR router; each node gets a reconciler (BIRD starts on apply).
    Everything is removed on exit, also when the block fails."""
    prefix = f"lbg{uuid.uuid4().hex[:5]}"
    lab = BgpLab(prefix=prefix, state_dir=Path(tempfile.mkdtemp(prefix=f"{prefix}-state-")))
    try:
        ip("netns", "add", lab.bridge_ns)
        ip("-n", lab.bridge_ns, "link", "add", "br0", "type", "bridge")
        ip("-n", lab.bridge_ns, "link", "set", "br0", "up")
        members = {lab.router_ns: ROUTER_IP, **{lab.node_ns(n): a for n, a in NODE_IPS.items()}}
        for i, (ns, addr) in enumerate(members.items()):
            ip("netns", "add", ns)
            # created inside the namespaces: the root namespace never sees these links
            ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"p{i}", "netns", lab.bridge_ns)
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", lab.bridge_ns, "link", "set", f"p{i}", "master", "br0", "up")
        neighbors = tuple(FrrNeighbor(a, ASN, password=router_password, bfd=bfd is not None,
                                      description=n) for n, a in NODE_IPS.items())
        lab.router = FrrRouter(f"{prefix}r", lab.router_ns,
                               FrrConfig(asn=router_asn, router_id=ROUTER_IP, neighbors=neighbors, bfd_profile=bfd,
                                         keepalive=keepalive, hold=hold, connect_retry=1))
        lab.router.start()
        for node in NODE_IPS:
            lab.nodes[node] = BgpReconciler(NodeContext(node, lab.state_dir, lab.state_dir / "bpf"),
                                            settle_timeout=10.0)
        yield lab
    finally:
        for rec in lab.nodes.values():
            with contextlib.suppress(Exception):
                rec.reset()
        if lab.router is not None:
            with contextlib.suppress(Exception):
                lab.router.stop()
        for ns in [lab.router_ns, *(lab.node_ns(n) for n in NODE_IPS), lab.bridge_ns]:
            ip("netns", "del", ns, check=False)
        shutil.rmtree(lab.state_dir, ignore_errors=True)
