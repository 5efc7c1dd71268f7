"""Property: lint and compile agree on what a manifest set means (lbcli.model).

Over generated sets of Nodes, CiliumLoadBalancerIPPools (blocks, selectors on Cilium's service
labels, disabled, allowFirstLastIPs), LBVIPs and v1 LoadBalancer Services (requests, sharing
keys, cross-namespace sharing, loadBalancerClass, the vip-name label) and LBServices:

- a set without lint errors compiles without an error condition, without raising, and every
  plan is valid against the plan schema;
- every error condition compile reports has an error finding on the same object (or, for an
  LBService without VIP address, on its LBVIP);
- a set without any pool (pools kept with the cluster) is not checked against pools: lint
  says so once (info), and every condition compile reports is NoPool.

`not-implemented` is left out here: it refuses fields compile does not carry out (a separate
contract, tests/test_schema_coverage.py), and would hide the v1 Services this test is about.
"""

from __future__ import annotations

import json
import textwrap

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lbcli.compile.plan import compile_plans, dumps
from lbcli.lint.engine import lint
from lbcli.lint.problem import Severity
from lbcli.lint.registry import rules
from lbcli.manifest.loader import LoadResult, load_text
from lbcli.plan.read import check_plan

from .lintkit import NOW

NS = ["default", "shop"]
ADDRS = ["100.64.0.0", "100.64.0.1", "100.64.0.2", "100.64.0.3", "100.64.0.5", "100.64.1.0", "100.64.1.7",
         "100.64.1.2", "100.64.9.9", "not-an-ip"]
SELECTORS = [
    None,
    {"matchLabels": {"io.kubernetes.service.namespace": "shop"}},
    {"matchLabels": {"io.kubernetes.service.name": "v0"}},
    {"matchLabels": {"loadbalancer.isovalent.com/vip-name": "v1"}},
    {"matchLabels": {"team": "blue"}},
    {"matchExpressions": [{"key": "io.kubernetes.service.namespace", "operator": "NotIn", "values": ["shop"]}]},
]
BLOCKS = [{"cidr": "100.64.0.0/30"}, {"cidr": "100.64.0.0/29"}, {"cidr": "100.64.0.4/30"}, {"cidr": "100.64.1.0/31"},
          {"cidr": "100.64.1.7/32"}, {"start": "100.64.1.2", "stop": "100.64.1.3"}]
RULES = {r.id for r in rules()} - {"not-implemented"}


def _meta(ns, name, labels=None, annotations=None):
    m = {"name": name}
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = labels
    if annotations:
        m["annotations"] = annotations
    return m


@st.composite
def pools(draw, i):
    # mostly disjoint pools (overlaps are one lint error among many); sometimes any blocks
    own = BLOCKS if draw(st.integers(0, 4)) == 0 else [BLOCKS[(2 * i + k) % len(BLOCKS)] for k in (0, 5)]
    spec = {"blocks": draw(st.lists(st.sampled_from(own), min_size=1, max_size=2, unique_by=json.dumps))}
    sel = draw(st.sampled_from([None, None] + SELECTORS))
    if sel is not None:
        spec["serviceSelector"] = sel
    if draw(st.booleans()):
        spec["disabled"] = draw(st.booleans())
    if draw(st.booleans()):
        spec["allowFirstLastIPs"] = draw(st.sampled_from(["Yes", "No"]))
    return {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool",
            "metadata": _meta(None, f"p{i}"), "spec": spec}


def _ann(draw):
    ann = {}
    if draw(st.booleans()):
        ann["lbipam.cilium.io/sharing-key"] = draw(st.sampled_from(["k", "j"]))
    if draw(st.integers(0, 3)) == 0:
        ann["lbipam.cilium.io/sharing-cross-namespace"] = draw(st.sampled_from(["*", "shop", "default"]))
    return ann


@st.composite
def lbvips(draw, i):
    spec = {}
    if draw(st.integers(0, 2)) == 0:
        spec["ipv4Request"] = draw(st.sampled_from(ADDRS[:-1]))
    labels = {"team": "blue"} if draw(st.booleans()) else None
    return {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBVIP",
            "metadata": _meta(draw(st.sampled_from(NS)), f"v{i}", labels, _ann(draw)), "spec": spec}


