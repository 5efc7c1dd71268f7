import pytest

from tests.lintkit import by_rule, line_of, lint_example, lint_text

RULE = "bfd-profile"


def _set(profile: str, pcspec: str = "{bfdProfileRef: bfd}", local: int = 64512, peer: int = 65001) -> str:
    return f"""
apiVersion: isovalent.com/v1
kind: IsovalentBGPClusterConfig
metadata: {{name: cc}}
spec:
  bgpInstances:
    - name: i0
      localASN: {local}
      peers:
        - {{name: p0, peerAddress: 192.0.2.1, peerASN: {peer}, peerConfigRef: {{name: pc}}}}
---
apiVersion: isovalent.com/v1
kind: IsovalentBGPPeerConfig
metadata: {{name: pc}}
spec: {pcspec}
---
apiVersion: isovalent.com/v1alpha1
kind: IsovalentBFDProfile
metadata: {{name: bfd}}
spec:
{profile}"""


def _run(text: str):
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


def test_examples_are_clean():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), RULE) == []


@pytest.mark.parametrize("profile", [
    "  detectMultiplier: 3\n",
    "  receiveIntervalMilliseconds: 10\n  transmitIntervalMilliseconds: 10\n  detectMultiplier: 3\n",
    "  minimumTTL: 255\n  echoFunction:\n    directions: [Transmit, Receive]\n"
    "    transmitIntervalMilliseconds: 50\n    receiveIntervalMilliseconds: 50\n",
    "  echoFunction: {directions: []}\n",
])
def test_sound_profiles(profile):
    assert _run(_set(profile)) == []


def test_detection_time_too_short():
    text = _set("  receiveIntervalMilliseconds: 10\n  transmitIntervalMilliseconds: 10\n  detectMultiplier: 2\n")
    [p] = _run(text)
    assert p.line == line_of(text, "detectMultiplier")
    assert "detection time 2 x 10 ms = 20 ms is below 30 ms" in p.message


def test_detection_time_not_shorter_than_hold_time():
    text = _set("  receiveIntervalMilliseconds: 2000\n  detectMultiplier: 5\n",
                pcspec="{bfdProfileRef: bfd, timers: {holdTimeSeconds: 9, keepAliveTimeSeconds: 3}}")
    [p] = _run(text)
    assert p.line == line_of(text, "detectMultiplier")
    assert "10000 ms is not shorter than the BGP hold time of IsovalentBGPPeerConfig pc (9 s)" in p.message
    # hold time 0 (no keepalives) never expires; an unused profile has no hold time to compare
    assert _run(text.replace("holdTimeSeconds: 9, keepAliveTimeSeconds: 3", "holdTimeSeconds: 0")) == []
    assert _run(text.replace("{bfdProfileRef: bfd,", "{")) == []


def test_echo_receive_with_zero_interval_and_slow_echo():
    text = _set("  echoFunction:\n    directions: [Receive]\n    receiveIntervalMilliseconds: 0\n")
    [p] = _run(text)
    assert p.line == line_of(text, "receiveIntervalMilliseconds: 0")
    assert "tells the peer not to send echo packets" in p.message
    text = _set("  transmitIntervalMilliseconds: 100\n  echoFunction:\n    directions: [Transmit]\n"
                "    transmitIntervalMilliseconds: 200\n")
    [p] = _run(text)
    assert p.line == line_of(text, "transmitIntervalMilliseconds: 200")
    assert "echo transmit interval 200 ms is not below the control transmit interval 100 ms" in p.message


def test_echo_detection_too_short():
    text = _set("  detectMultiplier: 2\n  echoFunction:\n    directions: [Transmit]\n"
                "    transmitIntervalMilliseconds: 10\n")
    [p] = _run(text)
    assert "echo detection time 2 x 10 ms = 20 ms is below 30 ms" in p.message


def test_echo_on_multihop_session():
    profile = "  echoFunction:\n    directions: [Transmit]\n    transmitIntervalMilliseconds: 50\n"
    text = _set(profile, pcspec="{bfdProfileRef: bfd, ebgpMultihop: 3}")
    [p] = _run(text)
    assert p.line == line_of(text, "directions")
    assert "echo on the multi-hop session of IsovalentBGPPeerConfig pc" in p.message
    # iBGP: ebgpMultihop is ignored, the session is direct
    assert _run(_set(profile, pcspec="{bfdProfileRef: bfd, ebgpMultihop: 3}", peer=64512)) == []


def test_minimum_ttl_on_single_hop():
    text = _set("  minimumTTL: 253\n")
    [p] = _run(text)
    assert p.line == line_of(text, "minimumTTL")
    assert "minimumTTL 253 on the single-hop session of IsovalentBGPPeerConfig pc" in p.message
    assert "2 hop(s)" in p.message
    assert _run(_set("  minimumTTL: 253\n", pcspec="{bfdProfileRef: bfd, ebgpMultihop: 3}")) == []
