/* t1-only services: tier 1 dispatches straight to the backends with tier-1 NAT.
 *
 * A service whose lb_svc.flags has LB_SVC_F_T1_ONLY reads its Maglev table as backend ids
 * (lb_be: id -> address and port) instead of T2 addresses. The first packet of a flow picks a
 * backend (same hash and seed as the T2 path, so every T1 picks the same one) and a source port
 * from the node's NAT range; the packet leaves with source = this node (lb_natcfg.snat_ip) and
 * destination = the backend, so the backend answers to this node whatever its routes are. The
 * reply is matched in lb_rnat (backend, its port, our NAT port, protocol), rewritten back to
 * VIP:port -> client and sent on by the kernel's FIB and neighbour tables (bpf_redirect_neigh).
 *
 * Why NAT and not DSR: see docs/t1-only.md (backends need no VIP, no ARP tuning and may listen
 * on another port; the client address is not kept).
 *
 * Flows live in two LRU maps (lb_nat forward, lb_rnat reverse). A NAT port is taken with
 * BPF_NOEXIST; a port held by another flow idle longer than LB_NAT_IDLE_NS is taken over (its
 * forward entry is deleted with it), so ended flows never exhaust the range. */
#pragma once
#include "lb_defs.h"
#include "lb_maps.h"
#include "lb_jhash.h"

#define LB_SVC_F_T1_ONLY (1U << 0)  /* table holds backend ids; NAT to the backends */
#define LB_SVC_F_HASH_SADDR (1U << 1) /* persistence on the source IP: the hash leaves out ports */
#define LB_MAX_BACKENDS 65536
#define LB_MAX_NAT 262144
#define LB_NAT_TRIES 8
#define LB_NAT_IDLE_NS (120ULL * 1000000000ULL)

struct lb_be {
	__be32 addr;
	__be16 port;
	__u16 pad;
};

/* forward: the client's flow (lb_flow_key) -> where it was sent */
struct lb_nat {
	__be32 addr;  /* backend */
	__be16 port;  /* backend port */
	__be16 nport; /* our NAT source port */
};

struct lb_rnat_key {
	__be32 addr;  /* backend (source of the reply) */
	__be16 port;  /* backend port */
	__be16 nport; /* our NAT port (destination of the reply) */
	__u8 proto;
	__u8 pad[3];
};

struct lb_rnat {
	__be32 client;
	__be32 vip;
	__be16 cport;
	__be16 vport;
	__u32 pad;
	__u64 last; /* bpf_ktime_get_ns() of the last packet either way */
};

/* counters of this path (lb_natstats), beside lb_gstats so its layout stays as it was */
enum {
	LB_NSTAT_FORWARD = 0,
	LB_NSTAT_REPLY = 1,
	LB_NSTAT_DROP_NO_BACKEND = 2,
	LB_NSTAT_DROP_PORTS = 3,
	LB_NSTAT_DROP_REWRITE = 4,
	LB_NSTAT_DROP_NO_CFG = 5,
	LB_NSTAT_MAX = 8,
};

struct lb_natcfg {
	__be32 snat_ip;   /* this node's address on the uplink */
	__u16 port_min;   /* NAT source ports [port_min, port_min + port_count), host order */
	__u16 port_count;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_be);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb_be SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_MAX_NAT);
	__type(key, struct lb_flow_key);
	__type(value, struct lb_nat);
} lb_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_MAX_NAT);
	__type(key, struct lb_rnat_key);
	__type(value, struct lb_rnat);
} lb_rnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_natcfg);
} lb_natcfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_NSTAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb_natstats SEC(".maps");

static __always_inline void lb_t1_gstat(__u32 idx) /* lb_gstats: what the T2 path counts too */
{
	__u64 *v = bpf_map_lookup_elem(&lb_gstats, &idx);
	if (v)
		*v += 1;
}

static __always_inline void lb_nstat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lb_natstats, &idx);
	if (v)
		*v += 1;
}

