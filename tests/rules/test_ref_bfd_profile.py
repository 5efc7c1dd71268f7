from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text

BGP = EXAMPLES / "rebel-base" / "bgp.yaml"


def test_examples_resolve():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), "ref-bfd-profile") == []


def test_misspelled_profile():
    text = BGP.read_text().replace("bfdProfileRef: router-bfd", "bfdProfileRef: router-bdf")
    [p] = by_rule(lint_example("rebel-base", extra={str(BGP): text}), "ref-bfd-profile")
    assert p.file == str(BGP) and p.line == line_of(text, "bfdProfileRef: router-bdf")
    assert "IsovalentBFDProfile router-bdf does not exist" in p.message
    assert "did you mean 'router-bfd'" in p.message


def test_no_profile_ref_and_resolving_ref():
    text = """
    apiVersion: isovalent.com/v1
    kind: IsovalentBGPPeerConfig
    metadata: {name: plain}
    spec: {}
    ---
    apiVersion: isovalent.com/v1
    kind: IsovalentBGPPeerConfig
    metadata: {name: fast}
    spec: {bfdProfileRef: fast-bfd}
    ---
    apiVersion: isovalent.com/v1
    kind: IsovalentBGPPeerConfig
    metadata: {name: broken}
    spec: {bfdProfileRef: missing}
    ---
    apiVersion: isovalent.com/v1alpha1
    kind: IsovalentBFDProfile
    metadata: {name: fast-bfd}
    spec: {}
    """
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    [p] = by_rule(report, "ref-bfd-profile")
    assert p.line == line_of(text, "bfdProfileRef: missing")
    assert "did you mean" not in p.message
