"""Where backends and VIPs come from: Service endpoints read as kube-proxy reads them
(lbcli/model/endpoints.py), K8sService pools and LoadBalancer Services compiled into plans."""

from __future__ import annotations

import textwrap

from lbcli.compile.plan import compile_plans, dumps
from lbcli.manifest.index import ResourceIndex
from lbcli.manifest.loader import LoadResult, load_text
from lbcli.model import endpoints


def _index(*docs: str) -> ResourceIndex:
    result = LoadResult()
    load_text("t.yaml", "\n---\n".join(textwrap.dedent(d).strip() for d in docs), result)
    assert all(r.valid for r in result.resources), [r.ref for r in result.resources if not r.valid]
    return ResourceIndex(result.resources)


def _svc(name: str = "echo", ports: str = "[{name: http, port: 80, targetPort: http}]", extra: str = "") -> str:
    return f"""
    apiVersion: v1
    kind: Service
    metadata: {{namespace: shop, name: {name}}}
    spec: {{ports: {ports}{extra}}}
    """


def _slice(name: str, eps: str, ports: str = "[{name: http, port: 8080}]", family: str = "IPv4",
           service: str = "echo", ns: str = "shop") -> str:
    return f"""
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {{namespace: {ns}, name: {name}, labels: {{kubernetes.io/service-name: {service}}}}}
    addressType: {family}
    ports: {ports}
    endpoints: {eps}
    """


def _addrs(res) -> list[tuple[str, int]]:
    return [(e.address, e.port) for e in res.endpoints]


def test_named_target_port_is_the_slice_port_of_the_same_name():
    idx = _index(_svc(ports="[{name: http, port: 80, targetPort: http}, {name: admin, port: 81, targetPort: 9000}]"),
                 _slice("a", "[{addresses: [10.0.0.1]}]", ports="[{name: admin, port: 9000}, {name: http, port: 8080}]"))
    assert _addrs(endpoints.resolve(idx, "shop", "echo", 80)) == [("10.0.0.1", 8080)]
    assert _addrs(endpoints.resolve(idx, "shop", "echo", 81)) == [("10.0.0.1", 9000)]
    # an unnamed Service port matches the slice's unnamed port
    idx = _index(_svc(ports="[{port: 80, targetPort: 8081}]"), _slice("a", "[{addresses: [10.0.0.1]}]", ports="[{port: 8081}]"))
    assert _addrs(endpoints.resolve(idx, "shop", "echo", 80)) == [("10.0.0.1", 8081)]


def test_only_ready_endpoints_then_serving_terminating_ones():
    eps = """[{addresses: [10.0.0.1], conditions: {ready: true}},
              {addresses: [10.0.0.2]},
              {addresses: [10.0.0.3], conditions: {ready: false, serving: false}},
              {addresses: [10.0.0.4], conditions: {ready: false, serving: true, terminating: true}}]"""
    res = endpoints.resolve(_index(_svc(), _slice("a", eps)), "shop", "echo", 80)
    assert _addrs(res) == [("10.0.0.1", 8080), ("10.0.0.2", 8080)] and not res.terminating
    # none ready: the serving and terminating one keeps taking connections (kube-proxy's fallback)
    eps = """[{addresses: [10.0.0.3], conditions: {ready: false, serving: false, terminating: true}},
              {addresses: [10.0.0.4], conditions: {ready: false, serving: true, terminating: true}},
              {addresses: [10.0.0.5], conditions: {ready: false, serving: true, terminating: false}}]"""
    res = endpoints.resolve(_index(_svc(), _slice("a", eps)), "shop", "echo", 80)
    assert _addrs(res) == [("10.0.0.4", 8080)] and res.terminating


def test_slices_of_other_services_namespaces_and_fqdn_are_ignored_and_duplicates_merged():
    idx = _index(
        _svc(),
        _slice("a", "[{addresses: [10.0.0.2]}, {addresses: [10.0.0.10]}]"),
        _slice("b", "[{addresses: [10.0.0.2]}]"),  # moved between slices: counted once
        _slice("c", "[{addresses: [10.0.0.7]}]", service="other"),
        _slice("d", "[{addresses: [10.0.0.8]}]", ns="elsewhere"),
        _slice("e", "[{addresses: [db.example.com]}]", family="FQDN"),
    )
    assert _addrs(endpoints.resolve(idx, "shop", "echo", 80)) == [("10.0.0.2", 8080), ("10.0.0.10", 8080)]