/* Rewrite addresses and ports of an IPv4 TCP/UDP packet at l4off, checksums included. */
static __always_inline int lb_nat_rewrite(struct __sk_buff *skb, __u32 l4off, __u8 proto,
					  __be32 osrc, __be32 nsrc, __be32 odst, __be32 ndst,
					  __be16 osport, __be16 nsport, __be16 odport, __be16 ndport)
{
	__u32 csum = l4off + (proto == IPPROTO_TCP ? 16 : 6);
	__u64 m0 = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (bpf_l4_csum_replace(skb, csum, osrc, nsrc, BPF_F_PSEUDO_HDR | m0 | 4) ||
	    bpf_l4_csum_replace(skb, csum, odst, ndst, BPF_F_PSEUDO_HDR | m0 | 4) ||
	    bpf_l4_csum_replace(skb, csum, osport, nsport, m0 | 2) ||
	    bpf_l4_csum_replace(skb, csum, odport, ndport, m0 | 2) ||
	    bpf_l3_csum_replace(skb, LB_IP_CSUM_OFF, osrc, nsrc, 4) ||
	    bpf_l3_csum_replace(skb, LB_IP_CSUM_OFF, odst, ndst, 4) ||
	    bpf_skb_store_bytes(skb, LB_IP_SADDR_OFF, &nsrc, 4, 0) ||
	    bpf_skb_store_bytes(skb, LB_IP_DADDR_OFF, &ndst, 4, 0) ||
	    bpf_skb_store_bytes(skb, l4off, &nsport, 2, 0) ||
	    bpf_skb_store_bytes(skb, l4off + 2, &ndport, 2, 0))
		return -1;
	return 0;
}

/* A NAT port for a new flow to `be`; 0 when the range is full of live flows. */
static __always_inline __be16 lb_nat_port(struct lb_natcfg *nc, struct lb_rnat_key *rk, struct lb_rnat *rv,
					  __u32 h, __u64 now)
{
	if (!nc->port_count)
		return 0;
#pragma unroll
	for (int i = 0; i < LB_NAT_TRIES; i++) {
		rk->nport = bpf_htons((__u16)(nc->port_min + (h + i * 7919U) % nc->port_count));
		if (bpf_map_update_elem(&lb_rnat, rk, rv, BPF_NOEXIST) == 0)
			return rk->nport;
		struct lb_rnat *old = bpf_map_lookup_elem(&lb_rnat, rk);
		if (!old)
			continue;
		int same = old->client == rv->client && old->cport == rv->cport && old->vip == rv->vip &&
			   old->vport == rv->vport;
		if (!same && now - old->last < LB_NAT_IDLE_NS)
			continue;
		if (!same) { /* take over an idle flow's port: its forward entry goes with it */
			struct lb_flow_key gone = {.saddr = old->client, .daddr = old->vip, .sport = old->cport,
						   .dport = old->vport, .proto = rk->proto};
			bpf_map_delete_elem(&lb_nat, &gone);
		}
		bpf_map_update_elem(&lb_rnat, rk, rv, BPF_ANY);
		return rk->nport;
	}
	return 0;
}

