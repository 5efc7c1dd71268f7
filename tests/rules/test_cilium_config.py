"""cilium-config: option values and combinations of kube-system/cilium-config."""

from __future__ import annotations

from lbcli.lint.problem import Severity
from tests.lintkit import by_rule, line_of, lint_example, lint_text

RULE = "cilium-config"


def config(body: str, namespace: str = "kube-system") -> str:
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cilium-config\n"
            f"  namespace: {namespace}\ndata:\n" + "".join(f"  {ln}\n" for ln in body.splitlines()))


def findings(body: str):
    text = config(body)
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return text, sorted(by_rule(report, RULE), key=lambda p: p.line)


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_native_routing_setup_is_clean():
    _, probs = findings('routing-mode: native\nauto-direct-node-routes: "true"\n'
                        'ipv4-native-routing-cidr: 10.244.0.0/16\nenable-bandwidth-manager: "true"\n'
                        'enable-bbr: "true"\nbpf-lb-algorithm: maglev\nbpf-lb-maglev-table-size: "16381"\n'
                        'bpf-lb-mode: dsr\nenable-ipv6-fragment-tracking: "true"\nmy-own-key: anything')
    assert probs == []


def test_cilium_config_in_any_namespace():
    # Cilium is often installed outside kube-system (e.g. the `cilium` namespace)
    probs = by_rule(lint_text(config("routing-mode: bogus", namespace="cilium")), RULE)
    assert [p.message for p in probs] == ["routing-mode 'bogus' is not one of tunnel, native"]
    assert probs[0].resource == "ConfigMap/cilium/cilium-config"


def test_kube_system_cilium_config_wins_over_other_namespaces():
    text = config("routing-mode: bogus", namespace="cilium") + "---\n" + config("routing-mode: tunnel")
    assert by_rule(lint_text(text), RULE) == []


def test_enum_value_with_suggestion():
    text, [p] = findings("routing-mode: Native\nipv4-native-routing-cidr: 10.0.0.0/8")
    assert p.line == line_of(text, "routing-mode")
    assert "routing-mode 'Native' is not one of tunnel, native; did you mean 'native'?" in p.message


def test_booleans():
    text, probs = findings('enable-ipv4-masquerade: "yes"\nenable-bandwidth-manager: "True"')
    assert [(p.line, p.severity) for p in probs] == [
        (line_of(text, "enable-ipv4-masquerade"), Severity.ERROR),
        (line_of(text, "enable-bandwidth-manager"), Severity.WARNING)]
    assert "enable-ipv4-masquerade 'yes' is not a boolean" in probs[0].message
    assert "'True' is read as true; write \"true\"" in probs[1].message


def test_number_and_cidr():
    text, probs = findings('bpf-lb-algorithm: maglev\nbpf-lb-maglev-table-size: "16k"\n'
                           'routing-mode: native\nipv4-native-routing-cidr: 10.244.0.0')
    assert [p.line for p in probs] == [line_of(text, "bpf-lb-maglev-table-size"),
                                       line_of(text, "ipv4-native-routing-cidr")]
    assert "'16k' is not an integer" in probs[0].message
    assert "has '10.244.0.0', which is not an IPv4 CIDR" in probs[1].message


def test_native_routing_needs_cidr():
    text, [p] = findings("routing-mode: native")
    assert p.line == line_of(text, "routing-mode")
    assert "needs ipv4-native-routing-cidr" in p.message
    _, probs = findings('routing-mode: native\nenable-ipv4-masquerade: "false"')
    assert probs == []


def test_auto_direct_node_routes_with_tunnel():
    # routing-mode defaults to tunnel
    text, [p] = findings('auto-direct-node-routes: "true"')
    assert p.line == line_of(text, "auto-direct-node-routes")
    assert "needs routing-mode native" in p.message


def test_tunnel_protocol_with_native_warns():
    text, [p] = findings("routing-mode: native\ntunnel-protocol: vxlan\nipv4-native-routing-cidr: 10.0.0.0/8")
    assert p.severity == Severity.WARNING
    assert p.line == line_of(text, "tunnel-protocol")
    assert "ignored with routing-mode native" in p.message


def test_dsr_over_vxlan():
    text, [p] = findings("routing-mode: tunnel\ntunnel-protocol: vxlan\nbpf-lb-mode: dsr")
    assert p.line == line_of(text, "bpf-lb-mode")
    assert "needs tunnel-protocol geneve and bpf-lb-dsr-dispatch geneve (have vxlan, opt)" in p.message
    _, probs = findings("tunnel-protocol: geneve\nbpf-lb-mode: hybrid\nbpf-lb-dsr-dispatch: geneve")
    assert probs == []