def test_ip_families_follow_the_service():
    v4 = _slice("a", "[{addresses: [10.0.0.1]}]")
    v6 = _slice("b", "[{addresses: ['fd00::1']}]", family="IPv6")
    both = endpoints.resolve(_index(_svc(), v4, v6), "shop", "echo", 80)
    assert _addrs(both) == [("10.0.0.1", 8080), ("fd00::1", 8080)]
    only4 = endpoints.resolve(_index(_svc(extra=", ipFamilies: [IPv4]"), v4, v6), "shop", "echo", 80)
    assert _addrs(only4) == [("10.0.0.1", 8080)]
    only6 = endpoints.resolve(_index(_svc(extra=", ipFamilies: [IPv6]"), v4, v6), "shop", "echo", 80)
    assert _addrs(only6) == [("fd00::1", 8080)]


def test_endpoints_only_without_any_slice():
    eps = """
    apiVersion: v1
    kind: Endpoints
    metadata: {namespace: shop, name: echo}
    subsets:
      - addresses: [{ip: 10.0.1.1}]
        notReadyAddresses: [{ip: 10.0.1.2}]
        ports: [{name: http, port: 8080}, {name: other, port: 1}]
    """
    res = endpoints.resolve(_index(_svc(), eps), "shop", "echo", 80)
    assert res.source == "Endpoints" and _addrs(res) == [("10.0.1.1", 8080)]
    res = endpoints.resolve(_index(_svc(), eps, _slice("a", "[{addresses: [10.0.0.1]}]")), "shop", "echo", 80)
    assert res.source == "EndpointSlice" and _addrs(res) == [("10.0.0.1", 8080)]


def test_missing_service_port_or_endpoints():
    assert endpoints.resolve(_index(_svc()), "shop", "nope", 80).problem == "Service shop/nope is not in the set"
    res = endpoints.resolve(_index(_svc()), "shop", "echo", 81)
    assert res.problem == "Service shop/echo has no port 81/TCP (it has 80/TCP)"
    res = endpoints.resolve(_index(_svc()), "shop", "echo", 80)
    assert res.problem is None and res.source == "" and res.endpoints == []


# ---------------------------------------------------------------- compile
NODES = """
apiVersion: v1
kind: Node
metadata: {name: t1, labels: {service.cilium.io/node: t1}}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: t2, labels: {service.cilium.io/node: t2}}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: p}
spec: {blocks: [{cidr: 100.64.0.0/24}]}
"""
BGP = """
apiVersion: isovalent.com/v1
kind: IsovalentBGPClusterConfig
metadata: {name: c}
spec:
  nodeSelector: {matchLabels: {service.cilium.io/node: t1}}
  bgpInstances:
    - name: i
      localASN: 64512
      peers: [{name: r, peerAddress: 192.168.0.254, peerASN: 64512, peerConfigRef: {name: pc}}]
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPPeerConfig
metadata: {name: pc}
spec:
  families: [{afi: ipv4, safi: unicast, advertisements: {matchLabels: {adv: lb}}}]
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPAdvertisement
metadata: {name: a, labels: {adv: lb}}
spec:
  advertisements:
    - advertisementType: Service
      service: {addresses: [LoadBalancerIP]}
      selector: {matchLabels: {announce: "yes"}}
"""


def _lb(name: str, ports: str, labels: str = "{announce: 'yes'}", ann: str = "", ts: str = "2025-01-01T00:00:00Z",
        spec: str = "") -> str:
    return f"""
    apiVersion: v1
    kind: Service
    metadata:
      namespace: shop
      name: {name}
      creationTimestamp: "{ts}"
      labels: {labels}
      annotations: {{lbipam.cilium.io/ips: 100.64.0.7, lbipam.cilium.io/sharing-key: k{ann}}}
    spec: {{type: LoadBalancer, ports: {ports}{spec}}}
    """


