"""The tier-1 flow table (lb_flows, an LRU hash): flows pinned to a T2 node that left a
service's table are forgotten, so their next packet is dispatched by the table again (to a
healthy T2). Flows to every other T2 node are left alone: established connections stay put."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from lbcli.agent.datapath import layout as L

MAX_FLOWS = 131072  # LB_MAX_FLOWS in bpf/lb_maps.h

# (vip, port, protocol name, T2 address)
Pinned = tuple[str, int, str, str]


def purge(pin_dir: Path, pinned: set[Pinned]) -> int:
    """Delete the flows of VIP:port/proto pinned to the T2 address, for each entry of `pinned`;
    returns how many were deleted. Nothing loaded: 0."""
    from lbcli.agent.datapath import libbpf as bpf

    if not pinned or not (Path(pin_dir) / "lb_flows").exists():
        return 0
    want = {(socket.inet_aton(v), struct.pack(">H", p), L.PROTOCOLS[proto], socket.inet_aton(t2))
            for v, p, proto, t2 in pinned}
    fd = bpf.obj_get(str(Path(pin_dir) / "lb_flows"))
    try:
        gone = 0
        for key, val in bpf.dump_hash(fd, L.FLOW_KEY.size, L.FLOW.size, MAX_FLOWS):
            _, daddr, _, dport, proto, _ = L.FLOW_KEY.unpack(key)
            t2 = L.FLOW.unpack(val)[0]
            if (daddr, dport, proto, t2) in want:
                gone += bpf.delete(fd, key)
        return gone
    finally:
        os.close(fd)


def count(pin_dir: Path) -> dict[str, int]:
    """T2 address -> flows pinned to it (for tests and benchmarks)."""
    from lbcli.agent.datapath import libbpf as bpf

    if not (Path(pin_dir) / "lb_flows").exists():
        return {}
    fd = bpf.obj_get(str(Path(pin_dir) / "lb_flows"))
    try:
        out: dict[str, int] = {}
        for _, val in bpf.dump_hash(fd, L.FLOW_KEY.size, L.FLOW.size, MAX_FLOWS):
            ip = socket.inet_ntoa(L.FLOW.unpack(val)[0])
            out[ip] = out.get(ip, 0) + 1
        return out
    finally:
        os.close(fd)
