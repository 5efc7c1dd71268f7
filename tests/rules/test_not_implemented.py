"""not-implemented: every refusal fires at the field it names, with its severity; the examples
carry no refused field."""

from __future__ import annotations

import pytest

from lbcli.lint.problem import Severity
from lbcli.lint.rules.not_implemented import BGP_REFUSED, REFUSALS
from tests.lintkit import by_rule, lint_example, lint_text
from tests.test_schema_coverage import KINDS, _steps

RULE = "not-implemented"

SVC = """
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: default, name: s}
spec:
  vipRef: {name: v}
  port: 80
  applications:
APP
"""
POOL = """
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {namespace: default, name: be}
spec:
  backendType: IP
  backends: [{ip: 10.0.0.1, port: 80}]
SPEC
"""
TCP_CHECK = "  healthCheck: {tcp: {}}\n"
ROUTE = "        routes:\n          - backendRef: {name: be}\n"


def _svc(app: str) -> str:
    return SVC.replace("APP\n", app)


T1_SVC = _svc("    tcpProxy:\n        forceDeploymentMode: t1-only\n" + ROUTE)


# (kind, refusal path) -> (document, text on the line the finding must point at)
SAMPLES: dict[tuple[str, str], tuple[str, str]] = {
    ("LBService", "spec.applications.*.auth.jwt"): (
        _svc("    httpProxy:\n" + ROUTE + "        auth:\n          jwt:\n            providers:\n"
             "              - {name: p, jwks: {httpURI: {uri: 'https://idp.example/jwks'}}}\n"), "jwt:"),
    # t1-only services (lbcli/lint/rules/_t1only.py)
    ("LBService", "spec.applications.udpProxy.forceDeploymentMode"): (
        _svc("    udpProxy:\n" + ROUTE + "        forceDeploymentMode: t1-t2\n"), "forceDeploymentMode:"),
    ("LBService", "spec.proxyProtocolConfig"): (
        T1_SVC.replace("  port: 80\n", "  port: 80\n  proxyProtocolConfig: {}\n"), "proxyProtocolConfig:"),
    ("LBService", "spec.applications.*.routes[].connectionFiltering"): (
        T1_SVC + "            connectionFiltering:\n              ruleType: Deny\n"
        "              rules: [{sourceCIDR: {cidr: 10.0.0.0/8}}]\n", "connectionFiltering:"),
    ("LBService", "spec.applications.*.routes[].rateLimits"): (
        T1_SVC + "            rateLimits: {connections: {limit: 5, timePeriodSeconds: 1}}\n", "rateLimits:"),
    ("LBBackendPool", "spec.healthCheck"): (T1_SVC + "---" + POOL.replace("SPEC", TCP_CHECK), "healthCheck:"),
    ("LBBackendPool", "spec.loadbalancing.algorithm.roundRobin"): (
        T1_SVC + "---" + POOL.replace("SPEC", TCP_CHECK + "  loadbalancing: {algorithm: {roundRobin: {}}}"), "roundRobin"),
    ("LBBackendPool", "spec.loadbalancing.algorithm.leastRequest"): (
        T1_SVC + "---" + POOL.replace("SPEC", TCP_CHECK + "  loadbalancing:\n    algorithm:\n      leastRequest: {}"), "leastRequest:"),
    ("LBBackendPool", "spec.backendType"): (
        T1_SVC + "---" + POOL.replace("  backendType: IP\n  backends: [{ip: 10.0.0.1, port: 80}]\nSPEC",
                              TCP_CHECK + "  backendType: Hostname\n  backends: [{host: web.example, port: 80}]\n"
                              "  dnsResolverConfig: {resolvers: [{ip: 10.0.0.53, port: 53}]}"), "backendType:"),
    ("LBBackendPool", "spec.tlsConfig"): (T1_SVC + "---" + POOL.replace("SPEC", TCP_CHECK + "  tlsConfig: {minTLSVersion: TLSv1_2}"),
                                          "tlsConfig:"),
    ("LBBackendPool", "spec.proxyProtocolConfig"): (
        T1_SVC + "---" + POOL.replace("SPEC", TCP_CHECK + "  proxyProtocolConfig: {version: 2}"), "proxyProtocolConfig:"),
    ("LBBackendPool", "spec.tcpConfig"): (T1_SVC + "---" + POOL.replace("SPEC", TCP_CHECK + "  tcpConfig: {connectTimeoutSeconds: 3}"),
                                          "tcpConfig:"),
    ("LBBackendPool", "spec.httpConfig"): (T1_SVC + "---" + POOL.replace("SPEC", TCP_CHECK + "  httpConfig: {enableHTTP2: true}"),
                                           "httpConfig:"),
    ("LBService", "spec.applications.*.routes[].auth.jwt"): (
        _svc("    httpProxy:\n" + ROUTE + "            auth: {jwt: {disabled: true}}\n"), "auth:"),
    ("LBService", "spec.applications.*.routes[].auth.basic.disabled"): (
        _svc("    httpProxy:\n" + ROUTE + "            auth:\n              basic: {disabled: true}\n"), "basic:"),
    ("LBService", "spec.applications.*.tlsConfig.allowedECDHCurves"): (
        _svc("    tlsProxy:\n" + ROUTE + "        tlsConfig:\n          certificates: [{secretRef: {name: c}}]\n"
             "          allowedECDHCurves: [X25519]\n"), "allowedECDHCurves:"),
    ("LBService", "spec.applications.*.tlsConfig.allowedSignatureAlgorithms"): (
        _svc("    tlsProxy:\n" + ROUTE + "        tlsConfig:\n          certificates: [{secretRef: {name: c}}]\n"
             "          allowedSignatureAlgorithms: [ecdsa_secp256r1_sha256]\n"), "allowedSignatureAlgorithms:"),
    ("LBService", "spec.proxyProtocolConfig.disallowedVersions"): (
        _svc("    tcpProxy:\n" + ROUTE).replace("  port: 80\n", "  port: 80\n  proxyProtocolConfig: {disallowedVersions: [1]}\n"),
        "proxyProtocolConfig:"),
    ("LBService", "spec.proxyProtocolConfig.passthroughTLVs"): (
        _svc("    tcpProxy:\n" + ROUTE).replace("  port: 80\n", "  port: 80\n  proxyProtocolConfig:\n    passthroughTLVs: [5]\n"),
        "passthroughTLVs:"),
    ("LBBackendPool", "spec.healthCheck.http.send"): (
        POOL.replace("SPEC", "  healthCheck:\n    http:\n      send: {text: \"474554\"}"), "send:"),
    ("LBBackendPool", "spec.healthCheck.http.receive"): (
        POOL.replace("SPEC", "  healthCheck:\n    http:\n      receive: [{text: \"4f4b\"}]"), "receive:"),
    ("LBBackendPool", "spec.healthCheck.tcp.send"): (
        POOL.replace("SPEC", "  healthCheck:\n    tcp:\n      send: {text: \"50494e47\"}\n      receive: [{text: \"504f4e47\"}]"), "send:"),
    ("LBBackendPool", "spec.healthCheck.tcp.receive"): (
        POOL.replace("SPEC", "  healthCheck:\n    tcp:\n      send: {text: \"50494e47\"}\n      receive: [{text: \"504f4e47\"}]"), "receive:"),
    ("IsovalentBFDProfile", "spec.echoFunction"): ("""
apiVersion: isovalent.com/v1alpha1
kind: IsovalentBFDProfile
metadata: {name: bfd}
spec:
  echoFunction: {directions: [Receive]}
""", "echoFunction:"),
    **{k: v for fam, api in (("IsovalentBGP", "isovalent.com/v1"), ("CiliumBGP", "cilium.io/v2")) for k, v in {
        (f"{fam}PeerConfig", "spec.families[].afi"): (f"""
apiVersion: {api}
kind: {fam}PeerConfig
metadata: {{name: p}}
spec:
  families:
    - {{afi: ipv4, safi: unicast}}
    - {{afi: l2vpn, safi: unicast}}
""", "l2vpn"),
        (f"{fam}PeerConfig", "spec.families[].safi"): (f"""
apiVersion: {api}
kind: {fam}PeerConfig
metadata: {{name: p}}
spec:
  families:
    - {{afi: ipv4, safi: multicast}}
""", "multicast"),
        (f"{fam}Advertisement", "spec.advertisements[].attributes.communities.wellKnown"): (f"""
apiVersion: {api}
kind: {fam}Advertisement
metadata: {{name: a}}
spec:
  advertisements:
    - advertisementType: Service
      service: {{addresses: [LoadBalancerIP]}}
      selector: {{matchLabels: {{app: web}}}}
      attributes:
        communities:
          wellKnown: [no-export, blackhole]
""", "wellKnown:"),
    }.items()},
    ("Service", "spec.ports[].protocol"): ("""
apiVersion: v1
kind: Service
metadata:
  namespace: default
  name: dns
  annotations: {lbipam.cilium.io/sharing-key: shared}
spec:
  type: LoadBalancer
  ports:
    - {name: tcp, port: 53}
    - {name: udp, port: 53, protocol: UDP}
""", "protocol: UDP"),
    ("Service", "spec.externalTrafficPolicy"): ("""
apiVersion: v1
kind: Service
metadata: {namespace: default, name: local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: 80}]
""", "externalTrafficPolicy: Local"),
    ("Service", "spec.sessionAffinityConfig.clientIP.timeoutSeconds"): ("""
apiVersion: v1
kind: Service
metadata: {namespace: default, name: sticky}
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP: {timeoutSeconds: 60}
  ports: [{port: 80}]
""", "timeoutSeconds: 60"),
    ("CiliumLoadBalancerIPPool", "spec.blocks[].cidr"): ("""
apiVersion: cilium.io/v2
kind: CiliumLoadBalancerIPPool
metadata: {name: p}
spec:
  blocks:
    - cidr: 100.64.0.0/24
    - cidr: "2001:db8::/120"
""", "2001:db8::/120"),
    ("CiliumLoadBalancerIPPool", "spec.blocks[].start"): ("""
apiVersion: cilium.io/v2
kind: CiliumLoadBalancerIPPool
metadata: {name: p}
spec:
  blocks:
    - {start: "2001:db8::1", stop: "2001:db8::9"}
""", "2001:db8::1"),
    ("ConfigMap", "data"): ("""
apiVersion: v1
kind: ConfigMap
metadata: {namespace: kube-system, name: cilium-config}
data:
  routing-mode: tunnel
  tunnel-protocol: geneve
  bpf-lb-maglev-table-size: "16381"
""", "data:"),
    ("LBService", "spec.applications.*.routes[].requestFiltering.rules[].clientCertificateSANs"): (
        _svc("    httpsProxy:\n        tlsConfig: {certificates: [{secretRef: {name: c}}]}\n" + ROUTE
             + "            requestFiltering:\n              ruleType: Allow\n              rules:\n"
             "                - clientCertificateSANs: [{type: DNS, value: {exact: a.io}}]\n"), "clientCertificateSANs:"),
    ("LBService", "spec.applications.*.routes[].connectionFiltering.rules[].clientCertificateSANs"): (
        _svc("    tlsProxy:\n        tlsConfig: {certificates: [{secretRef: {name: c}}]}\n" + ROUTE
             + "            connectionFiltering:\n              ruleType: Deny\n              rules:\n"
             "                - clientCertificateSANs: [{type: DNS, value: {exact: a.io}}]\n"), "clientCertificateSANs:"),
    ("LBService", "spec.applications.*.routes[].requestFiltering.rules[].jwtClaims"): (
        _svc("    httpProxy:\n" + ROUTE + "            requestFiltering:\n              ruleType: Deny\n"
             "              rules:\n                - jwtClaims: [{name: sub, value: {exact: bob}}]\n"), "jwtClaims:"),
    ("LBBackendPool", "spec.proxyProtocolConfig.passthroughTLVs"): (
        POOL.replace("SPEC", TCP_CHECK + "  proxyProtocolConfig:\n    version: 2\n    passthroughTLVs: [5]"),
        "passthroughTLVs:"),
    ("LBBackendPool", "spec.tlsConfig.allowedECDHCurves"): (
        POOL.replace("SPEC", TCP_CHECK + "  tlsConfig:\n    allowedECDHCurves: [X25519]"), "allowedECDHCurves:"),
    ("LBBackendPool", "spec.tlsConfig.allowedSignatureAlgorithms"): (
        POOL.replace("SPEC", TCP_CHECK + "  tlsConfig:\n    allowedSignatureAlgorithms: [ecdsa_secp256r1_sha256]"),
        "allowedSignatureAlgorithms:"),
    ("LBBackendPool", "spec.healthCheck.tlsConfig.allowedECDHCurves"): (
        POOL.replace("SPEC", "  healthCheck:\n    tcp: {}\n    tlsConfig:\n      allowedECDHCurves: [X25519]"),
        "allowedECDHCurves:"),
    ("LBBackendPool", "spec.healthCheck.tlsConfig.allowedSignatureAlgorithms"): (
        POOL.replace("SPEC", "  healthCheck:\n    tcp: {}\n    tlsConfig:\n"
                     "      allowedSignatureAlgorithms: [ecdsa_secp256r1_sha256]"), "allowedSignatureAlgorithms:"),
}


