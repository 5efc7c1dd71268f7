/* Tier-1 datapath: tc clsact ingress (direct-action) on the node's uplink.
 *
 * VIP:port/proto matches are steered to a T2 node picked by the service's Maglev table
 * (or by the flow table for established flows) and encapsulated in VXLAN: in the program
 * (outer headers written here, redirected out of the uplink: lb_tc_encap) when the T2's next
 * hop is resolved in lb_nh, else with bpf_skb_set_tunnel_key through an external
 * (collect-metadata) tunnel device. The client IP is kept (DSR).
 * Services flagged t1-only go straight to their backends through tier-1 NAT (lb_t1only.h),
 * whose replies come back here too. Everything else passes untouched. */
#include "lb_defs.h"
#include "lb_maps.h"
#include "lb_jhash.h"
#include "lb_t1only.h"
#include "lb_xdp_maps.h"
#include "lb_encap.h"

char _license[] SEC("license") = "GPL";

static __always_inline void lb_gstat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lb_gstats, &idx);
	if (v)
		*v += 1;
}

/* Fast path: encapsulate here and send straight out of the uplink (no VXLAN device, route
 * lookup or netfilter on the way). 0 when done; <0: the skb is unchanged, use the device. */
static __always_inline int lb_tc_encap(struct __sk_buff *skb, const struct lb_nh *nh, const struct lb_xcfg *xc,
				       const struct lb_cfg *cfg, const struct lb_flow *flow, __u32 entropy, __u8 tos)
{
	__u32 inner_len = skb->len;
	if (bpf_skb_adjust_room(skb, LB_ENCAP_LEN, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
				BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct ethhdr))))
		return -1;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *inner = data + LB_ENCAP_LEN;
	if ((void *)(inner + 1) > data_end)
		return 1; /* cannot happen: the room was just made; the caller drops */
	__builtin_memcpy(inner->h_dest, flow->mac, 6);
	__builtin_memcpy(inner->h_source, cfg->src_mac, 6);
	inner->h_proto = bpf_htons(ETH_P_IP);
	lb_write_encap(data, nh, xc, cfg->vni, flow->t2, entropy, tos, inner_len);
	return 0;
}

/* Headers the program reads: Ethernet, IPv4 (options included) and the ports. An skb may hold
 * less than that in its linear area (a packet socket's TX ring, e.g. trafgen, puts everything
 * after the MAC header in page fragments; so can GRO and header-split NICs): pull them in, or a
 * VIP packet would pass to the stack unseen and be routed like any other. */
static __always_inline int lb_pull(struct __sk_buff *skb, __u32 len)
{
	if ((void *)(long)skb->data + len <= (void *)(long)skb->data_end)
		return 0;
	return len <= skb->len ? bpf_skb_pull_data(skb, len) : -1;
}

