"""The seed's rebel-base lab end to end, as a user runs it: `cilium-lb apply` inside every node
namespace of the lab (2 T1 + 2 T2), BIRD on tier 1 peering with a real FRR router (BGP + BFD),
the eBPF dispatch to tier 2, HAProxy terminating TLS for https-proxy.acme.io, two HTTP
backends. A client resolves https-proxy.acme.io to 100.64.0.101 and gets a backend's answer.

The manifests are examples/rebel-base with the backend addresses moved onto the lab segment
(the seed's 172.18.0.7/.8 become 192.168.121.101/.102); everything else is the example.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbcli.lab import Lab
from lbcli.lab.rebel import HOST, PASSWORD, T1, T2, TOPOLOGY, USER, VIP, RebelLab

pytestmark = [pytest.mark.netns, pytest.mark.daemons]

ROOT = Path(__file__).resolve().parents[2]


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, BPF, daemons")
    for t in tools:
        if shutil.which(t) is None and not Path(f"/usr/lib/frr/{t}").exists():
            pytest.skip(f"needs {t}")


def _cli(lab: Lab, node: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return lab.run_in(node, [sys.executable, "-m", "lbcli", "--color", "never", *args], check=check)


def _apply(lab: Lab, manifests: Path, node: str) -> dict:
    p = _cli(lab, node, "apply", str(manifests), "--node", node, "--state-dir", str(lab.state_dir(node)),
             "--bpf-root", str(lab.bpf_root), "-o", "json", check=False)
    assert p.returncode == 0, f"apply on {node} failed:\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout)


def _curl(lab: Lab, *extra: str) -> subprocess.CompletedProcess:
    return lab.run_in("client", ["curl", "-sS", "-v", "--max-time", "5", "--resolve", f"{HOST}:443:{VIP}",
                                 *extra, f"https://{HOST}/"], check=False)


@pytest.fixture(scope="module")
def rebel(tmp_path_factory):
    _need("curl", "bird", "haproxy", "clang", "bgpd")
    rl = RebelLab(ROOT / "examples" / "rebel-base", tmp_path_factory.mktemp("rebel"))
    with rl.running():
        yield rl.lab, rl.manifests, rl.router, rl.ca, rl.applied


def test_router_learns_the_vip_from_both_tier1_nodes(rebel):
    lab, _, router, _, results = rebel
    assert sorted(router.kernel_nexthops(f"{VIP}/32")) == sorted(TOPOLOGY.node(n).ip for n in T1)
    for node, res in results.items():
        assert res["ok"] and res["recorded"], (node, res)


COUNTERS = r"""
import json, sys
from pathlib import Path
from lbcli.agent.datapath.reconciler import service_counters
from lbcli.agent.reconciler import NodeContext
c = service_counters(NodeContext(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
print(json.dumps(sum(v.get("packets", 0) for v in c.values())))
"""


def _t1_packets(lab: Lab) -> int:
    return sum(int(lab.run_in(n, [sys.executable, "-c", COUNTERS, n, str(lab.state_dir(n)), str(lab.bpf_root)]).stdout)
               for n in T1)


def test_client_gets_a_backend_over_tls13_with_the_right_certificate(rebel):
    lab, _, _, ca, _ = rebel
    before = _t1_packets(lab)
    p = _curl(lab, "--cacert", str(ca), "-u", f"{USER}:{PASSWORD}")
    assert p.returncode == 0, p.stderr
    assert _t1_packets(lab) >= before + 3  # the request went through the tier-1 program
    assert re.match(r"hello from be-[ab]\n", p.stdout), p.stdout
    assert "TLSv1.3" in p.stderr and f"subject: CN={HOST}" in p.stderr.replace("CN = ", "CN=")


def test_basic_auth_is_enforced(rebel):
    lab, _, _, ca, _ = rebel
    p = _curl(lab, "--cacert", str(ca), "-o", "/dev/null", "-w", "%{http_code}")
    assert p.stdout.strip() == "401"
    p = _curl(lab, "--cacert", str(ca), "-u", f"{USER}:wrong", "-o", "/dev/null", "-w", "%{http_code}")
    assert p.stdout.strip() == "401"


def test_sticky_header_keeps_one_backend_and_both_serve(rebel):
    lab, _, _, ca, _ = rebel
    seen = {}
    for key in ("luke", "leia", "han", "chewie", "lando", "yoda"):
        answers = {_curl(lab, "--cacert", str(ca), "-u", f"{USER}:{PASSWORD}", "-H", f"sticky: {key}").stdout
                   for _ in range(5)}
        assert len(answers) == 1, (key, answers)
        seen[key] = answers.pop()
    assert set(seen.values()) == {"hello from be-a\n", "hello from be-b\n"}


def test_second_apply_changes_nothing(rebel):
    lab, manifests, _, _, _ = rebel
    for node in T2 + T1:
        res = _apply(lab, manifests, node)
        assert res["changes"] == 0, (node, res)


def test_live_diff_is_clean_and_status_reads_plans(rebel, tmp_path):
    lab, manifests, _, _, _ = rebel
    p = _cli(lab, "lb-t1-1", "diff", str(manifests), "--node", "lb-t1-1", "--live",
             "--state-dir", str(lab.state_dir("lb-t1-1")), "--bpf-root", str(lab.bpf_root), check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    subprocess.run([sys.executable, "-m", "lbcli", "compile", str(manifests), "-o", str(tmp_path)], check=True,
                   capture_output=True)
    out = subprocess.run([sys.executable, "-m", "lbcli", "status", "--plan", str(tmp_path), "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    assert '"100.64.0.101"' in out


def test_status_with_facts_observed_on_every_node(rebel, tmp_path):
    lab, manifests, _, ca, _ = rebel
    assert _curl(lab, "--cacert", str(ca), "-u", f"{USER}:{PASSWORD}").returncode == 0
    reports = []
    for node in T1 + T2:
        p = _cli(lab, node, "observe", str(manifests), "--node", node, "--state-dir", str(lab.state_dir(node)),
                 "--bpf-root", str(lab.bpf_root))
        path = tmp_path / f"{node}.json"
        path.write_text(p.stdout)
        reports += ["--observed", str(path)]
    plans = tmp_path / "plans"
    subprocess.run([sys.executable, "-m", "lbcli", "compile", str(manifests), "-o", str(plans)], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-m", "lbcli", "status", "--plan", str(plans), *reports, "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    svc = next(s for s in json.loads(out)["services"] if s["name"] == "https-proxy")
    assert svc["bgpPeers"] == {"actual": 1, "total": 1}  # the router, established
    assert svc["bgpRoutes"] == {"actual": 2, "total": 2}  # announced by both T1 nodes
    assert svc["t1Nodes"]["actual"] == 2 and svc["hcT1T2"]["actual"] == 2 and svc["hcT2Backends"]["actual"] == 2
    assert svc["counters"]["packets"] > 0
    text = subprocess.run([sys.executable, "-m", "lbcli", "--color", "never", "status", "--plan", str(plans), *reports],
                          check=True, capture_output=True, text=True).stdout
    assert "?" not in text.split("https-proxy", 1)[1], text