# fields carried out since issue 14: what used to be refused lints without a not-implemented finding
CARRIED: dict[tuple[str, str], tuple[str, str]] = {
    ("LBBackendPool", "spec.backendType"): (
        POOL.replace("  backendType: IP\n  backends: [{ip: 10.0.0.1, port: 80}]\nSPEC",
                     TCP_CHECK + "  backendType: K8sService\n  backends: [{k8sServiceRef: {name: web}, port: 80}]"),
        "backendType:"),
    ("Service", "spec.type"): ("""
apiVersion: v1
kind: Service
metadata:
  namespace: default
  name: legacy
  annotations: {lbipam.cilium.io/sharing-key: shared}
spec:
  type: LoadBalancer
  ports: [{port: 80}, {port: 443, protocol: TCP}]
""", "type: LoadBalancer"),
    ("LBService", "spec.applications.*.rateLimits"): (
        _svc("    httpProxy:\n" + ROUTE + "        rateLimits: {connections: {limit: 5, timePeriodSeconds: 1}}\n"),
        "rateLimits:"),
    ("LBService", "spec.applications.*.connectionFiltering"): (
        _svc("    httpProxy:\n" + ROUTE + "        connectionFiltering:\n          ruleType: Deny\n"
             "          rules: [{sourceCIDR: {cidr: 10.0.0.0/8}}]\n"), "connectionFiltering:"),
    ("LBService", "spec.applications.*.httpConfig"): (
        _svc("    httpProxy:\n" + ROUTE + "        httpConfig: {enableHTTP2: false}\n"), "httpConfig:"),
    ("LBService", "spec.applications.*.routes[].rateLimits"): (
        _svc("    httpProxy:\n" + ROUTE + "            rateLimits: {requests: {limit: 5, timePeriodSeconds: 1}}\n"),
        "rateLimits:"),
    ("LBService", "spec.applications.*.routes[].requestFiltering"): (
        _svc("    httpProxy:\n" + ROUTE + "            requestFiltering:\n              ruleType: Allow\n"
             "              rules: [{path: {prefix: /api}}]\n"), "requestFiltering:"),
    ("LBService", "spec.applications.*.routes[].connectionFiltering"): (
        _svc("    tcpProxy:\n" + ROUTE + "            connectionFiltering:\n              ruleType: Deny\n"
             "              rules: [{sourceCIDR: {cidr: 10.0.0.0/8}}]\n"), "connectionFiltering:"),
    ("LBService", "spec.applications.*.routes[].persistentBackend"): (
        _svc("    httpProxy:\n" + ROUTE + "            persistentBackend:\n              sourceIP: true\n"
             "              headers: [{name: x-user}]\n"), "persistentBackend:"),
    ("LBBackendPool", "spec.tlsConfig"): (POOL.replace("SPEC", TCP_CHECK + "  tlsConfig: {minTLSVersion: TLSv1_2}"), "tlsConfig:"),
    ("LBBackendPool", "spec.healthCheck.tlsConfig"): (
        POOL.replace("SPEC", "  healthCheck:\n    http: {path: /}\n    tlsConfig: {minTLSVersion: TLSv1_2}"), "tlsConfig:"),
    ("LBBackendPool", "spec.proxyProtocolConfig"): (
        POOL.replace("SPEC", TCP_CHECK + "  proxyProtocolConfig: {version: 2}"), "proxyProtocolConfig:"),
    ("LBBackendPool", "spec.httpConfig"): (POOL.replace("SPEC", TCP_CHECK + "  httpConfig: {enableHTTP2: true}"), "httpConfig:"),
    # issue 14 item 2: served by tier 1 straight to the backends
    ("LBService", "spec.applications.udpProxy"): (_svc("    udpProxy:\n" + ROUTE), "udpProxy:"),
    ("LBService", "spec.applications.*.forceDeploymentMode"): (T1_SVC, "forceDeploymentMode:"),
}


