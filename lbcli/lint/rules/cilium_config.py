"""The cilium-config ConfigMap holds valid Cilium options that work together.

It is found in any namespace (kube-system first): Cilium is often installed elsewhere.

Cilium reads its options from this ConfigMap as strings. A misspelt key is silently ignored
(the default applies), a boolean spelt `yes` is not a boolean, and some combinations make
the agent refuse to start, which on a load balancer node means no datapath at all.

Values are read as Cilium reads them (lbcli/model/cilium_config.py); the option names and
values follow cilium/cilium (`UPSTREAM` there, recorded in the ConfigMap schema's x-upstream).
Checked, each at its data key:

- enumerations: routing-mode tunnel|native, tunnel-protocol vxlan|geneve, underlay-protocol
  ipv4|ipv6, bpf-lb-mode snat|dsr|hybrid, bpf-lb-algorithm maglev|random, bpf-lb-dsr-dispatch
  opt|ipip|geneve, bpf-lb-acceleration disabled|native|best-effort|testing-only, ipam,
  enable-policy (any case, as Cilium lower-cases it), identity-allocation-mode (error);
- booleans (enable-*, auto-direct-node-routes, kube-proxy-replacement, ...) are strings Go's
  ParseBool accepts (error; kube-proxy-replacement's pre-1.15 strict/partial/probe/disabled
  named), spelt "true"/"false" (warning otherwise: also an empty value, read as false);
  integers parse as Go does (`0x`, `_`, "" is 0: a warning) and floats (k8s-client-qps) too,
  tunnel-port 0-65535 (0: the protocol's default), CIDRs parse (error);
- routing-mode native with IPv4 masquerading needs ipv4-native-routing-cidr (error);
  auto-direct-node-routes only with routing-mode native (error); tunnel-protocol is
  ignored with native routing (warning); bpf-lb-mode dsr/hybrid with tunnelling needs
  geneve dispatch over geneve (error); enable-bbr needs enable-bandwidth-manager (error);
  the removed `tunnel` key (warning); tunnel-port 4789 with routing-mode tunnel (error: the
  tier-1 -> tier-2 dispatch's VXLAN device holds that port on load-balancer nodes, and the
  kernel binds one VXLAN device per port);
- unknown keys that look like typos of known ones get a warning with the suggestion; other
  unknown keys are fine (cilium-config has hundreds of keys).

Maglev table sizes are checked by maglev-prime.

Example (error):

    data:
      routing-mode: native
      auto-direct-node-routes: "yes"    # not a boolean
"""

from __future__ import annotations

from typing import Iterator

from ...model.cilium_config import go_bool, go_float, go_int
from ..finding import Context, Finding
from ..problem import Severity

ID = "cilium-config"
SEVERITY = Severity.ERROR

