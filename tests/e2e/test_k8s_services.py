"""Kubernetes Services as sources of backends and VIPs, end to end as a user runs it: a
namespace lab (one T1 node, one T2 node, three backends, a router and a client), a manifest
set with EndpointSlices and Endpoints as `kubectl get -o yaml` prints them, `cilium-lb apply`
in each node's namespace, and curl from the client through tier 1 (eBPF dispatch) and tier 2
(HAProxy) to the backends the Services' endpoints name.

- A K8sService LBBackendPool: the LBService reaches only the ready endpoints of the slice
  (be-c, listed as not ready, runs a server too and never answers).
- Three LoadBalancer Services sharing 100.64.0.120 through `lbipam.cilium.io/sharing-key`:
  every port is served, each by its own Service's endpoints (from an EndpointSlice, or from
  v1 Endpoints); the one with `sessionAffinity: ClientIP` keeps the client on one endpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lbcli.lab import Lab
from lbcli.lab.topology import LabNode, Topology

pytestmark = [pytest.mark.netns, pytest.mark.daemons]

ECHO_VIP, SHARED_VIP = "100.64.0.110", "100.64.0.120"
T1, T2 = "t1-a", "t2-a"
BACKENDS = {"be-a": "192.168.121.101", "be-b": "192.168.121.102", "be-c": "192.168.121.103"}
TOPOLOGY = Topology(
    nodes=(LabNode(T1, "192.168.121.11", ("t1",)), LabNode(T2, "192.168.121.21", ("t2",))),
    backends=tuple(LabNode(n, ip) for n, ip in BACKENDS.items()),
    vips=(ECHO_VIP, SHARED_VIP),
)

SERVER = r"""
import http.server, sys, threading
name, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        port = self.server.server_address[1]
        body = b"ok\n" if self.path == "/health" else ("%s:%d\n" % (name, port)).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
servers = [http.server.ThreadingHTTPServer(("0.0.0.0", p), H) for p in ports]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""


def _node(name: str, ip: str, tier: str) -> str:
    return f"""---
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{service.cilium.io/node: {tier}}}
status:
  addresses: [{{type: InternalIP, address: {ip}}}]
"""


MANIFESTS = _node(T1, "192.168.121.11", "t1") + _node(T2, "192.168.121.21", "t2") + f"""---
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {{name: lab}}
spec:
  blocks: [{{cidr: 100.64.0.0/24}}]
---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{namespace: default, name: echo}}
spec: {{ipv4Request: "{ECHO_VIP}"}}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {{namespace: default, name: echo}}
spec:
  vipRef: {{name: echo}}
  port: 80
  applications:
    httpProxy:
      routes:
        - backendRef: {{name: echo}}
---
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {{namespace: default, name: echo}}
spec:
  backendType: K8sService
  healthCheck:
    intervalSeconds: 1
    timeoutSeconds: 1
    http: {{path: /health}}
  backends:
    - k8sServiceRef: {{name: echo}}
      port: 80
---
apiVersion: v1
kind: Service
metadata: {{namespace: default, name: echo}}
spec:
  type: ClusterIP
  selector: {{app: echo}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  namespace: default
  name: echo-4xk2l
  labels: {{kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{{name: http, port: 8080, protocol: TCP}}]
endpoints:
  - addresses: ["{BACKENDS['be-a']}"]
    conditions: {{ready: true, serving: true, terminating: false}}
  - addresses: ["{BACKENDS['be-b']}"]
    conditions: {{ready: true}}
  - addresses: ["{BACKENDS['be-c']}"]
    conditions: {{ready: false, serving: false, terminating: false}}
---
apiVersion: v1
kind: Service
metadata:
  namespace: default
  name: web
  annotations:
    lbipam.cilium.io/ips: "{SHARED_VIP}"
    lbipam.cilium.io/sharing-key: shop
spec:
  type: LoadBalancer
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  namespace: default
  name: web-p2x9d
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
  - addresses: ["{BACKENDS['be-c']}"]
---
apiVersion: v1
kind: Service
metadata:
  namespace: default
  name: api
  annotations:
    lbipam.cilium.io/ips: "{SHARED_VIP}"
    lbipam.cilium.io/sharing-key: shop
spec:
  type: LoadBalancer
  ports: [{{port: 8443, targetPort: 9443}}]
---
apiVersion: v1
kind: Service
metadata:
  namespace: default
  name: sticky
  annotations:
    lbipam.cilium.io/ips: "{SHARED_VIP}"
    lbipam.cilium.io/sharing-key: shop
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  sessionAffinityConfig: {{clientIP: {{timeoutSeconds: 10800}}}}
  ports: [{{name: http, port: 9000, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  namespace: default
  name: sticky-8cj2q
  labels: {{kubernetes.io/service-name: sticky}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
  - addresses: ["{BACKENDS['be-a']}", "{BACKENDS['be-b']}"]
---
apiVersion: v1
kind: Endpoints
metadata: {{namespace: default, name: api}}
subsets:
  - addresses: [{{ip: {BACKENDS['be-b']}}}]
    ports: [{{port: 9443}}]
"""


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, BPF, daemons")
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"needs {t}")


