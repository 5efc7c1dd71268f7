"""Python mirrors of the structs in bpf/lb_maps.h (one `struct` format per C struct).

Every field is listed with its C name so tests/test_datapath_layout.py can compare sizes and
offsets with the BTF of the compiled object. Formats use '<' (little endian, no padding):
padding is spelled out as explicit fields, as in the C structs. Network-byte-order fields
(addresses, ports) are packed as raw bytes ('4s', '2s'), exactly as they sit on the wire.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    c_name: str
    fields: tuple[tuple[str, str], ...]  # (C member name, struct format of that member)

    def __post_init__(self) -> None:  # compiled once: packing sits on the hot path of observe
        object.__setattr__(self, "_struct", struct.Struct("<" + "".join(f for _, f in self.fields)))

    @property
    def fmt(self) -> str:
        return self._struct.format

    @property
    def size(self) -> int:
        return self._struct.size

    def offsets(self) -> dict[str, int]:
        out, off = {}, 0
        for name, f in self.fields:
            out[name] = off
            off += struct.calcsize("<" + f)
        return out

    def pack(self, *values: object) -> bytes:
        return self._struct.pack(*values)

    def unpack(self, raw: bytes) -> tuple:
        return self._struct.unpack(raw)

    def iter_unpack(self, raw: bytes):
        """Each struct of a packed array, in order."""
        return self._struct.iter_unpack(raw)


SVC_KEY = Layout("lb_svc_key", (("vip", "4s"), ("port", "2s"), ("proto", "B"), ("pad", "B")))
SVC = Layout("lb_svc", (("table", "I"), ("id", "I"), ("flags", "I"), ("pad", "I")))
TSTATE = Layout("lb_tstate", (("active", "I"), ("size", "I")))
TMETA = Layout("lb_tmeta", (("digest", "16s"), ("size", "I"), ("check", "I")))
T2 = Layout("lb_t2", (("mac", "6s"), ("pad", "H")))
FLOW_KEY = Layout(
    "lb_flow_key",
    (("saddr", "4s"), ("daddr", "4s"), ("sport", "2s"), ("dport", "2s"), ("proto", "B"), ("pad", "3s")),
)
FLOW = Layout("lb_flow", (("t2", "4s"), ("mac", "6s"), ("pad", "H")))
COUNTER = Layout("lb_counter", (("packets", "Q"), ("bytes", "Q")))
CFG = Layout(
    "lb_cfg",
    (("tun_ifindex", "I"), ("vni", "I"), ("hash_seed", "I"), ("src_mac", "6s"), ("pad", "H")),
)

# t1-only services (bpf/lb_t1only.h)
BE = Layout("lb_be", (("addr", "4s"), ("port", "2s"), ("pad", "H")))
NAT = Layout("lb_nat", (("addr", "4s"), ("port", "2s"), ("nport", "2s")))
RNAT_KEY = Layout("lb_rnat_key", (("addr", "4s"), ("port", "2s"), ("nport", "2s"), ("proto", "B"), ("pad", "3s")))
RNAT = Layout("lb_rnat", (("client", "4s"), ("vip", "4s"), ("cport", "2s"), ("vport", "2s"), ("pad", "I"),
                          ("last", "Q")))
NATCFG = Layout("lb_natcfg", (("snat_ip", "4s"), ("port_min", "H"), ("port_count", "H")))

T1ONLY = (BE, NAT, RNAT_KEY, RNAT, NATCFG)  # in the tc object only (XDP refuses t1-only services)
ALL = (SVC_KEY, SVC, TSTATE, TMETA, T2, FLOW_KEY, FLOW, COUNTER, CFG) + T1ONLY

# Maps for the headers the programs write themselves (bpf/lb_xdp_maps.h): the XDP program and
# the tc program's fast path.
XCFG = Layout("lb_xcfg", (("saddr", "4s"), ("dport", "2s"), ("mac", "6s"), ("ifindex", "I")))
NH = Layout("lb_nh", (("mac", "6s"), ("pad", "H")))
XDP_ALL = (XCFG, NH)

# Limits compiled into the object (bpf/lb_maps.h).
MAX_SERVICES = 16384
MAX_TABLES = 4096
MAX_T2 = 4096

# Global counters (enum in lb_maps.h).
GSTATS = ("redirect", "flow_hit", "drop_no_cfg", "drop_no_table", "drop_no_t2", "drop_tunnel")
# t1-only counters (lb_natstats, enum in lb_t1only.h)
NAT_STATS = ("nat_forward", "nat_reply", "drop_no_backend", "drop_nat_ports", "drop_nat_rewrite", "drop_nat_no_cfg")

# lb_svc.flags (bpf/lb_t1only.h)
SVC_F_T1_ONLY = 1 << 0
SVC_F_HASH_SADDR = 1 << 1
MAX_BACKENDS = 65536
# NAT source ports of t1-only flows: below Linux's ephemeral range (32768-60999), so the node's
# own connections never take one; 31744 concurrent flows per backend address:port and T1 node.
NAT_PORT_MIN, NAT_PORT_COUNT = 1024, 31744
XDP_GSTATS = {7: "xdp_pass_no_neigh"}  # LB_STAT_XDP_NO_NEIGH in lb_xdp_maps.h

PROTOCOLS = {"TCP": 6, "UDP": 17}
PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}

# Map names in the object, also their pin file names under <bpf-root>/<node>/.
MAP_NAMES = ("lb_be", "lb_cfg", "lb_flows", "lb_gstats", "lb_maglev", "lb_nat", "lb_natcfg", "lb_natstats", "lb_rnat",
             "lb_stats", "lb_svc", "lb_t2", "lb_tmeta", "lb_tstate")
PROGRAM = "lb_tc_ingress"
ENCAP_MAP_NAMES = ("lb_nh", "lb_xcfg")  # in both objects
T1ONLY_MAP_NAMES = ("lb_be", "lb_nat", "lb_natcfg", "lb_natstats", "lb_rnat")  # tc object only
XDP_MAP_NAMES = tuple(m for m in MAP_NAMES if m not in T1ONLY_MAP_NAMES) + ENCAP_MAP_NAMES
XDP_PROGRAM = "lb_xdp"
