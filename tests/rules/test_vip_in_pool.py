import pytest

from tests.lintkit import by_rule, line_of, lint_example, lint_text

RULE = "vip-in-pool"


def _pool(name: str, blocks: str, extra: str = "") -> str:
    return f"""---
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {{name: {name}}}
spec:
  blocks: {blocks}
{extra}"""


def _vip(address: str | None, name: str = "web", labels: str = "{}") -> str:
    spec = f'{{ipv4Request: "{address}"}}' if address else "{}"
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{namespace: default, name: {name}, labels: {labels}}}
spec: {spec}
"""


def _run(text: str):
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


def test_examples_are_in_their_pools():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


@pytest.mark.parametrize("blocks,address", [
    ("[{cidr: 100.64.0.0/24}]", "100.64.0.1"),
    ("[{cidr: 100.64.0.0/24}]", "100.64.0.0"),  # allowFirstLastIPs defaults to Yes
    ("[{cidr: 100.64.0.0/24}]", "100.64.0.255"),
    ("[{start: 10.1.0.10, stop: 10.1.0.20}]", "10.1.0.20"),
    ("[{start: 10.1.0.10}]", "10.1.0.10"),
    ("[{cidr: 10.2.0.0/30}, {cidr: 10.3.0.0/24}]", "10.3.0.7"),
])
def test_inside(blocks, address):
    assert _run(_pool("p", blocks) + _vip(address)) == []


@pytest.mark.parametrize("blocks,address", [
    ("[{cidr: 100.64.0.0/24}]", "100.64.1.1"),
    ("[{start: 10.1.0.10, stop: 10.1.0.20}]", "10.1.0.21"),
    ("[{start: 10.1.0.10}]", "10.1.0.11"),
])
def test_outside_every_pool(blocks, address):
    text = _pool("p", blocks) + _vip(address)
    [p] = _run(text)
    assert p.line == line_of(text, "ipv4Request")
    assert (f"{address} is in no enabled pool that selects LBVIP default/web (NoPool); "
            "pools selecting it: p (") in p.message


def test_first_last_reserved_with_allow_first_last_no():
    no = "  allowFirstLastIPs: \"No\"\n"
    text = _pool("p", "[{cidr: 100.64.0.0/24}]", no) + _vip("100.64.0.255")
    [p] = _run(text)
    assert p.line == line_of(text, "ipv4Request")
    assert "first or last address of block 100.64.0.0/24 of pool p" in p.message
    assert "NoAvailableAddress" in p.message
    assert _run(_pool("p", "[{cidr: 100.64.0.0/24}]", no) + _vip("100.64.0.254")) == []
    # /32 and /31 keep their addresses; ranges never reserve
    for blocks, addr in (("[{cidr: 10.9.0.7/32}]", "10.9.0.7"), ("[{cidr: 10.9.0.6/31}]", "10.9.0.6"),
                         ("[{start: 10.9.0.0, stop: 10.9.0.9}]", "10.9.0.0")):
        assert _run(_pool("p", blocks, no) + _vip(addr)) == []


def test_disabled_pool_and_non_matching_selector_are_named():
    text = _pool("off", "[{cidr: 100.64.0.0/24}]", "  disabled: true\n") + _vip("100.64.0.5")
    [p] = _run(text)
    assert "it is in pool off (100.64.0.0/24), which is disabled" in p.message
    sel = "  serviceSelector: {matchLabels: {team: blue}}\n"
    text = _pool("blue", "[{cidr: 100.64.0.0/24}]", sel) + _vip("100.64.0.5", labels="{team: red}")
    [p] = _run(text)
    assert "whose serviceSelector (team=blue) does not match" in p.message
    assert _run(_pool("blue", "[{cidr: 100.64.0.0/24}]", sel) + _vip("100.64.0.5", labels="{team: blue}")) == []


def test_unpinned_lbvip_needs_a_selecting_pool():
    sel = "  serviceSelector: {matchLabels: {io.kubernetes.service.namespace: other}}\n"
    text = _pool("p", "[{cidr: 100.64.0.0/24}]", sel) + _vip(None)
    [p] = _run(text)
    assert p.line == line_of(text, "kind: LBVIP") + 1
    assert "no enabled CiliumLoadBalancerIPPool selects LBVIP default/web" in p.message
    assert _run(_pool("p", "[{cidr: 100.64.0.0/24}]") + _vip(None)) == []


SERVICE = """---
apiVersion: v1
kind: Service
metadata:
  namespace: default
  name: legacy
  annotations:
    lbipam.cilium.io/ips: "IPS"
spec:
  type: TYPE
  loadBalancerIP: LBIP
  ports: [{port: 80}]
"""


def _service(ips: str, lbip: str = '""', type_: str = "LoadBalancer") -> str:
    return SERVICE.replace("IPS", ips).replace("LBIP", lbip).replace("TYPE", type_)


def test_service_annotation_and_load_balancer_ip():
    pool = _pool("p", "[{cidr: 100.64.0.0/24}]")
    assert _run(pool + _service("100.64.0.7, 100.64.0.8", lbip="100.64.0.9")) == []
    text = pool + _service("100.64.0.7,198.51.100.1", lbip="203.0.113.5")
    problems = _run(text)
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [
        (line_of(text, "lbipam.cilium.io/ips"), "198.51.100.1"),
        (line_of(text, "loadBalancerIP"), "203.0.113.5"),
    ]
    assert "Service default/legacy (NoPool)" in problems[0].message


def test_service_not_of_type_load_balancer_is_ignored():
    assert _run(_pool("p", "[{cidr: 100.64.0.0/24}]") + _service("198.51.100.1", type_="ClusterIP")) == []


def test_ipv6_request_against_ipv4_pool():
    text = _pool("p", "[{cidr: 100.64.0.0/24}]") + _service("2001:db8::1")
    [p] = _run(text)
    assert p.message.startswith("2001:db8::1 is in no enabled pool")


def test_claimants_without_request_are_not_compared_pairwise(monkeypatch):
    """The pool-exhaustion check counts earlier claimants per distinct pool set: its work does
    not grow with the product of claimants (it took seconds for 3,000 pool-allocated LBVIPs)."""
    from lbcli.model import ipam

    calls = []
    real = ipam.Pool.contains
    monkeypatch.setattr(ipam.Pool, "contains", lambda self, ip: calls.append(ip) or real(self, ip))

    def run(unrequested: int) -> int:
        calls.clear()
        docs = ["apiVersion: cilium.io/v2alpha1\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: p}\n"
                "spec:\n  blocks: [{cidr: 100.64.0.0/24}]\n"]
        docs += [f"apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata: {{name: r{i}}}\n"
                 f"spec: {{ipv4Request: 100.64.0.{i + 1}}}\n" for i in range(5)]
        docs += [f"apiVersion: isovalent.com/v1alpha1\nkind: LBVIP\nmetadata: {{name: u{i}}}\nspec: {{}}\n"
                 for i in range(unrequested)]
        assert by_rule(lint_text("---\n".join(docs)), RULE) == []
        return len(calls)

    assert run(10) == run(80)
