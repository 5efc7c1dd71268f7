"""The model.ipam/_refs helpers, and that the rules built on them never raise on odd shapes."""

import textwrap

import pytest

from lbcli.lint.engine import lint
from lbcli.model import ipam as _ipam
from lbcli.manifest.index import ResourceIndex
from lbcli.manifest.ippool import blocks
from lbcli.manifest.loader import LoadResult, load_text
from tests.lintkit import NOW

MY_RULES = {"ref-vip", "ref-backend", "ref-secret", "ref-peer-config", "ref-bfd-profile", "selector-match",
            "single-application", "vip-port-unique", "vip-in-pool", "vip-double-booked", "pool-overlap",
            "bgp-asn", "bfd-profile", "tier-nodes", "duplicate-resource"}


def _load(text: str) -> LoadResult:
    text = textwrap.dedent(text).lstrip("\n")
    result = LoadResult()
    result.files.append("t.yaml")
    result.texts["t.yaml"] = text
    load_text("t.yaml", text, result)
    return result


def test_blocks_and_reserved_addresses():
    res = _load("""
    apiVersion: cilium.io/v2
    kind: CiliumLoadBalancerIPPool
    metadata: {name: p}
    spec:
      allowFirstLastIPs: "No"
      blocks: [{cidr: 10.0.0.0/30}, {cidr: 10.0.1.0/31}, {start: 10.0.2.9, stop: 10.0.2.1}, {cidr: "2001:db8::/126"}]
    """).resources[0]
    got = [(b.text, b.last - b.first + 1, len(b.reserved)) for b in blocks(res)]
    assert got == [("10.0.0.0/30", 4, 2), ("10.0.1.0/31", 2, 0), ("10.0.2.9-10.0.2.1", 9, 0), ("2001:db8::/126", 4, 2)]


def test_requests_and_labels():
    res = _load("""
    apiVersion: v1
    kind: Service
    metadata:
      name: s
      labels: {app: x}
      annotations: {lbipam.cilium.io/ips: " 10.0.0.1 ,bogus,,"}
    spec: {type: LoadBalancer, loadBalancerIP: 10.0.0.2}
    """).resources[0]
    reqs = list(_ipam.requests(res))
    assert [(r.text, r.address is not None) for r in reqs] == [("10.0.0.1", True), ("bogus", False), ("10.0.0.2", True)]
    assert _ipam.labels(res) == {"app": "x", "io.kubernetes.service.namespace": "default",
                                      "io.kubernetes.service.name": "s"}
    assert [r.name for r in _ipam.clients(ResourceIndex([res]))] == ["s"]


ODD = [
    "apiVersion: isovalent.com/v1alpha1\nkind: LBService\nmetadata: {name: a}\nspec: {applications: [1], vipRef: x, port: '80'}\n",
    "apiVersion: isovalent.com/v1alpha1\nkind: LBService\nmetadata: {name: a}\nspec: {applications: {httpsProxy: {tlsConfig: {certificates: [1, {secretRef: 3}], validation: 2}, auth: {basic: 1, jwt: {providers: [1]}}, routes: [1, {backendRef: 2}]}}}\n",
    "apiVersion: isovalent.com/v1alpha1\nkind: LBService\nmetadata: {name: a}\nspec: []\n",
    "apiVersion: cilium.io/v2alpha1\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: p}\nspec: {blocks: [1, {cidr: 300.1.1.1/40}, {start: x, stop: 1}, {cidr: 3}], serviceSelector: 5, disabled: 1}\n",
    "apiVersion: isovalent.com/v1\nkind: IsovalentBGPClusterConfig\nmetadata: {name: c}\nspec: {nodeSelector: 1, bgpInstances: [1, {localASN: x, peers: [1, {peerASN: -1, peerConfigRef: 1}]}]}\n",
    "apiVersion: isovalent.com/v1\nkind: IsovalentBGPPeerConfig\nmetadata: {name: c}\nspec: {bfdProfileRef: 1, authSecretRef: [], families: [1, {advertisements: 2}], timers: {holdTimeSeconds: x}, ebgpMultihop: y}\n",
    "apiVersion: isovalent.com/v1alpha1\nkind: IsovalentBFDProfile\nmetadata: {name: c}\nspec: {detectMultiplier: x, echoFunction: {directions: [Receive, Transmit], receiveIntervalMilliseconds: z}, minimumTTL: q}\n",
    "apiVersion: isovalent.com/v1\nkind: IsovalentBGPAdvertisement\nmetadata: {name: a, labels: 1}\nspec: {advertisements: [1, {advertisementType: Service, selector: 7}]}\n",
    "apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata: {name: v, annotations: 1}\nspec: {ipv4Request: 7}\n",
    "apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata: {name: w, labels: []}\nspec: {ipv4Request: 10.1.0.1}\n",
    "apiVersion: cilium.io/v2alpha1\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: q}\nspec: {blocks: [{cidr: 10.1.0.0/24}], serviceSelector: 5}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s, annotations: {lbipam.cilium.io/ips: 1}}\nspec: {type: LoadBalancer, ports: [1, {port: x}], loadBalancerIP: 2}\n",
    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: 1\nstringData: [1]\n",
    "apiVersion: isovalent.com/v1alpha1\nkind: LBDeployment\nmetadata: {name: d}\nspec: {services: 1, nodes: {labelSelectors: {t1: 1}}}\n",
]


@pytest.mark.parametrize("doc", ODD)
def test_rules_never_raise_on_odd_shapes(doc):
    """Without the schema phase every resource counts as valid, so the rules see raw shapes."""
    everything = "---\n".join(ODD)
    for text in (doc, everything):
        report = lint(_load(text), now=NOW, only=MY_RULES)
        assert [p.message for p in report.problems if p.rule == "internal-error"] == []
