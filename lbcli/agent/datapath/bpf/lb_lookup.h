/* Where a VIP packet goes: the flow table first, else the service's Maglev table (a new flow
 * entry is then created). Shared by the XDP program (lb_xdp.c); it is the same logic lb_tc.c
 * runs inline, so both programs steer a flow to the same T2 over the same maps. */
#pragma once
#include "lb_defs.h"
#include "lb_maps.h"
#include "lb_jhash.h"

static __always_inline void lb_gstat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lb_gstats, &idx);
	if (v)
		*v += 1;
}

/* Fills *flow and returns 0, or returns the LB_STAT_DROP_* reason (counted by the caller). */
static __always_inline int lb_select(const struct lb_svc *svc, const struct lb_cfg *cfg, __be32 saddr,
				     __be32 daddr, __u32 ports, __u8 proto, struct lb_flow *flow)
{
	struct lb_flow_key fkey = {
		.saddr = saddr,
		.daddr = daddr,
		.sport = (__be16)(ports & 0xffff),
		.dport = (__be16)(ports >> 16),
		.proto = proto,
	};
	struct lb_flow *known = bpf_map_lookup_elem(&lb_flows, &fkey);
	if (known) {
		*flow = *known;
		lb_gstat_inc(LB_STAT_FLOW_HIT);
		return 0;
	}
	__u32 tid = svc->table;
	struct lb_tstate *ts = bpf_map_lookup_elem(&lb_tstate, &tid);
	if (!ts || !ts->size)
		return LB_STAT_DROP_NO_TABLE;
	__u32 buf = 2 * tid + (ts->active & 1);
	void *slots = bpf_map_lookup_elem(&lb_maglev, &buf);
	if (!slots)
		return LB_STAT_DROP_NO_TABLE;
	__u32 h = lb_jhash_3words(saddr, daddr, ports, cfg->hash_seed ^ proto);
	__u32 slot = h % ts->size;
	__u32 pair = slot >> 1;
	__be32 *sp = bpf_map_lookup_elem(slots, &pair);
	if (!sp)
		return LB_STAT_DROP_NO_TABLE;
	__be32 t2 = (slot & 1) ? sp[1] : sp[0];
	struct lb_t2 *node = t2 ? bpf_map_lookup_elem(&lb_t2, &t2) : 0;
	if (!node)
		return LB_STAT_DROP_NO_T2;
	flow->t2 = t2;
	__builtin_memcpy(flow->mac, node->mac, 6);
	flow->pad = 0;
	bpf_map_update_elem(&lb_flows, &fkey, flow, BPF_ANY);
	return 0;
}
