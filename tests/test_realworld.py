"""Public manifests nobody here wrote (tests/realworld/, one set per directory, each file with
its source and licence in a header): validate gives exactly the findings listed, so a false
positive (or a lost true one) fails here. The mistakes real repositories were seen to make
(a misspelt `disabled`, an apiVersion typo, a duplicate key, overlapping pools) are put into
these files in memory and must still be caught."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .lintkit import lint_texts

CORPUS = Path(__file__).resolve().parent / "realworld"
SETS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())

_NOT_IMPL = "not-implemented"
# set -> [(file, line, severity, rule)]; every error and warning, and the infos
EXPECTED: dict[str, list[tuple[str, int, str, str]]] = {
    "cilium-bgp-cplane-dev-v4": [
        ("bgpp.yaml", 5, "INFO", "not-carried-out"),
        ("service-advertisement-resources.yaml", 40, "WARNING", "lb-service-endpoints"),  # served; no slices in the set
    ],
    "cilium-ad-multi-homing": [
        ("bgp.yaml", 18, "WARNING", _NOT_IMPL),  # autoDiscovery
        ("bgp.yaml", 30, "INFO", "ref-secret"),
    ],
    "cilium-ad-service": [
        ("bgp.yaml", 29, "WARNING", _NOT_IMPL),  # autoDiscovery
        ("bgp.yaml", 41, "INFO", "ref-secret"),
        ("bgp.yaml", 73, "WARNING", _NOT_IMPL), ("bgp.yaml", 74, "WARNING", _NOT_IMPL),  # ClusterIP, ExternalIP
        ("bgp.yaml", 85, "WARNING", _NOT_IMPL), ("bgp.yaml", 86, "WARNING", _NOT_IMPL),
    ],
    "cilium-bgp-cplane-dev-dual": [("bgpp.yaml", 5, "INFO", "not-carried-out")],
    "cilium-bgp-cplane-dev-v6": [("bgpp.yaml", 5, "INFO", "not-carried-out")],
    "cilium-bgpv2-ad-multi-homing": [
        ("bgp.yaml", 18, "WARNING", _NOT_IMPL),  # autoDiscovery (its name "ipv6 65000" is valid)
        ("bgp.yaml", 30, "INFO", "ref-secret"),
    ],
    "cilium-bgpv2-auto-discovery": [
        ("bgp.yaml", 29, "WARNING", _NOT_IMPL),  # autoDiscovery
        ("bgp.yaml", 41, "INFO", "ref-secret"),  # no Secret in the set (line 66: PodCIDR, carried out)
        ("bgp.yaml", 73, "WARNING", _NOT_IMPL), ("bgp.yaml", 74, "WARNING", _NOT_IMPL),  # ClusterIP, ExternalIP
        ("bgp.yaml", 85, "WARNING", _NOT_IMPL), ("bgp.yaml", 86, "WARNING", _NOT_IMPL),
        ("lb-ip.yaml", 13, "WARNING", _NOT_IMPL), ("lb-ip.yaml", 28, "WARNING", _NOT_IMPL),  # IPv6 pool blocks
        # v1 LB Services, served: their endpoints are kept with the applications; eTP Local
        ("lb-ip.yaml", 47, "WARNING", "lb-service-endpoints"), ("lb-ip.yaml", 48, "WARNING", _NOT_IMPL),
        ("lb-ip.yaml", 64, "WARNING", "lb-service-endpoints"),
    ],
    "cilium-bgpv2-multi-homing": [
        ("bgp.yaml", 33, "INFO", "ref-secret"),  # (line 58: a PodCIDR advertisement, carried out)
        # per-peer localAddress overrides (the routerIDs are carried out)
        ("bgp.yaml", 74, "WARNING", _NOT_IMPL), ("bgp.yaml", 76, "WARNING", _NOT_IMPL),
        ("bgp.yaml", 89, "WARNING", _NOT_IMPL), ("bgp.yaml", 91, "WARNING", _NOT_IMPL),
    ],
    "cilium-bgpv2-pod-ip-pool": [
        ("bgp.yaml", 4, "INFO", "not-carried-out"),
        ("bgp.yaml", 59, "INFO", "ref-secret"),
        ("bgp.yaml", 84, "WARNING", _NOT_IMPL), ("bgp.yaml", 91, "WARNING", _NOT_IMPL),
    ],
    "cilium-bgpv2-service": [
        ("bgp.yaml", 39, "INFO", "ref-secret"),  # (line 64: a PodCIDR advertisement, carried out)
        ("bgp.yaml", 71, "WARNING", _NOT_IMPL), ("bgp.yaml", 72, "WARNING", _NOT_IMPL),
        ("bgp.yaml", 83, "WARNING", _NOT_IMPL), ("bgp.yaml", 84, "WARNING", _NOT_IMPL),
        ("lb-ip.yaml", 13, "WARNING", _NOT_IMPL), ("lb-ip.yaml", 28, "WARNING", _NOT_IMPL),  # IPv6 pool blocks
        # v1 LB Services: served, but their endpoints are not in the set; one asks for Local
        ("lb-ip.yaml", 44, "WARNING", "lb-service-endpoints"), ("lb-ip.yaml", 45, "WARNING", _NOT_IMPL),
        ("lb-ip.yaml", 58, "WARNING", "lb-service-endpoints"),
    ],
    "cilium-egress-gateway": [("egress-gateway-policy.yaml", 4, "INFO", "not-carried-out")],
    # a cilium-config of Cilium 1.10: only the `tunnel` key, removed in 1.15, is worth saying
    "cilium-examples-1.10": [("cilium-cm.yaml", 112, "WARNING", "cilium-config")],
    "cilium-lb-ipam-gateway-api": [],
    "cilium-multi-homing": [("bgp.yaml", 33, "INFO", "ref-secret")],  # (line 62: PodCIDR, carried out)
    "cilium-pod-ip-pool": [
        ("bgp.yaml", 4, "INFO", "not-carried-out"),
        ("bgp.yaml", 59, "INFO", "ref-secret"),
        ("bgp.yaml", 84, "WARNING", _NOT_IMPL), ("bgp.yaml", 91, "WARNING", _NOT_IMPL),  # CiliumPodIPPool ads
    ],
    "cilium-service": [
        ("bgp.yaml", 39, "INFO", "ref-secret"),
        ("bgp.yaml", 71, "WARNING", _NOT_IMPL), ("bgp.yaml", 72, "WARNING", _NOT_IMPL),  # ClusterIP, ExternalIP
        ("bgp.yaml", 83, "WARNING", _NOT_IMPL), ("bgp.yaml", 84, "WARNING", _NOT_IMPL),
    ],
    "ilb-labs-00-prep": [],
    "ilb-labs-01-basics": [("basics.yaml", 7, "INFO", "vip-in-pool"), ("basics.yaml", 17, "INFO", "tier-nodes")],
    "ilb-labs-02-routing": [("routing.yaml", 7, "INFO", "vip-in-pool"), ("routing.yaml", 17, "INFO", "tier-nodes")],
    "ilb-labs-03-auth": [("auth.yaml", 7, "INFO", "vip-in-pool"), ("auth.yaml", 17, "INFO", "tier-nodes"),
                         ("auth.yaml", 36, "INFO", "ref-secret")],
    "ilb-labs-gui": [
        ("lbservice.yaml", 12, "WARNING", "ref-k8s-service"),  # the Service is kept with the application
        ("lbservice.yaml", 25, "INFO", "vip-in-pool"), ("lbservice.yaml", 33, "INFO", "tier-nodes"),
    ],
}


def _files(name: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((CORPUS / name).glob("*.yaml"))}


def test_every_set_is_listed():
    assert SETS == sorted(EXPECTED)


@pytest.mark.parametrize("name", SETS)
def test_files_name_their_source_and_licence(name):
    for fname, text in _files(name).items():
        head = text.splitlines()[:2]
        assert re.match(r"# Source: https://github\.com/[\w.-]+/[\w.-]+/blob/[0-9a-f]{40}/\S+$", head[0]), fname
        assert re.match(r"# Licence: (Apache-2\.0|MIT) ", head[1]), fname


@pytest.mark.parametrize("name", SETS)
def test_exact_findings(name):
    report = lint_texts(_files(name))
    got = sorted((p.file, p.line, p.severity.name, p.rule) for p in report.problems)
    assert got == sorted(EXPECTED[name]), [(p.file, p.line, p.rule, p.message) for p in report.problems]


def _mutated(name: str, fname: str, old: str, new: str) -> dict[str, str]:
    files = _files(name)
    assert old in files[fname]
    files[fname] = files[fname].replace(old, new, 1)
    return files


def _errors(files: dict[str, str]) -> list:
    """Errors beyond the sets' own refusals of what cilium-lb does not carry out (EXPECTED)."""
    return [p for p in lint_texts(files).problems if p.severity.name == "ERROR" and p.rule != _NOT_IMPL]