def test_bbr_needs_bandwidth_manager():
    text, [p] = findings('enable-bbr: "true"\nenable-bandwidth-manager: "false"')
    assert p.line == line_of(text, "enable-bbr")
    assert "needs enable-bandwidth-manager" in p.message


def test_typo_of_known_key_points_at_key():
    text, probs = findings('tunnel-protcol: geneve\nenable-bandwith-manager: "true"')
    assert [(p.line, p.column) for p in probs] == [(line_of(text, "tunnel-protcol"), 3),
                                                   (line_of(text, "enable-bandwith"), 3)]
    assert all(p.severity == Severity.WARNING for p in probs)
    assert "unknown option 'tunnel-protcol' is ignored by Cilium; did you mean 'tunnel-protocol'?" in probs[0].message
    assert "did you mean 'enable-bandwidth-manager'?" in probs[1].message


def test_removed_tunnel_key():
    text, [p] = findings("tunnel: vxlan")
    assert p.line == line_of(text, "tunnel: vxlan")
    assert "removed in Cilium 1.15" in p.message


def test_maglev_size_without_maglev_algorithm():
    text, [p] = findings('bpf-lb-maglev-table-size: "16381"')
    assert p.severity == Severity.WARNING
    assert "only used with bpf-lb-algorithm maglev (the algorithm is random (the default))" in p.message


def test_tunnel_port_of_the_tier_dispatch_is_refused():
    text, [p] = findings('routing-mode: tunnel\ntunnel-port: "4789"')
    assert p.line == line_of(text, "tunnel-port") and p.severity == Severity.ERROR
    assert "collides with cilium-lb's tier-1 -> tier-2 dispatch" in p.message
    assert findings('routing-mode: tunnel\ntunnel-port: "8472"')[1] == []
    assert findings('routing-mode: native\ntunnel-port: "4789"\nipv4-native-routing-cidr: 10.0.0.0/8')[1] == []


def test_values_upstream_accepts_are_clean():
    # what Cilium's own Helm chart renders (install/kubernetes/cilium/templates/cilium-configmap.yaml)
    # and what its option parsing accepts (lbcli/model/cilium_config.py UPSTREAM)
    _, probs = findings('write-cni-conf-when-ready: /host/etc/cni/net.d/05-cilium.conflist\n'
                        'kube-proxy-replacement: "true"\nbpf-lb-acceleration: testing-only\n'
                        'enable-policy: Default\nk8s-client-qps: "10.5"\nk8s-client-burst: "20"\n'
                        'tunnel-port: "0"\nunderlay-protocol: ipv4\nbpf-lb-mode-annotation: "false"\n'
                        'bpf-ct-global-tcp-max: "0x80000"\nbpf-lb-map-max: "65_536"\nmtu: "1500.0"\n'
                        'bpf-map-dynamic-size-ratio: "0.0025"\nbpf-lb-sock-hostns-only: "true"')
    assert probs == []


def test_kube_proxy_replacement_is_a_boolean_with_the_old_values_named():
    _, [p] = findings('kube-proxy-replacement: strict')
    assert p.severity == Severity.ERROR
    assert p.message == ("kube-proxy-replacement 'strict' is not a boolean (the 'strict' of Cilium "
                         "before 1.15 is now \"true\")")
    _, [p] = findings('kube-proxy-replacement: "1"')
    assert p.severity == Severity.WARNING and "read as true" in p.message


def test_empty_boolean_and_integer_are_read_as_false_and_0():
    _, probs = findings('enable-ipv4: ""\nbpf-lb-map-max: ""')
    assert [(p.severity, p.message) for p in probs] == [
        (Severity.WARNING, 'enable-ipv4 empty is read as false; write "false"'),
        (Severity.WARNING, "bpf-lb-map-max is empty: read as 0")]


def test_ranges_and_floats():
    _, probs = findings('tunnel-port: "70000"\ncluster-id: "-1"\nk8s-client-qps: fast')
    assert sorted(p.message for p in probs) == [
        "cluster-id -1 is out of range (0-511)", "k8s-client-qps 'fast' is not a number",
        "tunnel-port 70000 is out of range (0-65535; 0: the protocol's default)"]