@st.composite
def services(draw, i):
    ann = _ann(draw)
    if draw(st.booleans()):
        ann["lbipam.cilium.io/ips"] = ",".join(draw(st.lists(st.sampled_from(ADDRS), min_size=1, max_size=2)))
    spec = {"type": "LoadBalancer",
            "ports": [{"port": p, "protocol": "TCP"} for p in draw(st.lists(st.sampled_from([80, 81]), min_size=1,
                                                                             max_size=2, unique=True))]}
    if draw(st.integers(0, 3)) == 0:
        spec["loadBalancerClass"] = draw(st.sampled_from(["io.cilium/l2-announcer", "example.com/other"]))
    if draw(st.integers(0, 3)) == 0:
        spec["loadBalancerIP"] = draw(st.sampled_from(ADDRS[:-1]))
    labels = {"loadbalancer.isovalent.com/vip-name": "v0"} if draw(st.integers(0, 4)) == 0 else None
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta(draw(st.sampled_from(NS)), f"s{i}", labels, ann), "spec": spec}


@st.composite
def lbservices(draw, i, vips):
    """Mostly on an existing LBVIP in its namespace; sometimes on a missing one."""
    vip = draw(st.sampled_from(vips)) if vips and draw(st.integers(0, 5)) else None
    ns = vip["metadata"]["namespace"] if vip else draw(st.sampled_from(NS))
    name = vip["metadata"]["name"] if vip else f"v{draw(st.integers(0, 4))}"
    return {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBService",
            "metadata": _meta(ns, f"l{i}"),
            "spec": {"vipRef": {"name": name}, "port": draw(st.sampled_from([80, 443])),
                     "applications": {"tcpProxy": {"routes": [{"backendRef": {"name": "be"}}]}}}}


FIXED = [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"service.cilium.io/node": tier}},
     "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}
    for name, tier, ip in (("t1-a", "t1", "192.168.0.11"), ("t2-a", "t2", "192.168.0.21"))
] + [
    {"apiVersion": "isovalent.com/v1alpha1", "kind": "LBBackendPool", "metadata": _meta(ns, "be"),
     "spec": {"backendType": "IP", "healthCheck": {"tcp": {}}, "backends": [{"ip": "10.0.0.1", "port": 8080}]}}
    for ns in NS
]


@st.composite
def manifest_sets(draw):
    docs = list(FIXED)
    for kind, n in ((pools, 3), (lbvips, 4), (services, 2)):
        docs += [draw(kind(i)) for i in range(draw(st.integers(0, n)))]
    vips = [d for d in docs if d["kind"] == "LBVIP"]
    docs += [draw(lbservices(i, vips)) for i in range(draw(st.integers(0, 3)))]
    return docs


def _lint(docs):
    text = "".join("---\n" + json.dumps(d) + "\n" for d in docs)
    result = LoadResult()
    result.files.append("set.yaml")
    result.texts["set.yaml"] = text
    load_text("set.yaml", text, result)
    return lint(result, now=NOW, only=RULES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest_sets())
def test_lint_and_compile_agree(docs):
    report = _lint(docs)
    errors = [p for p in report.problems if p.severity >= Severity.ERROR]
    try:
        compiled = compile_plans(report.index)
    except Exception:
        if not errors:
            raise
        return  # compile never runs on a set with errors (the CLI refuses it first)
    event("lint errors" if errors else "clean")
    event(f"{len(compiled.conditions and [1])} condition(s)" if compiled.conditions else "no conditions")
    event(f"{len(next(iter(compiled.plans.values())).ipam.assignments)} address(es)")
    # without any pool in the set, NoPool is what lint said it did not check (once, at info)
    unchecked = [c for c in compiled.conditions
                 if not report.index.of_kind("CiliumLoadBalancerIPPool") and c["reason"] == "NoPool"]
    if unchecked:
        assert any(p.rule == "vip-in-pool" and p.severity == Severity.INFO
                   and "has no CiliumLoadBalancerIPPool" in p.message for p in report.problems)
    conditions = [c for c in compiled.conditions if c not in unchecked]
    shown = textwrap.indent("\n".join(f"{p.rule} {p.resource}: {p.message}" for p in errors), "  ")
    if not errors:
        assert conditions == [], conditions
        for name, plan in compiled.plans.items():  # typed NodePlans; their JSON reads back
            assert check_plan(json.loads(dumps(plan)), name) == plan
    flagged = {p.resource for p in errors}
    for c in conditions:
        refs = {c["ref"]}
        if c["type"] == "lb.cilium.io/VIPExist":
            ns, name = c["ref"].split("/")[1:]
            svc = report.index.get("LBService", ns, name)
            refs.add(f"LBVIP/{ns}/{svc.spec['vipRef']['name']}")
        assert refs & flagged, f"{c} has no lint error; errors:\n{shown}"