ENUMS: dict[str, tuple[str, ...]] = {
    "routing-mode": ("tunnel", "native"),
    "tunnel-protocol": ("vxlan", "geneve"),
    "underlay-protocol": ("ipv4", "ipv6"),
    "bpf-lb-mode": ("snat", "dsr", "hybrid"),
    "bpf-lb-algorithm": ("maglev", "random"),
    "bpf-lb-dsr-dispatch": ("opt", "ipip", "geneve"),
    "bpf-lb-acceleration": ("disabled", "native", "best-effort", "testing-only"),  # pkg/datapath/xdp
    "ipam": ("kubernetes", "cluster-pool", "multi-pool", "eni", "azure", "alibabacloud", "crd",
             "delegated-plugin"),
    "enable-policy": ("default", "always", "never"),  # compared lower-cased, as Cilium does
    "identity-allocation-mode": ("crd", "kvstore", "doublewrite-readkvstore", "doublewrite-readcrd"),
}
BOOLEANS = frozenset({
    "auto-direct-node-routes", "bpf-lb-algorithm-annotation", "bpf-lb-external-clusterip",
    "bpf-lb-mode-annotation", "bpf-lb-sock", "bpf-lb-sock-hostns-only", "cni-exclusive", "debug",
    "direct-routing-skip-unreachable", "enable-auto-protect-node-port-range", "enable-bandwidth-manager",
    "enable-bbr", "enable-bgp-control-plane", "enable-bpf-clock-probe", "enable-bpf-masquerade",
    "enable-bpf-tproxy", "enable-cilium-endpoint-slice", "enable-endpoint-health-checking",
    "enable-endpoint-routes", "enable-envoy-config", "enable-external-ips", "enable-gateway-api",
    "enable-health-check-loadbalancer-ip", "enable-health-check-nodeport", "enable-health-checking",
    "enable-host-firewall", "enable-host-legacy-routing", "enable-host-port", "enable-hubble",
    "enable-ingress-controller", "enable-internal-traffic-policy", "enable-ip-masq-agent", "enable-ipsec",
    "enable-ipv4", "enable-ipv4-big-tcp", "enable-ipv4-egress-gateway", "enable-ipv4-fragment-tracking",
    "enable-ipv4-masquerade", "enable-ipv6", "enable-ipv6-big-tcp", "enable-ipv6-masquerade",
    "enable-k8s-networkpolicy", "enable-k8s-terminating-endpoint", "enable-l2-announcements",
    "enable-l2-neigh-discovery", "enable-l2-pod-announcements", "enable-l7-proxy", "enable-lb-ipam",
    "enable-local-redirect-policy", "enable-masquerade-to-route-source", "enable-metrics",
    "enable-node-port", "enable-node-selector-labels", "enable-runtime-device-detection", "enable-sctp",
    "enable-service-topology", "enable-session-affinity", "enable-svc-source-range-check", "enable-tcx",
    "enable-vtep", "enable-well-known-identities", "enable-wireguard", "enable-xt-socket-fallback",
    "encrypt-node", "external-envoy-proxy", "hubble-disable-tls", "install-no-conntrack-iptables-rules",
    "k8s-require-ipv4-pod-cidr", "k8s-require-ipv6-pod-cidr", "kube-proxy-replacement", "mesh-auth-enabled",
    "node-port-bind-protection",
    "policy-audit-mode", "preallocate-bpf-maps", "remove-cilium-node-taints", "set-cilium-is-up-condition",
    "set-cilium-node-taints", "synchronize-k8s-nodes",
})
# kube-proxy-replacement before Cilium 1.15 (then a boolean): what each value now is
KPR_LEGACY = {"strict": "true", "partial": "false", "probe": "false", "disabled": "false"}
NUMBERS = frozenset({
    "bpf-ct-global-any-max", "bpf-ct-global-tcp-max", "bpf-lb-map-max", "bpf-lb-maglev-table-size",
    "bpf-nat-global-max", "bpf-neigh-global-max", "bpf-policy-map-max", "cluster-id",
    "cluster-pool-ipv4-mask-size", "cluster-pool-ipv6-mask-size", "mtu", "tunnel-port",
    "max-connected-clusters", "k8s-client-burst",
})
FLOATS = frozenset({"k8s-client-qps", "operator-k8s-client-qps", "bpf-map-dynamic-size-ratio"})
CIDRS = {"ipv4-native-routing-cidr": 4, "ipv6-native-routing-cidr": 6, "cluster-pool-ipv4-cidr": 4,
         "cluster-pool-ipv6-cidr": 6}