@pytest.mark.parametrize("key", sorted(CARRIED), ids=[f"{k}:{p}" for k, p in sorted(CARRIED)])
def test_carried_fields_are_not_refused(key):
    text, _ = CARRIED[key]
    report = lint_text(text)
    assert by_rule(report, "schema") == [], [p.message for p in by_rule(report, "schema")]
    assert by_rule(report, RULE) == [], [p.message for p in by_rule(report, RULE)]


def test_every_refusal_has_a_sample():
    assert set(SAMPLES) == {(r.kind, r.path) for r in REFUSALS}


@pytest.mark.parametrize("refusal", REFUSALS, ids=[f"{r.kind}:{r.path}" for r in REFUSALS])
def test_refusal_is_located_and_names_the_field(refusal):
    text, needle = SAMPLES[(refusal.kind, refusal.path)]
    report = lint_text(text)
    assert by_rule(report, "schema") == [], [p.message for p in by_rule(report, "schema")]
    last = refusal.path.replace("[]", "").split(".")[-1]
    found = [p for p in by_rule(report, RULE) if p.resource.startswith(refusal.kind + "/")
             and (last in p.message.split(" is ")[0] or refusal.path == "data")]
    assert len(found) == 1, [p.message for p in by_rule(report, RULE)]
    [p] = found
    lines = text.lstrip("\n").splitlines()
    assert needle in lines[p.line - 1], (p.line, lines[p.line - 1])
    assert p.severity == refusal.severity and "not implemented by cilium-lb" in p.message
    if refusal.path == "data":
        assert "data.tunnel-protocol geneve is not implemented" in p.message and "VXLAN tunnels only" in p.message