def _cli(lab: Lab, node: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return lab.run_in(node, [sys.executable, "-m", "lbcli", "--color", "never", *args], check=check)


def _apply(lab: Lab, manifests: Path, node: str) -> dict:
    p = _cli(lab, node, "apply", str(manifests), "--node", node, "--state-dir", str(lab.state_dir(node)),
             "--bpf-root", str(lab.bpf_root), "-o", "json", check=False)
    assert p.returncode == 0, f"apply on {node} failed:\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout)


def _get(lab: Lab, url: str) -> str:
    p = lab.run_in("client", ["curl", "-sS", "--max-time", "5", url], check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.fixture(scope="module")
def k8s_lab(tmp_path_factory):
    _need("curl", "haproxy", "clang")
    work = tmp_path_factory.mktemp("k8s")
    manifests = work / "manifests"
    manifests.mkdir()
    (manifests / "set.yaml").write_text(MANIFESTS)
    with Lab(TOPOLOGY) as lab:
        try:
            lab.mount_bpffs()
            ports = {"be-a": ["8080"], "be-b": ["8080", "9443"], "be-c": ["8080"]}
            for name in BACKENDS:
                lab.popen(name, [sys.executable, "-c", SERVER, name, *ports[name]])
            applied = {node: _apply(lab, manifests, node) for node in (T2, T1)}
            yield lab, manifests, applied
        finally:
            for node in (T1, T2):
                with contextlib.suppress(Exception):
                    _cli(lab, node, "reset", "--node", node, "--state-dir", str(lab.state_dir(node)),
                         "--bpf-root", str(lab.bpf_root), check=False)


def _wait_up(lab: Lab, url: str, tries: int = 50) -> None:
    import time

    for _ in range(tries):  # health checks mark the servers up within a few seconds
        p = lab.run_in("client", ["curl", "-s", "--max-time", "2", url], check=False)
        if p.returncode == 0 and p.stdout.startswith("be-"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered from a backend")


def test_k8s_service_pool_serves_ready_endpoints(k8s_lab):
    lab, manifests, applied = k8s_lab
    for node, res in applied.items():
        assert res["ok"], (node, res)
    _wait_up(lab, f"http://{ECHO_VIP}/")
    got = Counter(_get(lab, f"http://{ECHO_VIP}/") for _ in range(12))
    # the two ready endpoints on the slice's port, round robin; be-c is not ready: never used
    assert set(got) == {"be-a:8080", "be-b:8080"}, got
    assert min(got.values()) >= 4, got
    # a second apply changes nothing: the endpoints were resolved into the plan
    again = _apply(lab, manifests, T2)
    assert again["ok"] and again["changes"] == 0, again


def test_shared_key_services_serve_both_ports(k8s_lab):
    lab, _, _ = k8s_lab
    _wait_up(lab, f"http://{SHARED_VIP}:80/")
    # web: EndpointSlice, targetPort 8080 -> be-c (a ready endpoint here)
    assert {_get(lab, f"http://{SHARED_VIP}:80/") for _ in range(4)} == {"be-c:8080"}
    # api: v1 Endpoints (no slice), port 8443 -> 9443 on be-b
    assert {_get(lab, f"http://{SHARED_VIP}:8443/") for _ in range(4)} == {"be-b:9443"}


def test_client_ip_affinity_keeps_a_client_on_one_endpoint(k8s_lab):
    lab, _, _ = k8s_lab
    _wait_up(lab, f"http://{SHARED_VIP}:9000/")
    # two ready endpoints; round robin would alternate, the client-address hash does not
    got = Counter(_get(lab, f"http://{SHARED_VIP}:9000/") for _ in range(8))
    assert len(got) == 1 and next(iter(got)) in ("be-a:8080", "be-b:8080"), got