OTHER_KNOWN = frozenset({
    "agent-health-port", "arping-refresh-period", "bgp-secrets-namespace", "bpf-lb-dsr-l4-xlate",
    "bpf-lb-maglev-hash-seed", "bpf-lb-sock-terminate-pod-connections",
    "bpf-root", "cgroup-root", "cilium-endpoint-gc-interval", "cluster-name", "custom-cni-conf",
    "debug-verbose", "default-lb-service-ipam", "devices", "direct-routing-device",
    "egress-masquerade-interfaces", "hubble-listen-address", "hubble-metrics", "hubble-metrics-server",
    "hubble-socket-path", "identity-gc-interval", "identity-heartbeat-timeout", "ipam-cilium-node-update-rate",
    "kube-proxy-replacement-healthz-bind-address", "l2-announcements-lease-duration",
    "l2-announcements-renew-deadline", "l2-announcements-retry-period", "metrics", "monitor-aggregation",
    "monitor-aggregation-flags", "monitor-aggregation-interval", "node-port-range", "nodes-gc-interval",
    "operator-api-serve-addr", "operator-prometheus-serve-addr", "policy-cidr-match-mode", "procfs",
    "prometheus-serve-addr", "proxy-connect-timeout", "proxy-idle-timeout-seconds",
    "proxy-max-connection-duration-seconds", "proxy-max-requests-per-connection",
    "service-no-backend-response", "sidecar-istio-proxy-image", "tofqdns-dns-reject-response-code",
    "tofqdns-enable-dns-compression", "tofqdns-endpoint-max-ip-per-hostname", "tofqdns-proxy-response-max-delay",
    "tunnel", "tunnel-source-port-range", "vtep-cidr", "vtep-endpoint", "vtep-mac", "vtep-mask",
    "write-cni-conf-when-ready",  # the path of the CNI config to write (Helm: .../05-cilium.conflist)
})
KNOWN = sorted(set(ENUMS) | BOOLEANS | NUMBERS | FLOATS | set(CIDRS) | OTHER_KNOWN)
TYPO_CUTOFF = 0.85
DISPATCH_PORT = 4789  # the tier dispatch VXLAN port (lbcli/compile/plan.py)


