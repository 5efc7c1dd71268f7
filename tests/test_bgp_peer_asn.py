"""peerASN 0 or absent (Cilium: the ASN is taken from the peer's OPEN) compiles to plan asn 0,
which the node renders as BIRD's `external` (any ASN but localASN); BIRD 2.0.12 accepts the
configuration. The session against a real router: tests/e2e/test_bgp_peer_asn.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lbcli.agent.bgp import daemon
from lbcli.agent.bgp.model import model_from_plan
from lbcli.agent.bgp.render import render_bird_conf
from lbcli.compile.plan import compile_plans
from lbcli.lint.engine import lint
from lbcli.manifest.loader import load
from lbcli.plan.types import NodePlan

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rebel-base"
EDITS = {"zero": lambda t: re.sub(r"peerASN: \d+", "peerASN: 0", t),
         "absent": lambda t: re.sub(r"\n\s*peerASN: \d+", "", t)}


def _bgp_plans(tmp_path: Path, edit) -> list[NodePlan]:
    dst = tmp_path / "set"
    shutil.copytree(EXAMPLE, dst)
    bgp = dst / "bgp.yaml"
    bgp.write_text(edit(bgp.read_text()))
    report = lint(load([str(dst)]))
    return [p for p in compile_plans(report.index).plans.values() if p.bgp is not None and p.bgp.instances]


@pytest.mark.parametrize("how", sorted(EDITS))
def test_peer_asn_zero_is_planned_as_zero_and_rendered_external(tmp_path, how):
    plans = _bgp_plans(tmp_path, EDITS[how])
    assert plans
    for plan in plans:
        assert {peer.asn for inst in plan.bgp.instances for peer in inst.peers} == {0}
        assert NodePlan.from_json(plan.to_json()) == plan  # the node's checked reading accepts 0
        conf = render_bird_conf(model_from_plan(plan, {}))
        neighbors = [ln.strip() for ln in conf.splitlines() if ln.strip().startswith("neighbor ")]
        assert neighbors and all(ln.endswith(" external;") and " as " not in ln for ln in neighbors)


def test_a_named_peer_asn_is_kept(tmp_path):
    for plan in _bgp_plans(tmp_path, lambda t: t):
        conf = render_bird_conf(model_from_plan(plan, {}))
        assert "as 64512;" in conf and "external;" not in conf


@pytest.mark.skipif(daemon.find_bird() is None, reason="bird not installed")
def test_bird_accepts_the_external_neighbor(tmp_path):
    [plan, *_] = _bgp_plans(tmp_path, EDITS["zero"])
    conf = tmp_path / "bird.conf"
    conf.write_text(render_bird_conf(model_from_plan(plan, {}), log_file=str(tmp_path / "bird.log")))
    p = subprocess.run([daemon.find_bird(), "-p", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
