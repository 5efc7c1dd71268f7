from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text, lint_texts

RULE = "duplicate-resource"


def _vip(name: str, ns: str = "default", address: str = "100.64.0.1") -> str:
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata:
  namespace: {ns}
  name: {name}
spec: {{ipv4Request: "{address}"}}
"""


def test_examples_have_no_duplicates():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


def test_same_name_other_namespace_or_kind_is_fine():
    pool = """---
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {namespace: default, name: web}
spec:
  backendType: IP
  healthCheck: {tcp: {}}
  backends: [{ip: 10.0.0.1, port: 80}]
"""
    report = lint_text(_vip("web") + _vip("web", ns="other", address="100.64.0.2") + pool)
    assert by_rule(report, "schema") == [] and by_rule(report, RULE) == []


def test_duplicate_in_one_file():
    text = _vip("web") + _vip("web", address="100.64.0.2")
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "name: web", 2)
    assert p.message == (f"LBVIP/default/web is already defined at test.yaml:{line_of(text, 'name: web')}; "
                         "one of them has no effect")


def test_default_namespace_is_implicit():
    text = _vip("web") + _vip("web").replace("  namespace: default\n", "")
    [p] = by_rule(lint_text(text), RULE)
    assert p.line == line_of(text, "name: web", 2)


def test_cluster_scoped_across_files_and_api_versions():
    bgp = EXAMPLES / "rebel-base" / "bgp.yaml"
    more = """---
apiVersion: isovalent.com/v1alpha1
kind: IsovalentBGPPeerConfig
metadata:
  name: router-peer-config
spec: {}
"""
    [p] = by_rule(lint_example("rebel-base", extra={"more.yaml": more}), RULE)
    assert p.file == "more.yaml" and p.line == line_of(more, "name: router-peer-config")
    first = line_of(bgp.read_text(), "name: router-peer-config", 2)
    assert f"IsovalentBGPPeerConfig/router-peer-config is already defined at {bgp}:{first}" in p.message


def test_third_copy_names_the_first():
    text = _vip("web") + _vip("web", address="100.64.0.2") + _vip("web", address="100.64.0.3")
    problems = by_rule(lint_texts({"a.yaml": text}), RULE)
    assert [p.line for p in problems] == [line_of(text, "name: web", 2), line_of(text, "name: web", 3)]
    assert all(f"a.yaml:{line_of(text, 'name: web')};" in p.message for p in problems)


def test_identical_copies_in_two_files_count_once():
    from tests.lintkit import lint_texts

    pool = "apiVersion: cilium.io/v2alpha1\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: p\nspec:\n  blocks: [{cidr: 10.0.0.0/24}]\n"
    rep = lint_texts({"a.yaml": pool, "b.yaml": pool})
    assert not [p for p in rep.problems if p.rule in ("duplicate-resource", "pool-overlap")]
    rep = lint_texts({"a.yaml": pool, "b.yaml": pool.replace("/24", "/25")})
    assert [p.rule for p in rep.problems if p.rule == "duplicate-resource"] == ["duplicate-resource"]