def test_values_that_are_carried_out_are_not_refused():
    ok = [
        _svc("    tcpProxy:\n" + ROUTE + "        forceDeploymentMode: t1-t2\n"),
        _svc("    httpProxy:\n" + ROUTE + "            persistentBackend: {headers: [{name: x-user}]}\n"
             "            auth:\n              basic: {disabled: false}\n"),
        POOL.replace("SPEC", "  healthCheck: {tcp: {}}"),
        """
apiVersion: v1
kind: Service
metadata: {namespace: default, name: other, annotations: {lbipam.cilium.io/sharing-key: shared}}
spec: {type: LoadBalancer, loadBalancerClass: example.com/other, ports: [{port: 80}]}
""",
        # cilium-config is found in any namespace, kube-system first: this one is not it
        """
apiVersion: v1
kind: ConfigMap
metadata: {namespace: kube-system, name: cilium-config}
data: {bpf-lb-maglev-table-size: "16381"}
---
apiVersion: v1
kind: ConfigMap
metadata: {namespace: team, name: cilium-config}
data: {routing-mode: tunnel, tunnel-protocol: geneve}
""",
        # the pod networking keys are carried out; geneve only with tunnelling is refused
        """
apiVersion: v1
kind: ConfigMap
metadata: {namespace: kube-system, name: cilium-config}
data: {routing-mode: native, tunnel-protocol: geneve, auto-direct-node-routes: "true",
       ipv4-native-routing-cidr: 10.0.0.0/8, enable-ipv4-masquerade: "true", enable-bandwidth-manager: "true"}
""",
    ]
    for text in ok:
        assert by_rule(lint_text(text), RULE) == [], text


