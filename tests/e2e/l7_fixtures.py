"""Fixtures for the tier-2 (HAProxy) end-to-end tests: a network namespace the test thread
enters, Python HTTP(S) backends and a DNS responder inside it, plans and secrets.

Everything lives in namespaces these helpers create (names start with `l7t`), on addresses
of that namespace's own loopback; nothing touches the root namespace's links or routes.
"""

from __future__ import annotations

import contextlib
import ctypes
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


def pool(name: str, backends: list[tuple[str, int, int]], **kw) -> dict:
    d = {
        "name": name, "backendType": "IP", "algorithm": "roundRobin",
        "backends": [{"address": a, "port": p, "weight": w, "status": "Active"} for a, p, w in backends],
        "tableSize": None, "healthCheck": None, "resolvers": [], "connectTimeoutSeconds": 5,
    }  # fmt: skip
    d.update(kw)
    return d


def listener(service: str, port: int, type_: str, routes: list[dict], tls: dict | None = None, auth: dict | None = None) -> dict:
    return {"service": service, "vip": VIP, "port": port, "protocol": "TCP", "type": type_,
            "proxyProtocol": None, "tls": tls, "auth": auth, "routes": routes}  # fmt: skip


def route(hosts: list[str], pool_name: str, persistence: dict | None = None, path: dict | None = None) -> dict:
    return {"hostNames": hosts, "path": path, "backendPool": pool_name, "persistence": persistence}


def plan(node: str, listeners: list[dict], pools: list[dict]) -> dict:
    """Compile's plan for lab node `node` (t2-a) with these listeners and pools in its tier2
    section (tests/plankit.py): what the L7 reconciler reads through the plan types."""
    from tests.plankit import plan_with

    return plan_with(node, tier2={"vips": [VIP], "listeners": listeners, "backendPools": pools})


def health_check(interval: float = 0.5, fall: int = 2, rise: int = 1) -> dict:
    return {"intervalSeconds": interval, "timeoutSeconds": interval, "healthyThreshold": rise,
            "unhealthyThreshold": fall, "http": {"path": "/health", "method": "GET", "host": None,
            "expectedStatusCodes": [200]}, "tcp": False}  # fmt: skip
