"""BGP for tier-1 nodes: announce VIPs as /32s to the datacenter router through BIRD 2
(BGP + BFD in one daemon). model -> render -> daemon (control socket) -> status -> reconciler."""
