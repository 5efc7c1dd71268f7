"""What becomes of every field the manifest schemas accept (read by tests/test_schema_coverage.py).

Each schema path (`*` = one segment, `[]` = list items) is, by its longest matching entry:
- Carried(plan, node, test): compiled into plan field `plan` (a path of schemas/plan.schema.json),
  acted on by node code `node` ("module:attribute"), covered by test `test` ("file::function");
- Refused(path): refused with a located finding by lbcli/lint/rules/not_implemented.py, at the
  refusal with that path (the field itself or the switch that makes it unused);
- Inert(why): nothing to carry out by its meaning (object bookkeeping, status that controllers
  write, a kind's identity), said why.
A path below a refused field is refused with it. Fields the not-implemented rule refuses need no
entry here: its REFUSALS are read directly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Carried:
    plan: str
    node: str
    test: str


@dataclass(frozen=True)
class Refused:
    path: str


@dataclass(frozen=True)
class Inert:
    why: str


# node code and the tests that drive it against the real daemons / kernel
L7 = "lbcli.agent.l7.render:render"
L7_ROUTES = "lbcli.agent.l7.render:_route_lines"
L7_TLS = "lbcli.agent.l7.render:_bind_line"
L7_AUTH = "lbcli.agent.l7.render:_auth_lines"
L7_BALANCE = "lbcli.agent.l7.render:_balance"
L7_CHECK = "lbcli.agent.l7.render:_check_lines"
L7_SERVER = "lbcli.agent.l7.render:_server_line"
L7_RESOLVERS = "lbcli.agent.l7.render:_resolvers_section"
BGP_PEER = "lbcli.agent.bgp.render:render_peer"
BGP_FILTER = "lbcli.agent.bgp.render:render_filter"
DATAPATH = "lbcli.agent.datapath.reconciler:desired_from_plan"
RECEIVE = "lbcli.agent.receive:desired_from_plan"
NETWORK = "lbcli.agent.network.desired:desired_from_plan"

T_HTTPS = "tests/e2e/test_l7.py::test_https_proxy_tls_sni_auth_sticky"
T_MODES = "tests/e2e/test_l7.py::test_tls_passthrough_tls_proxy_tcp_http"
T_RESOLVER = "tests/e2e/test_l7.py::test_hostname_backend_through_resolver"
T_HEALTH = "tests/e2e/test_l7.py::test_health_checks_and_weights"
T_L7_RENDER = "tests/test_l7_render.py::test_haproxy_accepts_rendering"
T_POLICY = "tests/e2e/test_l7.py::test_rate_limits_filtering_and_multi_key_persistence"
T_BACKEND_TLS = "tests/e2e/test_l7.py::test_backend_tls_proxy_protocol_and_http_versions"
L7_POLICY = "lbcli.agent.l7.render:_route_policy"
L7_CONN_POLICY = "lbcli.agent.l7.render:_connection_policy"
L7_SERVER_OPTS = "lbcli.agent.l7.render:_server_options"
T_BGP = "tests/e2e/test_bgp.py::test_router_learns_vip_from_both_nodes_with_attributes"
T_BGP_ONLY = "tests/e2e/test_bgp.py::test_only_listed_prefixes_reach_the_peer"
T_BFD = "tests/e2e/test_bgp.py::test_bfd_sessions_up_on_both_sides_with_profile_timers"
T_BGP_RENDER = "tests/test_bgp_render.py::test_render_contents_of_the_seed_case"
T_DSR = "tests/e2e/test_datapath_e2e.py::test_connection_dsr_through_t1"
T_T1_ONLY = "tests/e2e/test_t1_only.py::test_t1_only_tcp_and_udp_through_the_vip"
DIRECT = "lbcli.agent.datapath.reconciler:direct_desired"
T_SPREAD = "tests/e2e/test_datapath_e2e.py::test_spread_and_flow_affinity"
T_IPAM = "tests/test_model.py::test_pool_selecting_cilium_labels_validates_and_allocates"
T_SHARING = "tests/test_model.py::test_cross_namespace_sharing_needs_permission_in_compile_too"
T_REBEL = "tests/e2e/test_rebel_base.py::test_router_learns_the_vip_from_both_tier1_nodes"
T_PODNET = "tests/e2e/test_podnet.py::test_tunnel_mode_encapsulates"
T_SHAPE = "tests/e2e/test_podnet.py::test_bandwidth_annotations_shape"
T_K8S_POOL = "tests/e2e/test_k8s_services.py::test_k8s_service_pool_serves_ready_endpoints"
T_SHARED = "tests/e2e/test_k8s_services.py::test_shared_key_services_serve_both_ports"
T_ENDPOINTS = "tests/test_endpoints.py::test_ip_families_follow_the_service"
T_LB_BGP = "tests/test_endpoints.py::test_lb_services_compile_to_tier1_listeners_and_prefixes"
T_AFFINITY = "tests/e2e/test_k8s_services.py::test_client_ip_affinity_keeps_a_client_on_one_endpoint"

VIP = Carried("tier1.services.[].vip", DATAPATH, T_DSR)  # an address decides the VIP programmed
IPAM = Carried("tier1.services.[].vip", DATAPATH, T_IPAM)  # LB-IPAM's result is the VIP programmed
TIERS = Carried("tier1.services.[].t2Nodes", DATAPATH, T_SPREAD)
LISTENER = Carried("tier2.listeners.[].service", L7, T_MODES)
POOL = Carried("tier2.backendPools.[].name", L7, T_HTTPS)
PREFIXES = Carried("bgp.instances.[].peers.[].prefixes.[].prefix", BGP_FILTER, T_BGP_ONLY)

BOOKKEEPING = Inert("object bookkeeping the API server keeps; cilium-lb never acts on it")
STATUS = Inert("status is written by controllers (the API server ignores it on create); cilium-lb "
               "computes its own, shown by `lb status`")
IDENTITY = Inert("names the kind; a wrong one is refused by the schema or unknown-kind")

COMMON: dict[str, object] = {
    "apiVersion": IDENTITY,
    "kind": IDENTITY,
    "metadata": BOOKKEEPING,
    "status": STATUS,
}

APP = "spec.applications.*"

# Both BGP families (IsovalentBGP*, CiliumBGP*) go through one compile path (lbcli/compile/bgp.py);
# the Cilium kinds are covered by the test that compiles every carried field from both and
# compares the plans. What the not-implemented rule refuses (BGP_REFUSED, and the values it
# refuses of advertisementType, service.addresses, families and wellKnown) needs no entry.
T_OSS = "tests/test_upstream_semantics.py::test_every_carried_bgp_field_compiles_the_same_from_cilium_oss_kinds"
T_OVERRIDE = "tests/test_upstream_semantics.py::test_node_override_sets_router_id_and_port_and_refuses_per_peer_fields"
PEERS = "bgp.instances.[].peers"


def _bgp(fam: str) -> dict[str, dict[str, object]]:
    iso = fam == "IsovalentBGP"
    t = (lambda isovalent: isovalent) if iso else (lambda isovalent: T_OSS)  # noqa: E731
    out = {
        f"{fam}ClusterConfig": {
            "metadata.name": Inert("orders a node's configs; instances are named by bgpInstances[].name"),
            "spec": Carried("bgp.instances", BGP_PEER, t(T_BGP)),
            "spec.nodeSelector": Carried("bgp.instances", BGP_PEER, t(T_BGP)),  # which nodes get them
            "spec.bgpInstances.[].name": Carried("bgp.instances.[].name", BGP_PEER, t(T_BGP_RENDER)),
            "spec.bgpInstances.[].localASN": Carried("bgp.instances.[].localASN", BGP_PEER, t(T_BGP)),
            "spec.bgpInstances.[].localPort": Carried("bgp.instances.[].localPort", BGP_PEER, t(T_BGP_RENDER)),
            "spec.bgpInstances.[].peers": Carried(PEERS, BGP_PEER, t(T_BGP)),
            "spec.bgpInstances.[].peers.[].name": Carried(f"{PEERS}.[].name", BGP_PEER, t(T_BGP)),
            "spec.bgpInstances.[].peers.[].peerAddress": Carried(f"{PEERS}.[].address", BGP_PEER, t(T_BGP)),
            "spec.bgpInstances.[].peers.[].peerASN": Carried(f"{PEERS}.[].asn", BGP_PEER, t(T_BGP)),
            "spec.bgpInstances.[].peers.[].peerConfigRef": Carried(PEERS, BGP_PEER, t(T_BGP)),
        },
        f"{fam}PeerConfig": {
            "metadata.name": Carried(PEERS, BGP_PEER, t(T_BGP)),  # peerConfigRef
            "metadata.labels": Inert("no selector in the schemas selects peer configs"),
            "spec": Carried(PEERS, BGP_PEER, t(T_BGP)),
            "spec.authSecretRef": Carried(f"{PEERS}.[].auth", BGP_PEER, t(T_BGP_RENDER)),
            "spec.timers": Carried(f"{PEERS}.[].timers", BGP_PEER, t(T_BGP_RENDER)),
            "spec.gracefulRestart": Carried(f"{PEERS}.[].gracefulRestart", BGP_PEER, t(T_BGP_RENDER)),
            "spec.ebgpMultihop": Carried(f"{PEERS}.[].ebgpMultihop", BGP_PEER, t(T_BGP_RENDER)),
            "spec.transport": Carried(f"{PEERS}.[].port", BGP_PEER, t(T_BGP_RENDER)),
            "spec.transport.peerPort": Carried(f"{PEERS}.[].port", BGP_PEER, t(T_BGP_RENDER)),
            # ipv4/ipv6 unicast; other families are refused (error)
            "spec.families": Carried(f"{PEERS}.[].families", BGP_PEER, t(T_BGP)),
            "spec.families.[].advertisements": PREFIXES if iso else Carried(PREFIXES.plan, BGP_FILTER, T_OSS),
        },
        f"{fam}Advertisement": {
            "metadata.name": Inert("names the advertisement; peers select it by label"),
            "metadata.labels": PREFIXES if iso else Carried(PREFIXES.plan, BGP_FILTER, T_OSS),
            # Service / LoadBalancerIP; other types and addresses are refused (warning)
            "spec": PREFIXES if iso else Carried(PREFIXES.plan, BGP_FILTER, T_OSS),
            "spec.advertisements.[].interface": Inert("read upstream only with advertisementType Interface, "
                                                      "which not-implemented refuses"),
            # standard, large, the wellKnown names the node knows (others are refused), localPreference
            "spec.advertisements.[].attributes": Carried(f"{PEERS}.[].prefixes.[].communities", BGP_FILTER,
                                                         t(T_BGP)),
        },
        f"{fam}NodeConfigOverride": {
            "metadata.name": Carried("bgp.instances.[].routerId", BGP_PEER, T_OVERRIDE),  # the node's name
            "spec": Carried("bgp.instances", BGP_PEER, T_OVERRIDE),
            "spec.bgpInstances.[].name": Carried("bgp.instances.[].name", BGP_PEER, T_OVERRIDE),
            "spec.bgpInstances.[].routerID": Carried("bgp.instances.[].routerId", BGP_PEER, T_OVERRIDE),
            "spec.bgpInstances.[].localPort": Carried("bgp.instances.[].localPort", BGP_PEER, T_OVERRIDE),
            "spec.bgpInstances.[].localASN": Carried("bgp.instances.[].localASN", BGP_PEER, T_OVERRIDE),
            "spec.bgpInstances.[].peers": Inert("holds only per-peer overrides, each refused by not-implemented"),
            "spec.bgpInstances.[].peers.[].name": Inert("names the peer a refused per-peer override is for"),
        },
    }
    if iso:
        out[f"{fam}PeerConfig"]["spec.bfdProfileRef"] = Carried(f"{PEERS}.[].bfd", BGP_PEER, T_BFD)
    return out


BGP_KINDS = {**_bgp("IsovalentBGP"), **_bgp("CiliumBGP")}
REGISTRY: dict[str, dict[str, object]] = {
    "LBVIP": {
        "metadata.name": VIP, "metadata.namespace": VIP, "metadata.labels": IPAM,
        "metadata.creationTimestamp": IPAM,  # LB-IPAM's order
        "metadata.annotations": IPAM,  # lbipam.cilium.io/sharing-key
        "spec": VIP, "spec.ipv4Request": VIP,
    },
    "LBService": {
        "metadata.name": LISTENER, "metadata.namespace": LISTENER,
        "metadata.labels": PREFIXES,  # advertisement and LBDeployment selectors
        "metadata.annotations": PREFIXES,  # service.cilium.io/no-advertisement
        "spec": LISTENER,
        "spec.vipRef": VIP,
        "spec.port": Carried("tier2.listeners.[].port", L7, T_MODES),
        "spec.proxyProtocolConfig": Carried("tier2.listeners.[].proxyProtocol", L7_TLS, T_L7_RENDER),
        "spec.applications": Carried("tier2.listeners.[].type", L7, T_MODES),
        f"{APP}.routes": Carried("tier2.listeners.[].routes", L7_ROUTES, T_MODES),
        f"{APP}.routes.[].match": Carried("tier2.listeners.[].routes.[].hostNames", L7_ROUTES, T_HTTPS),
        f"{APP}.routes.[].match.path": Carried("tier2.listeners.[].routes.[].path", L7_ROUTES, T_MODES),
        f"{APP}.routes.[].backendRef": Carried("tier2.listeners.[].routes.[].backendPool", L7_ROUTES, T_MODES),
        f"{APP}.routes.[].persistentBackend": Carried("tier2.listeners.[].routes.[].persistence", L7_BALANCE,
                                                     T_HTTPS),
        f"{APP}.routes.[].auth": Refused("spec.applications.*.routes[].auth.basic.disabled"),
        f"{APP}.auth": Carried("tier2.listeners.[].auth.basic", L7_AUTH, T_HTTPS),
        f"{APP}.tlsConfig": Carried("tier2.listeners.[].tls", L7_TLS, T_HTTPS),
        f"{APP}.tlsConfig.certificates": Carried("tier2.listeners.[].tls.certificates", L7_TLS, T_HTTPS),
        f"{APP}.tlsConfig.minTLSVersion": Carried("tier2.listeners.[].tls.minVersion", L7_TLS, T_L7_RENDER),
        f"{APP}.tlsConfig.maxTLSVersion": Carried("tier2.listeners.[].tls.maxVersion", L7_TLS, T_L7_RENDER),
        f"{APP}.tlsConfig.allowedCipherSuites": Carried("tier2.listeners.[].tls.cipherSuites", L7_TLS, T_L7_RENDER),
        f"{APP}.tlsConfig.validation": Carried("tier2.listeners.[].tls.clientValidation", L7_TLS, T_MODES),
        # t1-t2 (and auto for tcpProxy): tier1.services; t1-only (and auto for udpProxy): straight
        # to the backends through tier-1 NAT (docs/t1-only.md)
        f"{APP}.forceDeploymentMode": Carried("tier1.directServices.[].backendTable", DIRECT, T_T1_ONLY),
        f"{APP}.rateLimits": Carried("tier2.listeners.[].rateLimit", L7_CONN_POLICY, T_POLICY),
        f"{APP}.connectionFiltering": Carried("tier2.listeners.[].connectionFiltering", L7_CONN_POLICY, T_POLICY),
        f"{APP}.httpConfig": Carried("tier2.listeners.[].httpVersions", L7_TLS, T_BACKEND_TLS),
        f"{APP}.routes.[].rateLimits": Carried("tier2.listeners.[].routes.[].rateLimit", L7_POLICY, T_POLICY),
        f"{APP}.routes.[].requestFiltering": Carried("tier2.listeners.[].routes.[].filtering", L7_POLICY, T_POLICY),
        f"{APP}.routes.[].connectionFiltering": Carried("tier2.listeners.[].routes.[].filtering", L7_POLICY,
                                                       T_POLICY),
    },
    "LBBackendPool": {
        "metadata.name": POOL, "metadata.namespace": POOL,
        "spec": POOL,
        "spec.backendType": Carried("tier2.backendPools.[].backendType", L7_SERVER, T_RESOLVER),
        "spec.backends": Carried("tier2.backendPools.[].backends", L7_SERVER, T_HEALTH),
        "spec.backends.[].weight": Carried("tier2.backendPools.[].backends.[].weight", L7_SERVER, T_HEALTH),
        "spec.backends.[].status": Carried("tier2.backendPools.[].backends.[].status", L7_SERVER, T_HEALTH),
        "spec.backends.[].k8sServiceRef": Carried("tier2.backendPools.[].backends", L7_SERVER, T_K8S_POOL),
        "spec.dnsResolverConfig": Carried("tier2.backendPools.[].resolvers", L7_RESOLVERS, T_RESOLVER),
        "spec.healthCheck": Carried("tier2.backendPools.[].healthCheck", L7_CHECK, T_HEALTH),
        "spec.healthCheck.http": Carried("tier2.backendPools.[].healthCheck.http", L7_CHECK, T_HEALTH),
        "spec.healthCheck.http.healthyStatusCodes": Carried(
            "tier2.backendPools.[].healthCheck.http.expectedStatusCodes", L7_CHECK, T_HEALTH),
        "spec.healthCheck.tcp": Carried("tier2.backendPools.[].healthCheck.tcp", L7_CHECK, T_HEALTH),
        "spec.loadbalancing": Carried("tier2.backendPools.[].algorithm", L7_BALANCE, T_HTTPS),
        "spec.loadbalancing.algorithm.consistentHashing.algorithm.maglev.tableSize": Carried(
            "tier2.backendPools.[].tableSize", L7_BALANCE, T_L7_RENDER),
        "spec.tcpConfig": Carried("tier2.backendPools.[].connectTimeoutSeconds", L7_SERVER, T_L7_RENDER),
        "spec.tlsConfig": Carried("tier2.backendPools.[].tls", L7_SERVER_OPTS, T_BACKEND_TLS),
        "spec.healthCheck.tlsConfig": Carried("tier2.backendPools.[].healthCheck.tls", L7_SERVER_OPTS, T_BACKEND_TLS),
        "spec.proxyProtocolConfig": Carried("tier2.backendPools.[].proxyProtocolVersion", L7_SERVER_OPTS,
                                            T_BACKEND_TLS),
        "spec.httpConfig": Carried("tier2.backendPools.[].httpVersions", L7_SERVER_OPTS, T_BACKEND_TLS),
    },
    "LBDeployment": {
        "metadata.name": Inert("names the deployment; its selectors below decide"),
        "metadata.namespace": TIERS,  # selects LBServices of its namespace
        "spec": TIERS,
    },
    **BGP_KINDS,
    "IsovalentBFDProfile": {
        "metadata.name": Carried("bgp.instances.[].peers.[].bfd.profile", BGP_PEER, T_BFD),
        "spec": Carried("bgp.instances.[].peers.[].bfd", BGP_PEER, T_BFD),
    },
    "CiliumLoadBalancerIPPool": {
        "metadata.name": IPAM,  # pools are tried in name order
        "spec": IPAM,
    },
    "Service": {
        # LoadBalancer Services LB-IPAM serves: each TCP port like an LBService (UDP/SCTP ports
        # refused); any Service: the endpoints of a K8sService pool's reference
        "metadata.name": Carried("tier2.listeners.[].service", L7, T_SHARED),
        "metadata.namespace": Carried("tier2.listeners.[].service", L7, T_SHARED),
        "metadata.labels": Carried(PREFIXES.plan, BGP_FILTER, T_LB_BGP),  # advertisement selectors
        "metadata.annotations": IPAM,  # ips, sharing-key, sharing-cross-namespace, no-advertisement
        "metadata.creationTimestamp": IPAM,  # LB-IPAM's order
        "spec": Carried("tier2.listeners.[].port", L7, T_SHARED),
        "spec.type": Carried("tier1.services.[].service", DATAPATH, T_SHARED),
        "spec.ports": Carried("tier1.services.[].port", DATAPATH, T_SHARED),
        "spec.ports.[].port": Carried("tier1.services.[].port", DATAPATH, T_SHARED),
        "spec.ports.[].protocol": Carried("tier1.services.[].protocol", DATAPATH, T_SHARED),  # TCP
        "spec.ports.[].name": Carried("tier2.backendPools.[].backends.[].port", L7_SERVER, T_K8S_POOL),
        "spec.ports.[].targetPort": Inert("resolved by the EndpointSlice controller into the slice's port, "
                                          "which is read (as kube-proxy reads it)"),
        "spec.ports.[].nodePort": Inert("kube-proxy's node ports; tier 2 dials the endpoints directly"),
        "spec.ports.[].appProtocol": Inert("a hint for L7 proxies; the port is passed through as TCP"),
        "spec.selector": Inert("the EndpointSlice controller's input; the slices it writes are read"),
        "spec.loadBalancerIP": IPAM,
        "spec.loadBalancerClass": IPAM,  # a foreign class: neither allocated nor served
        "spec.externalTrafficPolicy": Inert("Cluster is what tier 2 does (every ready endpoint); Local is "
                                            "refused by not-implemented"),
        "spec.internalTrafficPolicy": Inert("traffic from inside the cluster, which the load balancer never sees"),
        "spec.clusterIP": Inert("the in-cluster address kube-proxy serves; tier 2 dials endpoints"),
        "spec.clusterIPs": Inert("the in-cluster addresses kube-proxy serves; tier 2 dials endpoints"),
        "spec.ipFamilies": Carried("tier2.backendPools.[].backends.[].address", L7_SERVER, T_ENDPOINTS),
        "spec.ipFamilyPolicy": Inert("how the API server picks ipFamilies, which are read"),
        "spec.sessionAffinity": Carried("tier2.listeners.[].routes.[].persistence", L7_BALANCE, T_AFFINITY),
        "spec.sessionAffinityConfig": Carried("tier2.listeners.[].routes.[].persistence", L7_BALANCE, T_AFFINITY),
        # 10800 (the default) is what the hash gives; other values are refused (warning)
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds": Inert("10800, Kubernetes' default, is carried "
                                                                    "out as a hash without timeout"),
    },
    "EndpointSlice": {
        "metadata.name": Inert("slices are found by their kubernetes.io/service-name label"),
        "metadata.namespace": Carried("tier2.backendPools.[].backends", L7_SERVER, T_K8S_POOL),
        "metadata.labels": Carried("tier2.backendPools.[].backends", L7_SERVER, T_K8S_POOL),
        "addressType": Carried("tier2.backendPools.[].backends.[].address", L7_SERVER, T_ENDPOINTS),
        "endpoints": Carried("tier2.backendPools.[].backends", L7_SERVER, T_K8S_POOL),
        "endpoints.[].addresses": Carried("tier2.backendPools.[].backends.[].address", L7_SERVER, T_K8S_POOL),
        "endpoints.[].conditions": Carried("tier2.backendPools.[].backends", L7_SERVER, T_K8S_POOL),
        "endpoints.[].nodeName": Inert("endpoints are chosen by readiness, not topology"),
        "endpoints.[].hostname": Inert("endpoints are dialled by address"),
        "endpoints.[].zone": Inert("endpoints are chosen by readiness, not topology"),
        "endpoints.[].targetRef": Inert("names the Pod behind the endpoint; its address is what is dialled"),
        "ports": Carried("tier2.backendPools.[].backends.[].port", L7_SERVER, T_K8S_POOL),
        "ports.[].appProtocol": Inert("a hint for L7 proxies; tier 2's protocol is the LBService's"),
    },
    "Endpoints": {
        "metadata.name": Carried("tier2.backendPools.[].backends", L7_SERVER, T_SHARED),  # the Service's name
        "metadata.namespace": Carried("tier2.backendPools.[].backends", L7_SERVER, T_SHARED),
        "subsets": Carried("tier2.backendPools.[].backends", L7_SERVER, T_SHARED),
        "subsets.[].addresses": Carried("tier2.backendPools.[].backends.[].address", L7_SERVER, T_SHARED),
        "subsets.[].addresses.[].hostname": Inert("endpoints are dialled by address"),
        "subsets.[].addresses.[].nodeName": Inert("endpoints are chosen by readiness, not topology"),
        "subsets.[].addresses.[].targetRef": Inert("names the Pod behind the address"),
        "subsets.[].notReadyAddresses": Inert("not ready: never used (kube-proxy does not use them either)"),
        "subsets.[].ports": Carried("tier2.backendPools.[].backends.[].port", L7_SERVER, T_SHARED),
        "subsets.[].ports.[].appProtocol": Inert("a hint for L7 proxies; the port is passed through as TCP"),
    },
    "Secret": {
        "metadata.name": Carried("tier2.listeners.[].tls.certificates.[].secretRef", L7_TLS, T_HTTPS),
        "metadata.namespace": Carried("tier2.listeners.[].tls.certificates.[].secretRef", L7_TLS, T_HTTPS),
        "data": Carried("tier2.listeners.[].tls.certificates.[].sha256", L7_TLS, T_HTTPS),
        "stringData": Carried("tier2.listeners.[].auth.basic.sha256", L7_AUTH, T_HTTPS),
        "type": Inert("checked by lint (kubernetes.io/tls for certificates); nothing to carry out"),
        "immutable": BOOKKEEPING,
    },
    "Node": {
        "metadata.name": Carried("node.name", DATAPATH, T_REBEL),
        "metadata.labels": TIERS,  # the tier label and LBDeployment node selectors
        "status.addresses": Carried("tier1.t2Nodes.[].ip", DATAPATH, T_DSR),
        "spec": Inert("a Node's spec is cluster state; only podCIDR(s) is read"),
        "spec.podCIDR": Carried("network.peers.[].podCIDRs", NETWORK, T_PODNET),  # (when podCIDRs is unset)
        "spec.podCIDRs": Carried("network.peers.[].podCIDRs", NETWORK, T_PODNET),
    },
    "Pod": {
        "metadata.name": Carried("network.bandwidth.[].pod", NETWORK, T_SHAPE),
        "metadata.namespace": Carried("network.bandwidth.[].pod", NETWORK, T_SHAPE),
        # the bandwidth annotations (pod-bandwidth checks them); other annotations and labels are inert
        "metadata.annotations": Carried("network.bandwidth.[].egressBitsPerSecond", NETWORK, T_SHAPE),
        "spec": Inert("a Pod's spec is the kubelet's; only nodeName is read"),
        "spec.nodeName": Carried("network.bandwidth", NETWORK, T_SHAPE),
        "status.podIP": Carried("network.bandwidth.[].ip", NETWORK, T_SHAPE),
        "status.podIPs": Inert("checked by pod-ip-cidr against podIP and the node's PodCIDRs; the node "
                               "shapes by podIP (IPv4)"),
    },
    "ConfigMap": {
        "metadata.name": Inert("only cilium-config is read"),
        "metadata.namespace": Inert("cilium-config is read in any namespace, kube-system first"),
        # bpf-lb-maglev-table-size (tier 1 tables), bgp-secrets-namespace and the pod networking
        # keys (network section: tests/e2e/test_podnet.py; tunnel-protocol geneve is refused by
        # not-implemented); the rest describes the cluster's Cilium
        "data": Carried("tier1.maglevTables.[].size", DATAPATH, T_SPREAD),
        "binaryData": Inert("cilium-config holds no binary data cilium-lb reads"),
        "immutable": BOOKKEEPING,
    },
}