def check(ctx: Context) -> Iterator[Finding]:
    cm = ctx.index.cilium_config()
    if cm is None or not cm.valid:
        return
    data = cm.body.get("data")
    if not isinstance(data, dict):
        return
    opts = {k: v.strip() for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def at(key: str) -> tuple:
        return ("data", key)

    for key in sorted(opts):
        yield from (Finding(cm, at(key), msg, key=is_key, severity=sev)
                    for msg, is_key, sev in _value_problems(key, opts[key]))
    for key, msg, sev in _combinations(opts):
        yield Finding(cm, at(key), msg, severity=sev)


def _value_problems(key: str, v: str) -> Iterator[tuple[str, bool, Severity | None]]:
    import difflib  # for the suggestions: not imported at every start
    if key in ENUMS:
        if (v.lower() if key == "enable-policy" else v) not in ENUMS[key]:
            close = difflib.get_close_matches(v.lower(), ENUMS[key], n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            yield f"{key} {v!r} is not one of {', '.join(ENUMS[key])}{hint}", False, None
    elif key in BOOLEANS:
        got = go_bool(v)
        if got is None:
            legacy = KPR_LEGACY.get(v.lower()) if key == "kube-proxy-replacement" else None
            hint = (f" (the {v!r} of Cilium before 1.15 is now \"{legacy}\")" if legacy
                    else "; use \"true\" or \"false\"")
            yield f"{key} {v!r} is not a boolean{hint}", False, None
        elif v not in ("true", "false"):
            spelt = "empty" if v == "" else repr(v)
            yield (f"{key} {spelt} is read as {str(got).lower()}; write "
                   f"\"{str(got).lower()}\"", False, Severity.WARNING)
    elif key in NUMBERS:
        n = go_int(v)
        if n is None:
            yield f"{key} {v!r} is not an integer", False, None
        elif v == "":
            yield f"{key} is empty: read as 0", False, Severity.WARNING
        elif key == "cluster-id" and not 0 <= n <= 511:
            yield f"cluster-id {v} is out of range (0-511)", False, None
        elif key == "tunnel-port" and not 0 <= n <= 65535:
            yield f"tunnel-port {v} is out of range (0-65535; 0: the protocol's default)", False, None
    elif key in FLOATS:
        if go_float(v) is None:
            yield f"{key} {v!r} is not a number", False, None
    elif key in CIDRS:
        problem = _cidrs_problem(v, CIDRS[key])
        if problem:
            yield f"{key} {v!r} {problem}", False, None
    elif key == "tunnel":
        yield ("'tunnel' was removed in Cilium 1.15 and is ignored; use routing-mode "
               "(tunnel|native) and tunnel-protocol (vxlan|geneve)"), True, Severity.WARNING
    elif key not in OTHER_KNOWN and key.replace("ipv6", "ipv4") not in KNOWN:
        close = difflib.get_close_matches(key, KNOWN, n=1, cutoff=TYPO_CUTOFF)
        if close:
            yield (f"unknown option '{key}' is ignored by Cilium; did you mean '{close[0]}'?",
                   True, Severity.WARNING)


def _cidrs_problem(v: str, version: int) -> str | None:
    import ipaddress

    parts = v.split()
    if not parts:
        return "is empty"
    for part in parts:
        try:
            net = ipaddress.ip_network(part, strict=False)
        except ValueError:
            return f"has {part!r}, which is not a CIDR"
        if net.version != version or "/" not in part:
            return f"has {part!r}, which is not an IPv{version} CIDR"
    return None


def _bool(opts: dict[str, str], key: str, default: bool) -> bool:
    return bool(go_bool(opts[key])) if key in opts else default


def _combinations(opts: dict[str, str]) -> Iterator[tuple[str, str, Severity | None]]:
    mode = opts.get("routing-mode", "tunnel")
    if mode not in ENUMS["routing-mode"]:
        return
    tunnel = mode == "tunnel"
    if not tunnel and "tunnel-protocol" in opts:
        yield "tunnel-protocol", "tunnel-protocol is ignored with routing-mode native", Severity.WARNING
    if tunnel and _bool(opts, "auto-direct-node-routes", False):
        yield ("auto-direct-node-routes", "auto-direct-node-routes \"true\" needs routing-mode native "
               "(Cilium refuses it with tunnelling; the routing-mode is tunnel)", None)
    if (not tunnel and _bool(opts, "enable-ipv4", True) and _bool(opts, "enable-ipv4-masquerade", True)
            and not _bool(opts, "enable-ip-masq-agent", False)
            and opts.get("ipam") not in ("eni", "azure", "alibabacloud")
            and not opts.get("ipv4-native-routing-cidr")):
        yield ("routing-mode", "routing-mode native with IPv4 masquerading needs ipv4-native-routing-cidr "
               "(the CIDR routed without masquerading, usually the pod CIDR)", None)
    if tunnel and go_int(opts.get("tunnel-port", "")) == DISPATCH_PORT:
        yield ("tunnel-port", f"tunnel-port {DISPATCH_PORT} collides with cilium-lb's tier-1 -> tier-2 dispatch "
               "(a VXLAN device on that port on every load-balancer node; one VXLAN device per port): use "
               "another port (Cilium's default is 8472)", None)
    lb_mode = opts.get("bpf-lb-mode", "snat")
    if tunnel and lb_mode in ("dsr", "hybrid"):
        proto = opts.get("tunnel-protocol", "vxlan")
        dispatch = opts.get("bpf-lb-dsr-dispatch", "opt")
        if not (proto == "geneve" and dispatch == "geneve"):
            yield ("bpf-lb-mode", f"bpf-lb-mode {lb_mode} with routing-mode tunnel needs tunnel-protocol geneve "
                   f"and bpf-lb-dsr-dispatch geneve (have {proto}, {dispatch}); or use routing-mode native", None)
    if _bool(opts, "enable-bbr", False) and not _bool(opts, "enable-bandwidth-manager", False):
        yield "enable-bbr", "enable-bbr \"true\" needs enable-bandwidth-manager \"true\"", None
    if "bpf-lb-maglev-table-size" in opts and opts.get("bpf-lb-algorithm", "random") != "maglev":
        yield ("bpf-lb-maglev-table-size", "bpf-lb-maglev-table-size is only used with bpf-lb-algorithm "
               "maglev (the algorithm is " + opts.get("bpf-lb-algorithm", "random (the default)") + ")",
               Severity.WARNING)