def test_true_positive_misspelt_disabled():
    files = _mutated("cilium-lb-ipam-gateway-api", "ip-pool-red.yaml", "spec:\n", "spec:\n  disable: true\n")
    [p] = _errors(files)
    assert p.rule == "schema" and p.message == "unknown field 'disable' in spec; did you mean 'disabled'?"


def test_true_positive_api_version_typo():
    files = _mutated("cilium-bgpv2-service", "lb-ip.yaml", '"cilium.io/v2alpha1"', '"cilium.io/v2alpah1"')
    p, lost = _errors(files)
    assert p.rule == "unknown-kind" and "not served as cilium.io/v2alpah1" in p.message
    # and the Service that pool served has none left
    assert lost.rule == "vip-in-pool" and "selects Service tenant-blue/lb-service-blue" in lost.message


def test_true_positive_duplicate_key():
    files = _mutated("ilb-labs-01-basics", "basics.yaml", "  port: 8080\n", "  port: 8080\n  port: 8081\n")
    assert any(p.rule == "yaml-syntax" and "duplicate" in p.message for p in _errors(files))


def test_true_positive_overlapping_pools():
    files = _mutated("cilium-bgpv2-service", "lb-ip.yaml", '"20.1.10.0/24"', '"20.0.10.128/25"')
    overlap, lost = _errors(files)
    assert overlap.rule == "pool-overlap"
    # Cilium marks the later pool Conflicting: the Service it served gets no address
    assert lost.rule == "vip-in-pool" and "selects Service tenant-red/lb-service-red" in lost.message


def test_true_positive_selector_typo_still_warned():
    # with Services in the set, an advertisement selecting none of them is still reported
    files = _mutated("cilium-bgpv2-service", "bgp.yaml", "values: [ red ]", "values: [ rde ]")
    probs = [p for p in lint_texts(files).problems if p.rule == "selector-match"]
    assert len(probs) == 1 and "bgp In (rde)" in probs[0].message
