/* Maps for programs that write the outer Ethernet/IPv4/UDP/VXLAN headers themselves (the XDP
 * program; the tc program's fast path): what the kernel's VXLAN device and neighbour table
 * otherwise supply. Mirrored in lbcli/agent/datapath/layout.py (XCFG, NH). */
#pragma once
#include "lb_defs.h"

/* Global counter slot for frames passed to the stack because the next hop towards their T2 has
 * no resolved MAC yet (the tc program, attached as well, then carries them). */
#define LB_STAT_XDP_NO_NEIGH 7

struct lb_xcfg {
	__be32 saddr;  /* outer source: the node's internalIP on the uplink */
	__be16 dport;  /* VXLAN UDP port (network order) */
	__u8 mac[6];   /* the uplink's MAC (outer source) */
	__u32 ifindex; /* the uplink (XDP_TX leaves there) */
};

/* Next hop towards a T2 node (key: T2 IPv4, network order): the MAC the outer frame goes to. */
struct lb_nh {
	__u8 mac[6];
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_xcfg);
} lb_xcfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_T2);
	__type(key, __be32);
	__type(value, struct lb_nh);
} lb_nh SEC(".maps");
