/* Maps and the structs they hold. The Python side mirrors these structs in
 * lbcli/agent/datapath/layout.py; tests/test_datapath_layout.py compares both through BTF. */
#pragma once
#include "lb_defs.h"

#define LB_MAX_SERVICES 16384
#define LB_MAX_TABLES 4096 /* logical Maglev tables; each has two buffers (double-buffer) */
#define LB_MAX_T2 4096
#define LB_MAX_FLOWS 131072

/* Service key: VIP and port in network byte order. */
struct lb_svc_key {
	__be32 vip;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct lb_svc {
	__u32 table; /* logical Maglev table id (index into lb_tstate) */
	__u32 id;    /* counter index into lb_stats */
	__u32 flags;
	__u32 pad;
};

/* Which buffer of a logical table packets use; userspace flips `active` after it has
 * written the standby buffer, so a half-written table is never visible. */
struct lb_tstate {
	__u32 active; /* 0 or 1: buffer index lb_maglev[2 * table + active] */
	__u32 size;   /* Maglev M (prime) */
};

/* Userspace-only bookkeeping: digest of the content both buffers hold (all zero = unknown) and
 * the CRC-32C of that content, which observe checks the live buffers against (was `pad`: 0). */
struct lb_tmeta {
	__u8 digest[16];
	__u32 size;
	__u32 check;
};

struct lb_t2 {
	__u8 mac[6]; /* inner Ethernet destination: the T2 tunnel device's MAC */
	__u16 pad;
};

struct lb_flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* A flow remembers the T2 address itself (not a table index), so it survives T2 set changes. */
struct lb_flow {
	__be32 t2;
	__u8 mac[6];
	__u16 pad;
};

struct lb_counter {
	__u64 packets;
	__u64 bytes;
};

struct lb_cfg {
	__u32 tun_ifindex; /* the external (collect-metadata) tunnel device */
	__u32 vni;
	__u32 hash_seed;
	__u8 src_mac[6];
	__u16 pad;
};

enum {
	LB_STAT_REDIRECT = 0,
	LB_STAT_FLOW_HIT = 1,
	LB_STAT_DROP_NO_CFG = 2,
	LB_STAT_DROP_NO_TABLE = 3,
	LB_STAT_DROP_NO_T2 = 4,
	LB_STAT_DROP_TUNNEL = 5,
	LB_STAT_MAX = 8,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, struct lb_svc_key);
	__type(value, struct lb_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_TABLES);
	__type(key, __u32);
	__type(value, struct lb_tstate);
} lb_tstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_TABLES);
	__type(key, __u32);
	__type(value, struct lb_tmeta);
} lb_tmeta SEC(".maps");

/* Maglev buffers. Array elements are 8-byte aligned, so each element holds two slots and the
 * mmap()ed buffer is a plain array of u32 T2 addresses: slot s is u32 number s. */
struct lb_slots_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* BPF_F_INNER_MAP: inner maps may be of any size */
	__type(key, __u32);
	__type(value, __u64); /* two slots (T2 IPv4, network order) per 8-byte array element */
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2 * LB_MAX_TABLES);
	__type(key, __u32);
	__array(values, struct lb_slots_inner);
} lb_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_T2);
	__type(key, __be32);
	__type(value, struct lb_t2);
} lb_t2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_MAX_FLOWS);
	__type(key, struct lb_flow_key);
	__type(value, struct lb_flow);
} lb_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct lb_counter);
} lb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb_gstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_cfg);
} lb_cfg SEC(".maps");