def test_lb_services_compile_to_tier1_listeners_and_prefixes():
    idx = _index(NODES, BGP,
                 _lb("web", "[{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP}]"),
                 _slice("w", "[{addresses: [10.0.0.1]}]", service="web"),
                 _lb("api", "[{port: 443}]", labels="{other: x}"),
                 _slice("a", "[{addresses: [10.0.0.2]}]", ports="[{port: 8443}]", service="api"))
    c = compile_plans(idx)
    t1 = c.plans["t1"].to_json()
    assert [(s["service"], s["vip"], s["port"], s["protocol"], s["t2Nodes"]) for s in t1["tier1"]["services"]] == [
        ("shop/web:80", "100.64.0.7", 80, "TCP", ["t2"]), ("shop/api:443", "100.64.0.7", 443, "TCP", ["t2"])]
    # the advertisement selects web by its labels; api's labels do not match
    [peer] = t1["bgp"]["instances"][0]["peers"]
    assert [(p["prefix"], p["services"]) for p in peer["prefixes"]] == [("100.64.0.7/32", ["shop/web:80"])]
    t2 = c.plans["t2"].to_json()["tier2"]
    assert t2["vips"] == ["100.64.0.7"]
    assert [(lst["service"], lst["type"], lst["routes"][0]["backendPool"]) for lst in t2["listeners"]] == [
        ("shop/web:80", "tcpProxy", "shop/web:80"), ("shop/api:443", "tcpProxy", "shop/api:443")]
    pools = {p["name"]: p for p in t2["backendPools"]}
    assert [(b["address"], b["port"]) for b in pools["shop/web:80"]["backends"]] == [("10.0.0.1", 8080)]
    assert [(b["address"], b["port"]) for b in pools["shop/api:443"]["backends"]] == [("10.0.0.2", 8443)]
    assert pools["shop/api:443"]["backendType"] == "K8sService" and pools["shop/api:443"]["healthCheck"] is None


def test_no_advertisement_and_clashing_service_are_not_announced():
    idx = _index(NODES, BGP,
                 _lb("web", "[{port: 80}]", ann=", service.cilium.io/no-advertisement: 'true'"),
                 _lb("late", "[{port: 80}]", ts="2025-01-02T00:00:00Z"))  # created later: "late" < "web" by name
    c = compile_plans(idx)
    t1 = c.plans["t1"].to_json()
    assert [s["service"] for s in t1["tier1"]["services"]] == ["shop/web:80"]  # late: same port, no address
    assert [x["reason"] for x in c.conditions] == ["AddressAlreadyInUse"]
    assert t1["bgp"]["instances"][0]["peers"][0]["prefixes"] == []


POOL = """
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {namespace: shop, name: be}
spec:
  backendType: K8sService
  healthCheck: {tcp: {}}
  backends:
    - {k8sServiceRef: {name: echo}, port: 80, weight: 3}
    - {k8sServiceRef: {name: other}, port: 80, status: Draining}
---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: shop, name: v}
spec: {}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: shop, name: s}
spec:
  vipRef: {name: v}
  port: 80
  applications: {tcpProxy: {routes: [{backendRef: {name: be}}]}}
"""


def test_k8s_service_pool_holds_the_endpoint_addresses_with_the_backend_weight():
    docs = (NODES, POOL, _svc(), _svc("other", "[{name: http, port: 80}]"),
            _slice("a", "[{addresses: [10.0.0.1]}, {addresses: [10.0.0.9], conditions: {ready: false}}]"),
            _slice("b", "[{addresses: [10.0.0.3]}]", service="other"))
    [pool] = compile_plans(_index(*docs)).plans["t2"].to_json()["tier2"]["backendPools"]
    assert pool["backendType"] == "K8sService"
    assert [(b["address"], b["port"], b["weight"], b["status"]) for b in pool["backends"]] == [
        ("10.0.0.1", 8080, 3, "Active"), ("10.0.0.3", 8080, 1, "Draining")]
    # document order does not change a byte of any plan
    again = compile_plans(_index(*reversed(docs)))
    first = compile_plans(_index(*docs))
    assert {n: dumps(p) for n, p in again.plans.items()} == {n: dumps(p) for n, p in first.plans.items()}


def test_client_ip_affinity_hashes_the_client_address():
    idx = _index(NODES, _lb("web", "[{name: http, port: 80}]", spec=", sessionAffinity: ClientIP"),
                 _slice("w", "[{addresses: [10.0.0.1, 10.0.0.2]}]", service="web"))
    t2 = compile_plans(idx).plans["t2"].to_json()["tier2"]
    [lst] = t2["listeners"]
    assert lst["routes"][0]["persistence"] == {"sourceIP": True, "cookies": [], "headers": []}
    [pool] = t2["backendPools"]
    assert pool["algorithm"] == "consistentHashing" and pool["tableSize"] == 65537