def test_examples_refuse_nothing():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == [], name


def test_cilium_config_outside_kube_system_is_refused_when_it_is_the_only_one():
    text = """
apiVersion: v1
kind: ConfigMap
metadata: {namespace: cilium, name: cilium-config}
data: {tunnel-protocol: geneve}
"""
    [p] = by_rule(lint_text(text), RULE)
    assert p.resource == "ConfigMap/cilium/cilium-config" and "data.tunnel-protocol geneve is not implemented" in p.message


# Every field of not_implemented.BGP_REFUSED set, on its own line marked with its path; a
# family's kind lacks some of them (its schema would refuse them), so each kind has its own.
BGP_SETS = {
    "IsovalentBGP": ("isovalent.com/v1", """
kind: IsovalentBGPClusterConfig
metadata: {name: c}
spec:
  bgpInstances:
    - name: i0
      localASN: 64512
      vrfs: [{vrfRef: blue}]  # spec.bgpInstances[].vrfs
      routeReflector: {role: Client, clusterID: 10.0.0.1, peeringAddressFamily: IPv4Only}  # spec.bgpInstances[].routeReflector
      peers:
        - name: p0
          autoDiscovery: {mode: Unnumbered, unnumbered: {interface: eth1}}  # spec.bgpInstances[].peers[].autoDiscovery
---
kind: IsovalentBGPPeerConfig
metadata: {name: p}
spec:
  transport:
    sourceInterface: eth1  # spec.transport.sourceInterface
    localPort: 1790  # spec.transport.localPort
  families:
    - afi: ipv4
      safi: unicast
      importPolicyRef: {name: x}  # spec.families[].importPolicyRef
---
kind: IsovalentBGPAdvertisement
metadata: {name: a}
spec:
  advertisements:
    - advertisementType: Service
      selector: {matchLabels: {app: web}}
      service:
        addresses: [LoadBalancerIP]
        aggregationLengthIPv4: 24  # spec.advertisements[].service.aggregationLengthIPv4
        aggregationLengthIPv6: 64  # spec.advertisements[].service.aggregationLengthIPv6
---
kind: IsovalentBGPNodeConfigOverride
metadata: {name: lb-t1-1}
spec:
  bgpInstances:
    - name: i0
      srv6Responder: true  # spec.bgpInstances[].srv6Responder
      maintenance: {mode: Withdrawal}  # spec.bgpInstances[].maintenance
      peers:
        - name: p0
          localAddress: 10.0.0.1  # spec.bgpInstances[].peers[].localAddress
          localPort: 1790  # spec.bgpInstances[].peers[].localPort
          autoDiscovery: {mode: Unnumbered, unnumbered: {interface: eth1}}  # spec.bgpInstances[].peers[].autoDiscovery
"""),
    "CiliumBGP": ("cilium.io/v2", """
kind: CiliumBGPClusterConfig
metadata: {name: c}
spec:
  bgpInstances:
    - name: i0
      localASN: 64512
      peers:
        - name: p0
          autoDiscovery: {mode: DefaultGateway, defaultGateway: {addressFamily: ipv4}}  # spec.bgpInstances[].peers[].autoDiscovery
        - name: p1
          peerAddress: 10.0.0.9
          peerInterface: eth1  # spec.bgpInstances[].peers[].peerInterface
---
kind: CiliumBGPPeerConfig
metadata: {name: p}
spec:
  transport:
    sourceInterface: eth1  # spec.transport.sourceInterface
    localPort: 1790  # spec.transport.localPort
---
kind: CiliumBGPAdvertisement
metadata: {name: a}
spec:
  advertisements:
    - advertisementType: Service
      selector: {matchLabels: {app: web}}
      service:
        addresses: [LoadBalancerIP]
        aggregationLengthIPv4: 24  # spec.advertisements[].service.aggregationLengthIPv4
        aggregationLengthIPv6: 64  # spec.advertisements[].service.aggregationLengthIPv6
---
kind: CiliumBGPNodeConfigOverride
metadata: {name: lb-t1-1}
spec:
  bgpInstances:
    - name: i0
      peers:
        - name: p0
          localAddress: 10.0.0.1  # spec.bgpInstances[].peers[].localAddress
          localPort: 1790  # spec.bgpInstances[].peers[].localPort
          peerInterface: eth1  # spec.bgpInstances[].peers[].peerInterface
"""),
}


