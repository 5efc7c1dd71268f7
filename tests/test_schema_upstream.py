"""lbcli/schemas/upstream.py: our schemas compared with upstream CRD YAML (a fixture written
here, not upstream's files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lbcli.schemas import upstream

ROOT = Path(__file__).resolve().parent.parent

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ciliumbgppeerconfigs.cilium.io
spec:
  group: cilium.io
  names:
    kind: CiliumBGPPeerConfig
  scope: Cluster
  versions:
  - name: v2
    schema:
      openAPIV3Schema:
        type: object
        required: [metadata, spec]
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [timers]
            properties:
              authSecretRef: {type: string}
              ebgpMultihop: {type: integer, minimum: 1, maximum: 255}
              newUpstreamField: {type: boolean}
              families:
                type: array
                items:
                  type: object
                  required: [afi, safi]
                  properties:
                    afi: {type: string, enum: [ipv4, ipv6, l2vpn, ls, opaque, newafi]}
                    safi: {type: string}
                    advertisements: {type: object}
              gracefulRestart:
                type: object
                required: [enabled]
                properties:
                  enabled: {type: string}
                  restartTimeSeconds: {type: integer}
              timers:
                type: object
                properties:
                  connectRetryTimeSeconds: {type: integer}
                  holdTimeSeconds: {type: integer}
                  keepAliveTimeSeconds: {type: integer}
              transport:
                type: object
                properties:
                  peerPort: {type: integer}
                  sourceInterface: {type: string}
          status: {type: object}
  - name: v9
    schema:
      openAPIV3Schema: {type: object}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-crd}
"""


def _write(tmp_path: Path) -> Path:
    d = tmp_path / "crds"
    d.mkdir()
    (d / "peer.yaml").write_text(CRD)
    return d


def test_differences_in_fields_types_enums_required(tmp_path):
    lines, rc = upstream.report([_write(tmp_path)])
    assert rc == 1
    peer = [ln for ln in lines if ln.startswith("CiliumBGPPeerConfig cilium.io/v2 ")]
    assert "CiliumBGPPeerConfig cilium.io/v2 spec.newUpstreamField: only upstream" in peer
    assert "CiliumBGPPeerConfig cilium.io/v2 spec.families[].afi: enum: upstream adds newafi" in peer
    assert "CiliumBGPPeerConfig cilium.io/v2 spec: required: upstream also requires timers" in peer
    assert ("CiliumBGPPeerConfig cilium.io/v2 spec.gracefulRestart.enabled: "
            "type: ours boolean, upstream string") in peer
    # fields both have with the same type and no enum say nothing
    assert not any("authSecretRef" in ln or ".peerPort" in ln for ln in peer)
    # a field only ours (the fixture leaves out localPort and the timers' bounds agree)
    assert "CiliumBGPPeerConfig cilium.io/v2 spec.transport.localPort: only ours" in peer
    # our v2alpha1 is not in the fixture; upstream's v9 is not ours
    assert "CiliumBGPPeerConfig cilium.io/v2alpha1: only ours" in lines
    assert "CiliumBGPPeerConfig cilium.io/v9: only upstream" in lines
    # kinds the fixture does not define are not reported
    assert not any(ln.startswith("LBService") for ln in lines)


def test_identical_schema_has_no_differences():
    mine = upstream.ours()[("cilium.io/v2", "CiliumBGPNodeConfigOverride")]
    assert upstream.compare(mine, _plain(mine, mine), "K", "v") == []


def _plain(node, root):
    """Our schema rewritten as a CRD would spell it: $refs inlined, no combinators."""
    node = upstream._resolve(node, root)
    if isinstance(node, dict):
        return {k: _plain(v, root) for k, v in node.items() if k not in ("anyOf", "oneOf", "allOf")}
    if isinstance(node, list):
        return [_plain(v, root) for v in node]
    return node


def test_cli_exit_codes(tmp_path):
    d = _write(tmp_path)
    run = lambda *a: subprocess.run([sys.executable, "-m", "lbcli.schemas.upstream", *a],  # noqa: E731
                                    capture_output=True, text=True, cwd=ROOT)
    r = run(str(d))
    assert r.returncode == 1 and "only upstream" in r.stdout
    assert run(str(tmp_path / "missing")).returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    r = run(str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(str(empty))
    assert r.returncode == 0 and r.stdout.strip() == "no differences"


def test_docs_table_lists_every_schema_with_its_upstream():
    text = (ROOT / "docs" / "upstream-schemas.md").read_text()
    for (version, kind), schema in upstream.ours().items():
        u = schema["x-upstream"]
        assert u and u["repo"] and u["path"] and u["version"], kind
        assert f"| {kind} |" in text and f"`{u['path']}`" in text, kind
