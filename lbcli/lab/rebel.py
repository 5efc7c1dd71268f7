"""The seed's rebel-base lab as one context manager: namespaces for 2 T1 + 2 T2 nodes, a client,
two HTTP backends and an FRR router (BGP + BFD to the T1 nodes); `cilium-lb apply` run in every
node like a user would. Used by the end-to-end tests and the failover benchmark.

The manifests are a copy of examples/rebel-base with the backends moved onto the lab segment
(the seed's 172.18.0.7/.8 become the lab backends' addresses).
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from .frr import FrrBfdProfile, FrrConfig, FrrNeighbor, FrrRouter
from .testbed import Lab
from .topology import LabNode, Topology

VIP, HOST, ASN = "100.64.0.101", "https-proxy.acme.io", 64512
T1, T2 = ("lb-t1-1", "lb-t1-2"), ("lb-t2-1", "lb-t2-2")
BACKENDS = {"be-a": "192.168.121.101", "be-b": "192.168.121.102"}
USER, PASSWORD = "rebel", "use-the-force"  # the lab credential documented in secrets.yaml

TOPOLOGY = Topology(
    nodes=(LabNode("lb-t1-1", "192.168.121.11", ("t1",)), LabNode("lb-t1-2", "192.168.121.12", ("t1",)),
           LabNode("lb-t2-1", "192.168.121.21", ("t2",)), LabNode("lb-t2-2", "192.168.121.22", ("t2",))),
    backends=tuple(LabNode(n, ip) for n, ip in BACKENDS.items()),
    vips=(VIP,),
    static_vip_routes=False,  # the router learns the VIP through BGP
)

BACKEND = r"""
import http.server, sys
name = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (b"ok\n" if self.path == "/health" else ("hello from %s\n" % name).encode())
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


class RebelLab:
    """`bfd=False` swaps the BFD profile for short BGP timers (hold `hold`, keepalive a third),
    on both the nodes (peer config) and the router."""

    def __init__(self, examples: Path, workdir: Path, bfd: bool = True, hold: int = 3) -> None:
        self.examples = examples
        self.workdir = workdir
        self.bfd = bfd
        self.hold = hold
        self.manifests = workdir / "manifests"
        self.ca = workdir / "ca.pem"
        self.lab: Lab | None = None
        self.router: FrrRouter | None = None
        self.applied: dict[str, dict] = {}

    # -- commands inside the lab ------------------------------------------------------------
    def cli(self, node: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.lab.run_in(node, [sys.executable, "-m", "lbcli", "--color", "never", *args], check=check)

    def apply(self, node: str) -> dict:
        p = self.cli(node, "apply", str(self.manifests), "--node", node, "--state-dir", str(self.lab.state_dir(node)),
                     "--bpf-root", str(self.lab.bpf_root), "-o", "json", check=False)
        if p.returncode != 0:
            raise RuntimeError(f"apply on {node} failed:\n{p.stdout}\n{p.stderr}")
        return json.loads(p.stdout)

    def curl(self, *extra: str) -> subprocess.CompletedProcess:
        return self.lab.run_in("client", ["curl", "-sS", "-v", "--max-time", "5", "--resolve", f"{HOST}:443:{VIP}",
                                          *extra, f"https://{HOST}/"], check=False)

    def wait_for_nexthops(self, n: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.router.kernel_nexthops(f"{VIP}/32")) == n:
                return True
            time.sleep(0.1)
        return False

    # -- lifecycle ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """The manifests (a copy of the example, backends on the lab segment) and the CA file."""
        import yaml

        shutil.copytree(self.examples, self.manifests)
        pools = self.manifests / "backends.yaml"
        text = pools.read_text().replace("172.18.0.7", BACKENDS["be-a"]).replace("172.18.0.8", BACKENDS["be-b"])
        pools.write_text(text)
        docs = yaml.safe_load_all((self.manifests / "secrets.yaml").read_text())
        secret = next(d for d in docs if d and d["metadata"]["name"] == "https-proxy")
        self.ca.write_bytes(base64.b64decode(secret["data"]["ca.crt"]))
        if not self.bfd:
            bgp = self.manifests / "bgp.yaml"
            keepalive = max(1, self.hold // 3)
            bgp.write_text(bgp.read_text().replace(
                "  bfdProfileRef: router-bfd\n",
                f"  timers:\n    holdTimeSeconds: {self.hold}\n    keepAliveTimeSeconds: {keepalive}\n"
                "    connectRetryTimeSeconds: 1\n"))

    @contextlib.contextmanager
    def running(self) -> Iterator["RebelLab"]:
        self.prepare()
        with Lab(TOPOLOGY) as lab:
            self.lab = lab
            try:
                lab.mount_bpffs()
                for name in BACKENDS:
                    lab.popen(name, [sys.executable, "-c", BACKEND, name])
                timers = {} if self.bfd else {"hold": self.hold, "keepalive": max(1, self.hold // 3)}
                self.router = FrrRouter(f"{lab.prefix}r", lab.ns("router"), FrrConfig(
                    asn=ASN, router_id=TOPOLOGY.router_ip, bfd_profile=FrrBfdProfile() if self.bfd else None,
                    connect_retry=1, **timers,
                    neighbors=tuple(FrrNeighbor(TOPOLOGY.node(n).ip, ASN, bfd=self.bfd, description=n) for n in T1)))
                self.router.start()
                self.applied = {node: self.apply(node) for node in T2 + T1}
                self.wait_for_nexthops(len(T1))
                yield self
            finally:
                for node in T1 + T2:
                    with contextlib.suppress(Exception):
                        self.cli(node, "reset", "--node", node, "--state-dir", str(lab.state_dir(node)),
                                 "--bpf-root", str(lab.bpf_root), check=False)
                if self.router is not None:
                    with contextlib.suppress(Exception):
                        self.router.stop()


# A client request loop for the failover benches: one new TLS connection per request (0.5 s
# timeout) for `seconds`, printing [[start, end, ok], ...] as JSON.
# argv: CA file, Host, VIP, "user:password", seconds.
TLS_REQUEST_LOOP = r"""
import base64, json, socket, ssl, sys, time
ca, host, vip, auth, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
req = ("GET / HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n"
       % (host, base64.b64encode(auth.encode()).decode())).encode()
out, end = [], time.time() + seconds
while time.time() < end:
    t = time.time()
    try:
        with socket.create_connection((vip, 443), timeout=0.5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                s.sendall(req)
                ok = s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    out.append((t, time.time(), ok))
print(json.dumps(out))
"""
