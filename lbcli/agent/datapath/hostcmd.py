"""Running iproute2 (`ip`, `tc`) in the current network namespace, with errors as exceptions."""

from __future__ import annotations

import json
import subprocess
from typing import Any


class HostCommandError(RuntimeError):
    pass


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError as exc:
        raise HostCommandError(f"{argv[0]} not found (install iproute2)") from exc
    if check and proc.returncode != 0:
        raise HostCommandError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def run_json(argv: list[str]) -> Any:
    proc = run(argv, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    return json.loads(proc.stdout)


def link(name: str) -> dict | None:
    """`ip -d -j link show NAME` as a dict, or None when the link does not exist."""
    out = run_json(["ip", "-d", "-j", "link", "show", "dev", name])
    return out[0] if out else None


def links() -> list[dict]:
    return run_json(["ip", "-d", "-j", "link", "show"])


def link_by_address(ipv4: str) -> str | None:
    """Name of the link that holds `ipv4` (the node's uplink)."""
    for entry in run_json(["ip", "-j", "-4", "addr", "show"]):
        for a in entry.get("addr_info", []):
            if a.get("local") == ipv4:
                return entry["ifname"]
    return None


def addresses(dev: str) -> list[str]:
    """IPv4 addresses on `dev` as 'a.b.c.d/len'."""
    out = []
    for entry in run_json(["ip", "-j", "-4", "addr", "show", "dev", dev]):
        for a in entry.get("addr_info", []):
            out.append(f"{a['local']}/{a['prefixlen']}")
    return sorted(out)


def link_kind_supported(kind: str, args: list[str]) -> tuple[bool, str]:
    """Whether the kernel can create a `kind` link: probe by creating and deleting a throwaway
    link (the kernel has no read-only query for link kinds). Leaves nothing behind."""
    import os

    name = f"lbprb{os.getpid() % 100000}"
    proc = run(["ip", "link", "add", name, "type", kind, *args], check=False)
    if proc.returncode == 0:
        run(["ip", "link", "del", name], check=False)
        return True, ""
    return False, proc.stderr.strip()


def vxlan_info(dev: dict | None) -> dict | None:
    """The vxlan part of a link dict: external, port, vni; None if not a vxlan link."""
    if not dev:
        return None
    info = dev.get("linkinfo", {})
    if info.get("info_kind") != "vxlan":
        return None
    data = info.get("info_data", {})
    return {"external": bool(data.get("external", False)), "port": data.get("port"),
            "learning": bool(data.get("learning", False))}


def read_sysctl(path: str) -> str | None:
    try:
        with open("/proc/sys/" + path.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return None


def write_sysctl(path: str, value: str) -> None:
    with open("/proc/sys/" + path.replace(".", "/"), "w") as f:
        f.write(value)
