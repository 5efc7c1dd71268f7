from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text

BGP = EXAMPLES / "rebel-base" / "bgp.yaml"


def _with_bgp(text: str):
    return lint_example("rebel-base", extra={str(BGP): text})


def test_examples_resolve():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), "ref-peer-config") == []


def test_misspelled_peer_config():
    text = BGP.read_text().replace("name: router-peer-config\n---", "name: router-peer-confg\n---", 1)
    assert "router-peer-confg" in text
    [p] = by_rule(_with_bgp(text), "ref-peer-config")
    assert p.file == str(BGP) and p.line == line_of(text, "name: router-peer-confg")
    assert "peer peer0 of instance instance0: IsovalentBGPPeerConfig router-peer-confg does not exist" in p.message
    assert "did you mean 'router-peer-config'" in p.message


def test_each_peer_checked_and_missing_ref_is_defaults():
    text = """
    apiVersion: isovalent.com/v1
    kind: IsovalentBGPClusterConfig
    metadata: {name: cc}
    spec:
      bgpInstances:
        - name: i0
          localASN: 65001
          peers:
            - {name: a, peerAddress: 192.0.2.1, peerASN: 65002, peerConfigRef: {name: pc}}
            - {name: b, peerAddress: 192.0.2.2, peerASN: 65002}
            - {name: c, peerAddress: 192.0.2.3, peerASN: 65002, peerConfigRef: {name: gone}}
    ---
    apiVersion: isovalent.com/v1
    kind: IsovalentBGPPeerConfig
    metadata: {name: pc}
    spec: {}
    """
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    [p] = by_rule(report, "ref-peer-config")
    assert p.line == line_of(text, "name: gone")
    assert "peer c of instance i0: IsovalentBGPPeerConfig gone does not exist" in p.message