@pytest.mark.parametrize("family", sorted(BGP_SETS))
def test_bgp_fields_refused_wherever_set_are_refused_at_their_line(family):
    api, body = BGP_SETS[family]
    text = "\n---".join(f"\napiVersion: {api}" + doc for doc in body.split("\n---"))
    report = lint_text(text)
    assert by_rule(report, "schema") == [], [p.message for p in by_rule(report, "schema")]
    lines = text.lstrip("\n").splitlines()
    marked = {}  # (kind, path) -> line
    kind = None
    for n, line in enumerate(lines, 1):
        if line.startswith("kind: "):
            kind = line.split()[1]
        if "  # spec." in line:
            marked[(kind, line.rsplit("# ", 1)[1])] = n
    listed = {(k, p) for suffix, paths in BGP_REFUSED.items() for k in (family + suffix,) for p in paths}
    # the sample sets every listed field its kind's schema has, and nothing else
    assert set(marked) == {(k, p) for k, p in listed if _steps(p) in KINDS[k]}
    found = {(p.resource.split("/")[0], p.line) for p in by_rule(report, RULE) if p.severity == Severity.WARNING}
    missing = [f"{k}: {path} (line {n})" for (k, path), n in sorted(marked.items()) if (k, n) not in found]
    assert not missing, missing


