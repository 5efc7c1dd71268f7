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

char _license[] SEC("license") = "GPL";

#define LB_ENCAP_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + 8 + 8)

static __always_inline __u16 lb_ip_csum(const __u16 *w)
{
	__u32 s = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		s += w[i];
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

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
	__u32 h = lb_jhash_3words(ip->saddr, ip->daddr, ports, cfg->hash_seed ^ ip->protocol);
	/* inner L2: to the T2 tunnel device's MAC (so T2 sees PACKET_HOST), from ours */
	__builtin_memcpy(eth->h_dest, flow.mac, 6);
	__builtin_memcpy(eth->h_source, cfg->src_mac, 6);

	if (bpf_xdp_adjust_head(ctx, -(int)LB_ENCAP_LEN))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	struct ethhdr *oeth = data;
	struct iphdr *oip = (void *)(oeth + 1);
	__u16 *udp = (void *)(oip + 1);
	__u32 *vx = (void *)(udp + 4);
	if ((void *)(vx + 2) > data_end)
		return XDP_DROP;

	__builtin_memcpy(oeth->h_dest, nh->mac, 6);
	__builtin_memcpy(oeth->h_source, xc->mac, 6);
	oeth->h_proto = bpf_htons(ETH_P_IP);

	oip->version = 4;
	oip->ihl = 5;
	oip->tos = tos;
	oip->tot_len = bpf_htons(inner_len + sizeof(struct iphdr) + 16);
	oip->id = 0;
	oip->frag_off = 0;
	oip->ttl = 64;
	oip->protocol = IPPROTO_UDP;
	oip->check = 0;
	oip->saddr = xc->saddr;
	oip->daddr = flow.t2;
	oip->check = lb_ip_csum((__u16 *)oip);

	/* source port from the flow hash, in 49152..65535, as the kernel's VXLAN spreads flows */
	udp[0] = bpf_htons(0xc000 | (h >> 18));
	udp[1] = xc->dport;
	udp[2] = bpf_htons(inner_len + 16);
	udp[3] = 0; /* no UDP checksum over IPv4 (RFC 7348) */
	vx[0] = bpf_htonl(0x08000000);        /* flags: VNI valid */
	vx[1] = bpf_htonl(cfg->vni << 8);

	lb_gstat_inc(LB_STAT_REDIRECT);
	return XDP_TX;
}