SEC("tc")
int lb_tc_ingress(struct __sk_buff *skb)
{
	void *data, *data_end;
	struct ethhdr *eth;
	struct iphdr *ip;
	__u32 *l4;
	__u32 ports, zero = 0;

	if (lb_pull(skb, sizeof(struct ethhdr) + sizeof(struct iphdr) + 4))
		return TC_ACT_OK;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
		return TC_ACT_OK;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return TC_ACT_OK;
	/* fragments after the first carry no ports: they cannot be matched to a service */
	if (ip->frag_off & bpf_htons(0x1fff))
		return TC_ACT_OK;
	if (ip->ihl > 5) { /* options: the ports lie further in */
		if (lb_pull(skb, sizeof(struct ethhdr) + ip->ihl * 4 + 4))
			return TC_ACT_OK;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		eth = data;
		ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return TC_ACT_OK;
	}
	l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 1) > data_end)
		return TC_ACT_OK;
	ports = *l4; /* sport (low 16 bits on little endian) and dport, as on the wire */

	struct lb_svc_key skey = {
		.vip = ip->daddr,
		.port = (__be16)(ports >> 16),
		.proto = ip->protocol,
	};
	struct lb_svc *svc = bpf_map_lookup_elem(&lb_svc, &skey);
	if (!svc)
		return lb_t1only_reply(skb, ip, ports); /* TC_ACT_OK unless a t1-only NAT reply */

	__u32 sid = svc->id;
	struct lb_counter *cnt = bpf_map_lookup_elem(&lb_stats, &sid);
	if (cnt) {
		cnt->packets += 1;
		cnt->bytes += skb->len;
	}
	if (svc->flags & LB_SVC_F_T1_ONLY)
		return lb_t1only_forward(skb, svc, ip, ports);

	struct lb_cfg *cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!cfg || !cfg->tun_ifindex) {
		lb_gstat(LB_STAT_DROP_NO_CFG);
		return TC_ACT_SHOT;
	}

	struct lb_flow_key fkey = {
		.saddr = ip->saddr,
		.daddr = ip->daddr,
		.sport = (__be16)(ports & 0xffff),
		.dport = (__be16)(ports >> 16),
		.proto = ip->protocol,
	};
	struct lb_flow flow;
	struct lb_flow *known = bpf_map_lookup_elem(&lb_flows, &fkey);
	if (known) {
		flow = *known;
		lb_gstat(LB_STAT_FLOW_HIT);
	} else {
		__u32 tid = svc->table;
		struct lb_tstate *ts = bpf_map_lookup_elem(&lb_tstate, &tid);
		if (!ts || !ts->size) {
			lb_gstat(LB_STAT_DROP_NO_TABLE);
			return TC_ACT_SHOT;
		}
		__u32 buf = 2 * tid + (ts->active & 1);
		void *slots = bpf_map_lookup_elem(&lb_maglev, &buf);
		if (!slots) {
			lb_gstat(LB_STAT_DROP_NO_TABLE);
			return TC_ACT_SHOT;
		}
		__u32 h = lb_jhash_3words(ip->saddr, ip->daddr, ports, cfg->hash_seed ^ ip->protocol);
		__u32 slot = h % ts->size;
		__u32 pair = slot >> 1;
		__be32 *sp = bpf_map_lookup_elem(slots, &pair);
		if (!sp) {
			lb_gstat(LB_STAT_DROP_NO_TABLE);
			return TC_ACT_SHOT;
		}
		__be32 t2 = (slot & 1) ? sp[1] : sp[0];
		struct lb_t2 *node = t2 ? bpf_map_lookup_elem(&lb_t2, &t2) : 0;
		if (!node) {
			lb_gstat(LB_STAT_DROP_NO_T2);
			return TC_ACT_SHOT;
		}
		flow.t2 = t2;
		__builtin_memcpy(flow.mac, node->mac, 6);
		flow.pad = 0;
		bpf_map_update_elem(&lb_flows, &fkey, &flow, BPF_ANY);
	}

	struct lb_xcfg *xc = bpf_map_lookup_elem(&lb_xcfg, &zero);
	struct lb_nh *nh = xc && xc->ifindex ? bpf_map_lookup_elem(&lb_nh, &flow.t2) : 0;
	if (nh) {
		int rc = lb_tc_encap(skb, nh, xc, cfg, &flow, lb_entropy(ip->saddr, ports), ip->tos);
		if (rc > 0) {
			lb_gstat(LB_STAT_DROP_TUNNEL);
			return TC_ACT_SHOT;
		}
		if (rc == 0) {
			lb_gstat(LB_STAT_REDIRECT);
			return bpf_redirect(xc->ifindex, 0);
		}
		/* unchanged, but the verifier forgets packet pointers across the helper */
		eth = (void *)(long)skb->data;
		if ((void *)(eth + 1) > (void *)(long)skb->data_end)
			return TC_ACT_SHOT;
	}

	/* inner L2: to the T2 tunnel device's MAC (so T2 sees PACKET_HOST), from ours */
	__builtin_memcpy(eth->h_dest, flow.mac, 6);
	__builtin_memcpy(eth->h_source, cfg->src_mac, 6);

	struct bpf_tunnel_key key = {};
	key.tunnel_id = cfg->vni;
	key.remote_ipv4 = bpf_ntohl(flow.t2);
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) < 0) {
		lb_gstat(LB_STAT_DROP_TUNNEL);
		return TC_ACT_SHOT;
	}
	lb_gstat(LB_STAT_REDIRECT);
	return bpf_redirect(cfg->tun_ifindex, 0);
}