def test_bgp_values_the_node_carries_out_are_not_refused():
    text = """
apiVersion: cilium.io/v2
kind: CiliumBGPPeerConfig
metadata: {name: p}
spec:
  families:
    - {afi: ipv4, safi: unicast}
    - {afi: ipv6, safi: unicast}
---
apiVersion: cilium.io/v2
kind: CiliumBGPAdvertisement
metadata: {name: a}
spec:
  advertisements:
    - advertisementType: Service
      service: {addresses: [LoadBalancerIP]}
      selector: {matchLabels: {app: web}}
      attributes: {communities: {wellKnown: [no-export, no-advertise, no-export-subconfed, no-peer]}}
"""
    assert by_rule(lint_text(text), RULE) == []


def test_t1_only_pool_draws_only_the_health_check_warning():
    """A t1-only service over a consistentHashing pool with weights and a Draining backend is
    carried out; the health check the schema requires is the one thing tier 1 does not do."""
    pool = POOL.replace("  backends: [{ip: 10.0.0.1, port: 80}]\nSPEC",
                        "  backends: [{ip: 10.0.0.2, port: 81, weight: 3}, {ip: 10.0.0.3, port: 80, status: Draining}]\n"
                        + TCP_CHECK + "  loadbalancing:\n    algorithm:\n      consistentHashing: {}\n")
    report = lint_text(T1_SVC + "---" + pool)
    found = by_rule(report, RULE)
    assert [(p.severity, p.resource) for p in found] == [(Severity.WARNING, "LBBackendPool/default/be")], found
    assert "spec.healthCheck is not implemented" in found[0].message
    # the same pool behind a two-tier service: nothing refused
    assert by_rule(lint_text(T1_SVC.replace("forceDeploymentMode: t1-only", "forceDeploymentMode: t1-t2")
                             + "---" + pool), RULE) == []
