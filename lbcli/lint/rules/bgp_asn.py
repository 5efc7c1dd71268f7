"""BGP AS numbers are usable: in range, not reserved, and iBGP sessions carry no eBGP-only settings.

A wrong ASN keeps the session from ever reaching Established (the peer sends a NOTIFICATION
with "Bad Peer AS"), and that only shows on the router. Checked for every bgpInstance's
`localASN` and every peer's `peerASN` of IsovalentBGPClusterConfig and CiliumBGPClusterConfig:

- error: outside 1..4294967295 (peerASN 0 is allowed: it accepts whatever ASN the peer
  announces);
- warning: peerASN 0 or absent (Cilium's default: the ASN is taken from the peer's OPEN,
  iBGP or eBGP). BIRD 2.0 cannot leave the ASN open; the node runs the session as `external`,
  which accepts every ASN but localASN, so an iBGP peer must name its ASN to come up;
- warning: reserved numbers: 0 as local ASN, 23456 (AS_TRANS, RFC 6793: stands in for a
  4-byte ASN towards old speakers), 65535 and 4294967295 (RFC 7300), and the documentation
  ranges 64496-64511 and 65536-65551 (RFC 5398);
- warning: an iBGP peer (peerASN equal to localASN) whose IsovalentBGPPeerConfig sets
  `ebgpMultihop` above 1: the setting only applies to eBGP and is ignored.

Private ASNs (64512-65534, 4200000000-4294967294) are the normal choice and not reported.

Example of a finding:

    bgp.yaml:12:17: warning: localASN 23456 is AS_TRANS (RFC 6793), reserved for 4-byte ASN
    transition; pick another ASN [bgp-asn]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ...manifest.index import bgp_sibling
from ..problem import Severity
from ._refs import as_list, ref_name

ID = "bgp-asn"
SEVERITY = Severity.ERROR

MAX_ASN = 4294967295


def check(ctx: Context) -> Iterator[Finding]:
    for cfg in ctx.index.bgp("ClusterConfig"):
        for i, inst in enumerate(as_list(cfg.spec.get("bgpInstances"))):
            if not isinstance(inst, dict):
                continue
            base = ("spec", "bgpInstances", i)
            local = inst.get("localASN")
            if local is not None:
                yield from _asn(cfg, base + ("localASN",), "localASN {}", local, allow_zero=False)
            for j, peer in enumerate(as_list(inst.get("peers"))):
                if not isinstance(peer, dict):
                    continue
                ppath = base + ("peers", j)
                asn = peer.get("peerASN", 0)
                if "peerASN" in peer:
                    yield from _asn(cfg, ppath + ("peerASN",), "peerASN {} of peer " + str(peer.get("name")), asn,
                                    allow_zero=True)
                if asn == 0 and isinstance(local, int) and local > 0:
                    yield Finding(cfg, ppath + (("peerASN",) if "peerASN" in peer else ()),
                                  f"peer {peer.get('name')} has peerASN 0: the node accepts any ASN "
                                  f"but localASN {local} from it (eBGP); an iBGP peer must set "
                                  f"peerASN: {local} to come up", severity=Severity.WARNING)
                if isinstance(local, int) and asn == local:
                    yield from _ibgp_multihop(ctx, cfg, ppath, peer, local)


def _asn(res, path: tuple, what: str, asn, allow_zero: bool) -> Iterator[Finding]:
    """`what` is a template with {} for the number: "peerASN {} of peer p0"."""
    if not isinstance(asn, int) or isinstance(asn, bool) or asn < 0 or asn > MAX_ASN:
        yield Finding(res, path, f"{what.format(repr(asn))} is not an AS number (1..{MAX_ASN})")
        return
    if asn == 0:
        if not allow_zero:
            yield Finding(res, path, f"{what.format(0)} is reserved (RFC 7607) and cannot be used")
        return
    reason = _reserved(asn)
    if reason:
        yield Finding(res, path, f"{what.format(asn)} is {reason}; pick another ASN", severity=Severity.WARNING)


def _reserved(asn: int) -> str | None:
    if asn == 23456:
        return "AS_TRANS (RFC 6793), reserved for 4-byte ASN transition"
    if asn in (65535, MAX_ASN):
        return "reserved (RFC 7300)"
    if 64496 <= asn <= 64511 or 65536 <= asn <= 65551:
        return "reserved for documentation (RFC 5398)"
    return None


def _ibgp_multihop(ctx: Context, cfg, path: tuple, peer: dict, asn: int) -> Iterator[Finding]:
    name = ref_name(peer, "peerConfigRef", "name")
    pc_kind = bgp_sibling(cfg.kind, "PeerConfig")
    pc = ctx.index.get(pc_kind, None, name) if name else None
    hops = pc.spec.get("ebgpMultihop") if pc is not None else None
    if isinstance(hops, int) and hops > 1:
        yield Finding(cfg, path + ("peerConfigRef", "name"),
                      f"peer {peer.get('name')} is iBGP (peerASN {asn} = localASN) but "
                      f"{pc_kind} {name} sets ebgpMultihop: {hops}, which only applies "
                      f"to eBGP and is ignored", severity=Severity.WARNING)
