"""Sysctls as files under /proc/sys, keyed the way `sysctl` names them ("net.ipv4.conf.all.rp_filter").

A device name may hold dots ("eth0.100"), so in `net.ipv{4,6}.conf.<dev>.<leaf>` and
`net.ipv{4,6}.neigh.<dev>.<leaf>` everything between the third dot and the last is the device.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path("/proc/sys")
_PER_DEVICE = ("net.ipv4.conf.", "net.ipv6.conf.", "net.ipv4.neigh.", "net.ipv6.neigh.")


def conf_key(dev: str, leaf: str, family: str = "ipv4") -> str:
    return f"net.{family}.conf.{dev}.{leaf}"


def path_of(key: str) -> Path:
    """The /proc/sys file of `key`; ValueError for a key that would leave /proc/sys."""
    if key.startswith(_PER_DEVICE):
        head, rest = key[:key.index(".", 9) + 1], key[key.index(".", 9) + 1:]
        dev, _, leaf = rest.rpartition(".")
        parts = head.rstrip(".").split(".") + [dev, leaf]
    else:
        parts = key.split(".")
    if any(p in ("", ".", "..") or "/" in p or "\0" in p for p in parts):
        raise ValueError(f"not a sysctl name: {key!r}")
    return ROOT.joinpath(*parts)


def read(key: str) -> str | None:
    """The value of `key`, or None when it does not exist (e.g. a device that is gone)."""
    try:
        return path_of(key).read_text().strip()
    except (OSError, ValueError):
        return None


def write(key: str, value: str) -> None:
    with open(path_of(key), "w") as f:
        f.write(value)
