/* Outer Ethernet/IPv4/UDP/VXLAN headers written by the program itself (Katran-style), shared
 * by the XDP program and the tc program's fast path: both then send the frame straight out of
 * the uplink, without the kernel's VXLAN device, route lookup or netfilter. */
#pragma once
#include "lb_defs.h"
#include "lb_maps.h"
#include "lb_xdp_maps.h"

#define LB_ENCAP_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + 8 + 8)

/* Cheap per-flow entropy for the outer source port (the flow's T2 is already chosen). */
static __always_inline __u32 lb_entropy(__be32 saddr, __u32 ports)
{
	__u32 h = saddr ^ ports;
	return h ^ (h >> 16) ^ (h >> 7);
}

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

/* `data` starts the outer frame; LB_ENCAP_LEN bytes (checked by the caller) are written there.
 * inner_len: bytes of the inner frame (its Ethernet header included). */
static __always_inline void lb_write_encap(void *data, const struct lb_nh *nh, const struct lb_xcfg *xc,
					   __u32 vni, __be32 t2, __u32 entropy, __u8 tos, __u16 inner_len)
{
	struct ethhdr *oeth = data;
	struct iphdr *oip = (void *)(oeth + 1);
	__u16 *udp = (void *)(oip + 1);
	__u32 *vx = (void *)(udp + 4);

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
	oip->daddr = t2;
	oip->check = lb_ip_csum((__u16 *)oip);

	/* source port from the flow (49152..65535), so the underlay's ECMP spreads flows as with
	 * the kernel's VXLAN device */
	udp[0] = bpf_htons(0xc000 | (entropy & 0x3fff));
	udp[1] = xc->dport;
	udp[2] = bpf_htons(inner_len + 16);
	udp[3] = 0; /* no UDP checksum over IPv4 (RFC 7348) */
	vx[0] = bpf_htonl(0x08000000); /* flags: VNI valid */
	vx[1] = bpf_htonl(vni << 8);
}
