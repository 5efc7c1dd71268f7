import textwrap

from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text

BGP = EXAMPLES / "rebel-base" / "bgp.yaml"
POOL = EXAMPLES / "rebel-base" / "ippool.yaml"


def _rebel(**files: str):
    """rebel-base plus extra files named by keyword (x.yaml), text dedented."""
    report = lint_example("rebel-base", extra={f"{k}.yaml": textwrap.dedent(v) for k, v in files.items()})
    assert by_rule(report, "schema") == []
    return by_rule(report, "selector-match")


def test_examples_match():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), "selector-match") == []


ADV = """
apiVersion: isovalent.com/v1
kind: IsovalentBGPAdvertisement
metadata:
  name: extra
  labels: {advertisement: extra}
spec:
  advertisements:
    - advertisementType: Service
      service: {addresses: [LoadBalancerIP]}
      selector:
        matchLabels: SEL
"""


def test_advertisement_selector_matching_nothing():
    text = ADV.replace("SEL", "{app: nope}")
    [p] = _rebel(adv=text)
    assert p.file == "adv.yaml" and p.line == line_of(text, "selector:")
    assert "selector (app=nope) matches no load-balanced service" in p.message


def test_advertisement_matches_lbservice_by_vip_name_label():
    assert _rebel(adv=ADV.replace("SEL", "{loadbalancer.isovalent.com/vip-name: https-proxy}")) == []


def test_advertisement_without_selector_advertises_nothing():
    text = ADV.replace("      selector:\n        matchLabels: SEL\n", "")
    [p] = _rebel(adv=text)
    assert p.line == line_of(text, "advertisementType: Service")
    assert "without selector advertises no service" in p.message


def test_advertisement_matches_v1_loadbalancer_service_only():
    svc = """
    apiVersion: v1
    kind: Service
    metadata: {name: legacy, namespace: default, labels: {app: legacy}}
    spec:
      type: TYPE
      ports: [{port: 80}]
    """
    adv = ADV.replace("SEL", "{app: legacy}")
    assert _rebel(adv=adv, svc=svc.replace("TYPE", "LoadBalancer")) == []
    [p] = _rebel(adv=adv, svc=svc.replace("TYPE", "ClusterIP"))
    assert p.file == "adv.yaml" and "app=legacy" in p.message


def test_peer_family_selector_matching_no_advertisement():
    text = BGP.read_text().replace("advertisement: ilb\n  bfdProfileRef", "advertisement: lib\n  bfdProfileRef")
    report = lint_example("rebel-base", extra={str(BGP): text})
    [p] = by_rule(report, "selector-match")
    assert p.line == line_of(text, "advertisements:") and p.file == str(BGP)
    assert "selector (advertisement=lib) matches no IsovalentBGPAdvertisement" in p.message


def test_cluster_config_node_selector():
    text = BGP.read_text().replace("service.cilium.io/node: t1", "service.cilium.io/node: tier1")
    report = lint_example("rebel-base", extra={str(BGP): text})
    [p] = by_rule(report, "selector-match")
    assert p.line == line_of(text, "nodeSelector:")
    assert "selector (service.cilium.io/node=tier1) matches no Node" in p.message


def test_node_selectors_unchecked_without_nodes():
    text = """
    apiVersion: isovalent.com/v1
    kind: IsovalentBGPClusterConfig
    metadata: {name: cc}
    spec:
      nodeSelector: {matchLabels: {rack: r9}}
      bgpInstances: [{name: i0, localASN: 65001}]
    """
    report = lint_text(text)
    assert by_rule(report, "schema") == [] and by_rule(report, "selector-match") == []


POOL_SEL = """
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: sel-pool}
spec:
  blocks: [{cidr: 198.51.100.0/24}]
  serviceSelector:
    matchLabels: SEL
"""


def test_pool_selector():
    [p] = _rebel(pool=POOL_SEL.replace("SEL", "{team: blue}"))
    assert p.file == "pool.yaml" and p.line == line_of(POOL_SEL, "serviceSelector:")
    assert "selector (team=blue) matches no LBVIP or Service of type LoadBalancer" in p.message
    # Cilium's namespace/name labels and the VIP name label select the rebel-base LBVIP
    for sel in ("{io.kubernetes.service.namespace: default}", "{io.kubernetes.service.name: https-proxy}",
                "{loadbalancer.isovalent.com/vip-name: https-proxy}"):
        assert _rebel(pool=POOL_SEL.replace("SEL", sel)) == []


DEPLOY = """
apiVersion: isovalent.com/v1alpha1
kind: LBDeployment
metadata: {namespace: default, name: lab}
spec:
  services:
    labelSelector:
      matchLabels: {tier: SVC}
  nodes:
    labelSelectors:
      t1:
        matchLabels: {service.cilium.io/node: T1}
      t2:
        matchLabels: {service.cilium.io/node: t2}
"""


def test_deployment_selectors():
    svc = EXAMPLES / "rebel-base" / "vip-service.yaml"
    labelled = svc.read_text().replace("  name: https-proxy\nspec:\n  vipRef",
                                       "  name: https-proxy\n  labels: {tier: gold}\nspec:\n  vipRef")
    extra = {str(svc): labelled, "dep.yaml": DEPLOY.replace("SVC", "gold").replace("T1", "t1")}
    assert by_rule(lint_example("rebel-base", extra=extra), "selector-match") == []
    bad = DEPLOY.replace("SVC", "silver").replace("T1", "t3")
    extra["dep.yaml"] = bad
    problems = by_rule(lint_example("rebel-base", extra=extra), "selector-match")
    assert [(p.line, p.message) for p in problems] == [
        (line_of(bad, "labelSelector:"), "selector (tier=silver) matches no LBService in namespace default"),
        (line_of(bad, "t1:"), "selector (service.cilium.io/node=t3) matches no Node for tier t1"),
    ]
