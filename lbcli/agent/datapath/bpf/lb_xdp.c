/* Tier-1 datapath, XDP flavour: native XDP on the node's uplink (Katran-style).
 *
 * Same maps and the same choice of T2 as lb_tc.c (lb_lookup.h), but the packet never becomes an
 * skb on tier 1: the program prepends the outer Ethernet/IPv4/UDP/VXLAN headers itself
 * (bpf_xdp_adjust_head), addresses them from lb_xcfg and the next-hop MAC in lb_nh (filled by
 * the reconciler from the kernel's neighbour table), and sends the frame back out of the uplink
 * with XDP_TX. What it cannot carry (no resolved next hop, a service flag it does not know)
 * it passes to the stack, where the tc program attached to the same link handles it. */
#include "lb_defs.h"
#include "lb_maps.h"
#include "lb_jhash.h"
#include "lb_lookup.h"
#include "lb_xdp_maps.h"
#include "lb_encap.h"

char _license[] SEC("license") = "GPL";

SEC("xdp.frags")
int lb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 *l4;
	__u32 ports, zero = 0;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
		return XDP_PASS;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (ip->frag_off & bpf_htons(0x1fff))
		return XDP_PASS;
	l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 1) > data_end)
		return XDP_PASS;
	ports = *l4;

	struct lb_svc_key skey = {
		.vip = ip->daddr,
		.port = (__be16)(ports >> 16),
		.proto = ip->protocol,
	};
	struct lb_svc *svc = bpf_map_lookup_elem(&lb_svc, &skey);
	if (!svc || svc->flags)
		return XDP_PASS; /* not a VIP, or a service kind only the tc program carries */

	struct lb_cfg *cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	struct lb_xcfg *xc = bpf_map_lookup_elem(&lb_xcfg, &zero);
	if (!cfg || !xc || !xc->saddr)
		return XDP_PASS;

	struct lb_flow flow;
	int drop = lb_select(svc, cfg, ip->saddr, ip->daddr, ports, ip->protocol, &flow);
	struct lb_nh *nh = drop ? 0 : bpf_map_lookup_elem(&lb_nh, &flow.t2);
	if (!drop && !nh) { /* passed uncounted: the tc program counts what it carries */
		lb_gstat_inc(LB_STAT_XDP_NO_NEIGH);
		return XDP_PASS;
	}
	__u32 sid = svc->id;
	struct lb_counter *cnt = bpf_map_lookup_elem(&lb_stats, &sid);
	if (cnt) {
		cnt->packets += 1;
		cnt->bytes += bpf_xdp_get_buff_len(ctx);
	}
	if (drop) {
		lb_gstat_inc(drop);
		return XDP_DROP;
	}

	__u16 inner_len = bpf_ntohs(ip->tot_len) + sizeof(struct ethhdr);
	__u8 tos = ip->tos;
	__u32 h = lb_entropy(ip->saddr, ports);
	/* inner L2: to the T2 tunnel device's MAC (so T2 sees PACKET_HOST), from ours */
	__builtin_memcpy(eth->h_dest, flow.mac, 6);
	__builtin_memcpy(eth->h_source, cfg->src_mac, 6);

	if (bpf_xdp_adjust_head(ctx, -(int)LB_ENCAP_LEN))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + LB_ENCAP_LEN > data_end)
		return XDP_DROP;
	lb_write_encap(data, nh, xc, cfg->vni, flow.t2, h, tos, inner_len);

	lb_gstat_inc(LB_STAT_REDIRECT);
	return XDP_TX;
}
