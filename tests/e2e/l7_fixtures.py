"""Fixtures for the tier-2 (HAProxy) end-to-end tests: a network namespace the test thread
enters, Python HTTP(S) backends and a DNS responder inside it, plans and secrets.

Everything lives in namespaces these helpers create (names start with `l7t`), on addresses
of that namespace's own loopback; nothing touches the root namespace's links or routes.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import http.client
import os
import secrets as pysecrets
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

CLONE_NEWNET = 0x40000000
VIP = "100.64.0.101"
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


@contextlib.contextmanager
def entered_netns(prefix: str = "l7t") -> Iterator[str]:
    """Create a namespace, move the calling thread into it (children inherit it), bring `lo`
    up with the VIP on it as on a T2 node; restore and delete on exit, also on failure."""
    name = f"{prefix}-{os.getpid()}-{pysecrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            subprocess.run(["ip", "addr", "add", f"{VIP}/32", "dev", "lo"], check=True)
            yield name
        finally:
            _setns(own)
    finally:
        os.close(own)
        subprocess.run(["ip", "netns", "del", name], check=False)


BACKEND_SCRIPT = r"""
import http.server, json, os, ssl, sys
name, addr, port, down_file, cert = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _answer(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b)
    def do_GET(self):
        if self.path == "/health":
            return self._answer(503 if os.path.exists(down_file) else 200, "health\n")
        if self.path.endswith("/xff"):  # what the proxy says about the client
            return self._answer(200, ",".join(self.headers.get_all("X-Forwarded-For") or ["-"]) + "\n")
        self._answer(200, name + "\n")
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
s = S((addr, port), H)
if cert != "-":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert)
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("ready", flush=True)
s.serve_forever()
"""


@dataclass
class Backend:
    name: str
    addr: str
    port: int
    workdir: Path
    cert_file: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def down_file(self) -> Path:
        return self.workdir / f"{self.name}.down"

    def set_healthy(self, healthy: bool) -> None:
        if healthy:
            self.down_file.unlink(missing_ok=True)
        else:
            self.down_file.touch()


@contextlib.contextmanager
def backends(workdir: Path, specs: list[tuple[str, str, int]], cert_pem: bytes | None = None) -> Iterator[list[Backend]]:
    """Start one Python HTTP(S) server per (name, addr, port) in the current namespace."""
    out: list[Backend] = []
    cert_file = None
    if cert_pem is not None:
        cert_file = workdir / "backend-cert.pem"
        fd = os.open(cert_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, cert_pem)
        os.close(fd)
    try:
        for name, addr, port in specs:
            b = Backend(name, addr, port, workdir, cert_file)
            b.proc = subprocess.Popen(
                [sys.executable, "-c", BACKEND_SCRIPT, name, addr, str(port), str(b.down_file), str(cert_file or "-")],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            assert b.proc.stdout is not None and b.proc.stdout.readline().strip() == "ready", f"backend {name} failed"
            out.append(b)
        yield out
    finally:
        for b in out:
            if b.proc is not None:
                b.proc.terminate()
                try:
                    b.proc.wait(5)
                except subprocess.TimeoutExpired:
                    b.proc.kill()


@contextlib.contextmanager
def dns_responder(workdir: Path, listen: str, records: dict[str, str]) -> Iterator[None]:
    """dnsmasq answering A records from `records` (name -> IPv4), nothing else."""
    args = [
        "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
        f"--listen-address={listen}", "--bind-interfaces", "--port=53", "--user=root",
        f"--pid-file={workdir / 'dnsmasq.pid'}", "--cache-size=0", "--local-ttl=1",
    ] + [f"--host-record={n},{ip}" for n, ip in sorted(records.items())]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _udp_port_bound(listen, 53) or proc.poll() is not None, 5)
        assert proc.poll() is None, f"dnsmasq exited: {proc.stderr.read() if proc.stderr else ''}"
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _udp_port_bound(addr: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((addr, port))
        except OSError:
            return True
    return False


def wait_for(cond, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return bool(cond())


def https_get(
    host: str, path: str = "/", *, ca_file: Path, port: int = 443, headers: dict | None = None, addr: str = VIP,
    timeout: float = 5.0,
) -> tuple[int, str]:
    """One request on a new TLS connection to addr with SNI `host`, verifying the chain."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    conn = http.client.HTTPSConnection(addr, port, context=ctx, timeout=timeout)
    # SNI and certificate name come from the host name, the TCP connection goes to addr
    conn._create_connection = lambda *_a, **_k: socket.create_connection((addr, port), timeout)  # type: ignore[attr-defined]
    conn.host = host
    try:
        conn.request("GET", path, headers=dict({"Host": host}, **(headers or {})))
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def http_get(host: str, path: str = "/", *, port: int = 80, addr: str = VIP, timeout: float = 5.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection(addr, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


# ------------------------------------------------------------------ plans, compiled from manifests
# Each test writes its tier-2 scenario as the LBServices, LBBackendPools and Secrets a user
# would write; `compile_l7` adds the lab's Nodes, IP pool and the LBVIP for VIP
# (lbcli/lab/plans.py), lints the set (an error fails the test) and compiles it, so the
# haproxy.cfg a test exercises is the one `cilium-lb compile` makes for lab node t2-a.

NS = "default"
_API = "isovalent.com/v1alpha1"


@functools.lru_cache(maxsize=None)
def _lab_base() -> tuple[list[dict], str]:
    """The lab's Nodes, cilium-config, IP pool and LBVIP for VIP (without the lab's own
    service), and the LBVIP's name for vipRef."""
    from lbcli.lab.plans import LabService, manifests
    from lbcli.lab.topology import DEFAULT

    docs = [d for d in manifests(DEFAULT, [LabService(f"{NS}/lab", VIP, 1)])
            if d["kind"] not in ("LBService", "LBBackendPool")]
    (vip,) = [d for d in docs if d["kind"] == "LBVIP"]
    return docs, vip["metadata"]["name"]


def lb_service(name: str, port: int, app_type: str, app: dict) -> dict:
    """An LBService on the lab VIP with one application `app_type` (its body as in the schema)."""
    return {"apiVersion": _API, "kind": "LBService", "metadata": {"namespace": NS, "name": name},
            "spec": {"vipRef": {"name": _lab_base()[1]}, "port": port, "applications": {app_type: app}}}


def backend_pool(name: str, backends: list[tuple[str, int, int]], **spec) -> dict:
    """An LBBackendPool of IP backends (address, port, weight); `spec` adds or overrides keys
    (healthCheck, loadbalancing, tlsConfig, backendType, ...). The schema requires a health
    check: GET /health every second unless `spec` says otherwise."""
    body = {"backendType": "IP", "backends": [{"ip": a, "port": p, "weight": w} for a, p, w in backends],
            "healthCheck": health_check()}
    body.update(spec)
    return {"apiVersion": _API, "kind": "LBBackendPool", "metadata": {"namespace": NS, "name": name}, "spec": body}


def secret(name: str, data: dict[str, bytes], type_: str = "Opaque") -> dict:
    import base64

    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": NS, "name": name}, "type": type_,
            "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())}}


def tls_secret(name: str, leaf) -> dict:
    return secret(name, {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem}, "kubernetes.io/tls")


def health_check(interval: int = 1, fall: int = 2, rise: int = 1, http: bool = True) -> dict:
    """An LBBackendPool healthCheck: GET /health (or TCP). Seconds are whole in the schema,
    so 1 s is the fastest check a manifest can ask for."""
    hc: dict = {"intervalSeconds": interval, "timeoutSeconds": interval, "healthyThreshold": rise,
                "unhealthyThreshold": fall}
    hc.update({"http": {"path": "/health"}} if http else {"tcp": {}})
    return hc


def compile_l7(docs: list[dict], node: str = "t2-a") -> tuple[dict, dict]:
    """(plan JSON, secret material by ref) that compile makes for lab node `node` from the
    lab base plus `docs`; lint errors raise with the findings and the set."""
    import yaml

    from lbcli.compile.plan import compile_plans
    from lbcli.lint.engine import lint
    from lbcli.lint.problem import Severity
    from lbcli.manifest.loader import LoadResult, load_text

    text = yaml.safe_dump_all(copy.deepcopy(_lab_base()[0]) + docs, sort_keys=False)
    loaded = LoadResult()
    loaded.files.append("l7.yaml")
    loaded.texts["l7.yaml"] = text
    load_text("l7.yaml", text, loaded)
    report = lint(loaded)
    errors = [f"{p.line}:{p.column} {p.rule} {p.message}" for p in report.problems if p.severity >= Severity.ERROR]
    if errors:
        raise ValueError("the L7 test's manifest set has errors:\n" + "\n".join(errors))
    compiled = compile_plans(report.index)
    if compiled.conditions:
        raise ValueError(f"compile conditions: {compiled.conditions}")
    return compiled.plans[node].to_json(), compiled.secrets.get(node, {})