/* Client -> VIP:port of a t1-only service. `ports` as read from the wire (sport | dport << 16). */
static __always_inline int lb_t1only_forward(struct __sk_buff *skb, struct lb_svc *svc, struct iphdr *ip,
					     __u32 ports)
{
	__u32 zero = 0;
	struct lb_natcfg *nc = bpf_map_lookup_elem(&lb_natcfg, &zero);
	struct lb_cfg *cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!nc || !nc->snat_ip || !cfg) {
		lb_nstat(LB_NSTAT_DROP_NO_CFG);
		return TC_ACT_SHOT;
	}
	__u8 proto = ip->protocol;
	__u32 l4off = sizeof(struct ethhdr) + ip->ihl * 4;
	__be32 client = ip->saddr, vip = ip->daddr, snat = nc->snat_ip;
	__be16 cport = (__be16)(ports & 0xffff), vport = (__be16)(ports >> 16);
	__u64 now = bpf_ktime_get_ns();

	struct lb_flow_key fkey = {.saddr = client, .daddr = vip, .sport = cport, .dport = vport, .proto = proto};
	struct lb_nat nat;
	struct lb_nat *known = bpf_map_lookup_elem(&lb_nat, &fkey);
	struct lb_rnat rv = {.client = client, .vip = vip, .cport = cport, .vport = vport, .last = now};
	if (known) {
		nat = *known;
		struct lb_rnat_key rk = {.addr = nat.addr, .port = nat.port, .nport = nat.nport, .proto = proto};
		struct lb_rnat *r = bpf_map_lookup_elem(&lb_rnat, &rk);
		if (r)
			r->last = now;
		else /* evicted while the flow lives: put the way back */
			bpf_map_update_elem(&lb_rnat, &rk, &rv, BPF_ANY);
		lb_t1_gstat(LB_STAT_FLOW_HIT);
	} else {
		__u32 tid = svc->table;
		struct lb_tstate *ts = bpf_map_lookup_elem(&lb_tstate, &tid);
		if (!ts || !ts->size) {
			lb_t1_gstat(LB_STAT_DROP_NO_TABLE);
			return TC_ACT_SHOT;
		}
		__u32 buf = 2 * tid + (ts->active & 1);
		void *slots = bpf_map_lookup_elem(&lb_maglev, &buf);
		if (!slots) {
			lb_t1_gstat(LB_STAT_DROP_NO_TABLE);
			return TC_ACT_SHOT;
		}
		__u32 hports = (svc->flags & LB_SVC_F_HASH_SADDR) ? (ports & 0xffff0000) : ports;
		__u32 h = lb_jhash_3words(client, vip, hports, cfg->hash_seed ^ proto);
		__u32 slot = h % ts->size;
		__u32 pair = slot >> 1;
		__u32 *sp = bpf_map_lookup_elem(slots, &pair);
		if (!sp) {
			lb_t1_gstat(LB_STAT_DROP_NO_TABLE);
			return TC_ACT_SHOT;
		}
		__u32 bid = (slot & 1) ? sp[1] : sp[0];
		struct lb_be *be = bid ? bpf_map_lookup_elem(&lb_be, &bid) : 0;
		if (!be) {
			lb_nstat(LB_NSTAT_DROP_NO_BACKEND);
			return TC_ACT_SHOT;
		}
		struct lb_rnat_key rk = {.addr = be->addr, .port = be->port, .proto = proto};
		__be16 nport = lb_nat_port(nc, &rk, &rv, lb_jhash_3words(client, ports, be->addr, ~cfg->hash_seed), now);
		if (!nport) {
			lb_nstat(LB_NSTAT_DROP_PORTS);
			return TC_ACT_SHOT;
		}
		nat.addr = be->addr;
		nat.port = be->port;
		nat.nport = nport;
		bpf_map_update_elem(&lb_nat, &fkey, &nat, BPF_ANY);
	}
	if (lb_nat_rewrite(skb, l4off, proto, client, snat, vip, nat.addr, cport, nat.nport, vport, nat.port)) {
		lb_nstat(LB_NSTAT_DROP_REWRITE);
		return TC_ACT_SHOT;
	}
	lb_nstat(LB_NSTAT_FORWARD);
	return bpf_redirect_neigh(skb->ifindex, 0, 0, 0);
}

/* A reply from a backend to one of our NAT ports: back to the client, from VIP:port.
 * Anything else passes untouched (TC_ACT_OK). */
static __always_inline int lb_t1only_reply(struct __sk_buff *skb, struct iphdr *ip, __u32 ports)
{
	__u32 zero = 0;
	struct lb_natcfg *nc = bpf_map_lookup_elem(&lb_natcfg, &zero);
	if (!nc || !nc->snat_ip || ip->daddr != nc->snat_ip)
		return TC_ACT_OK;
	__u8 proto = ip->protocol;
	__be32 be = ip->saddr, snat = ip->daddr;
	__be16 bport = (__be16)(ports & 0xffff), nport = (__be16)(ports >> 16);
	struct lb_rnat_key rk = {.addr = be, .port = bport, .nport = nport, .proto = proto};
	struct lb_rnat *r = bpf_map_lookup_elem(&lb_rnat, &rk);
	if (!r)
		return TC_ACT_OK;
	r->last = bpf_ktime_get_ns();
	__be32 client = r->client, vip = r->vip;
	__be16 cport = r->cport, vport = r->vport;
	__u32 l4off = sizeof(struct ethhdr) + ip->ihl * 4;
	if (lb_nat_rewrite(skb, l4off, proto, be, vip, snat, client, bport, vport, nport, cport)) {
		lb_nstat(LB_NSTAT_DROP_REWRITE);
		return TC_ACT_SHOT;
	}
	lb_nstat(LB_NSTAT_REPLY);
	return bpf_redirect_neigh(skb->ifindex, 0, 0, 0);
}
