"""How Cilium reads a `cilium-config` value: the one meaning lint (the cilium-config rule) and
compile (pod networking) share.

Cilium reads its ConfigMap through viper and hive's mapstructure decoding with weak typing
(cilium/cilium `pkg/option/config.go`, `pkg/hive` cells): a boolean is Go's
`strconv.ParseBool` (`1 t T TRUE true True`, `0 f F FALSE false False`) and an empty value is
false; an integer is `strconv.ParseInt(s, 0, ...)` (decimal, `0x`/`0o`/`0b` prefixes, a leading
0 for octal, `_` between digits, a zero decimal part trimmed) and an empty value is 0; a float
(`k8s-client-qps`) is `strconv.ParseFloat`.
"""

from __future__ import annotations

import re

# The cilium/cilium sources the option names and values follow (the ConfigMap schema records
# the same in its `data` property's x-upstream).
UPSTREAM = {
    "repo": "cilium/cilium",
    "path": ("install/kubernetes/cilium/templates/cilium-configmap.yaml, pkg/option/config.go, "
             "pkg/loadbalancer/config.go, pkg/datapath/tunnel/tunnel.go, pkg/datapath/xdp/xdp.go, "
             "pkg/kpr/kpr.go"),
    "version": "main 2025 (1.18 era; kube-proxy-replacement a boolean since 1.15)",
}

GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
TUNNEL_PORTS = {"vxlan": 8472, "geneve": 6081}  # Cilium's defaults (tunnel-port 0 or unset)

_ZERO_DECIMAL = re.compile(r"^([+-]?[0-9]+)\.0*$")
_GO_OCTAL = re.compile(r"^[+-]?0[0-7_]+$")
_GO_FLOAT = re.compile(r"^[+-]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)([eE][+-]?\d+)?$")


def go_bool(v: str) -> bool | None:
    """The boolean Cilium reads from `v`, or None when it refuses it."""
    if v == "":
        return False
    return GO_BOOLS.get(v)


def go_int(v: str) -> int | None:
    """The integer Cilium reads from `v`, or None when it refuses it."""
    s = v
    if s == "":
        return 0
    m = _ZERO_DECIMAL.match(s)
    if m:
        s = m.group(1)
    if _GO_OCTAL.match(s):  # Go's base 0 reads a leading 0 as octal (Python refuses it)
        try:
            return int(s.replace("_", ""), 8)
        except ValueError:
            return None
    if "__" in s or s.endswith("_"):
        return None
    try:
        return int(s, 0)
    except ValueError:
        return None


def go_float(v: str) -> float | None:
    if v == "":
        return 0.0
    return float(v.replace("_", "")) if _GO_FLOAT.match(v) else None


def option_bool(opts: dict[str, str], key: str, default: bool) -> bool:
    """The option as Cilium reads it: the default when unset; false when unreadable, as viper's
    GetBool reads it (lint reports it)."""
    if key not in opts:
        return default
    return bool(go_bool(opts[key].strip()))


def tunnel_port(opts: dict[str, str], protocol: str | None) -> int | None:
    """The pod tunnel's UDP port: `tunnel-port`, where 0 (or unset, or unreadable) means the
    protocol's default."""
    got = go_int(opts.get("tunnel-port", "").strip())
    if got and 0 < got <= 65535:
        return got
    return TUNNEL_PORTS.get(protocol or "")
