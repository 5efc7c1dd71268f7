"""Item 4 of issue 11: LB-IPAM results come from the manifests and the allocation lock beside
them, never from one node's history. Nodes compiling the same set (and lock) hold identical
addresses, whatever each applied before; adding or removing one LBVIP moves no other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.compile.allocations import LOCK_NAME, LockError, read_lock


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# a pool of 6 usable addresses: hash probing collides often, so order and history would matter
POOL = """
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: tiny}
spec:
  blocks: [{cidr: 100.64.9.0/29}]
  serviceSelector: {matchLabels: {pool: tiny}}
"""


def vip(name: str) -> str:
    return f"""---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {{namespace: default, name: {name}, labels: {{pool: tiny}}}}
spec: {{}}
"""


def cli(*args: str):
    r = CliRunner().invoke(app, ["--color", "never", *args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def repo(tmp_path) -> Path:
    d = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "rebel-base", d)
    (d / LOCK_NAME).unlink(missing_ok=True)
    (d / "tiny.yaml").write_text(POOL)
    pool = (d / "ippool.yaml").read_text()  # the example's pool: only for what is not ours
    assert "    - cidr: 100.64.0.0/24\n" in pool
    (d / "ippool.yaml").write_text(pool.replace("    - cidr: 100.64.0.0/24\n", "    - cidr: 100.64.0.0/24\n"
                                                "  serviceSelector: {matchExpressions: [{key: pool, operator: DoesNotExist}]}\n"))
    return d


def write_vips(repo: Path, names: list[str]) -> None:
    (repo / "vips.yaml").write_text("".join(vip(n) for n in names))


def addresses(repo: Path, node: str = "lb-t1-1") -> dict[str, str]:
    """The LBVIP addresses in `node`'s plan as `compile -o -` prints it (lock read and kept)."""
    import json

    code, out, err = cli("compile", str(repo), "-o", "-", "--node", node)
    assert code == 0, err
    return {a["ref"]: a["ipv4"] for a in json.loads(out)["ipam"]["assignments"] if a["pool"] == "tiny"}


def test_compile_writes_a_canonical_lock_and_reads_it(repo):
    write_vips(repo, ["a", "b", "c"])
    first = addresses(repo)
    lock = repo / LOCK_NAME
    assert lock.is_file() and read_lock(lock) == {**read_lock(lock)} and set(first) <= set(read_lock(lock))
    text = lock.read_text()
    assert text.endswith("\n") and text.index('"allocations"') < text.index('"apiVersion"')  # sorted keys
    assert addresses(repo) == first and lock.read_text() == text  # unchanged: not rewritten


def test_adding_or_removing_one_vip_moves_no_other(repo):
    names = [f"v{i}" for i in range(5)]
    write_vips(repo, names)
    before = addresses(repo)
    assert len(before) == 5 and len(set(before.values())) == 5
    write_vips(repo, names + ["new"])
    grown = addresses(repo)
    assert {k: grown[k] for k in before} == before and len(set(grown.values())) == 6
    for gone in names:
        write_vips(repo, [n for n in names if n != gone] + ["new"])
        shrunk = addresses(repo)
        assert shrunk == {k: v for k, v in grown.items() if k != f"LBVIP/default/{gone}"}
        write_vips(repo, names + ["new"])
        assert addresses(repo) == grown  # back: the freed address is taken again by its owner


def test_nodes_with_different_histories_hold_identical_addresses(repo, tmp_path):
    """Node A saw the set grow one VIP at a time (compiling each step, as its apply would);
    node B only ever saw the final set. With the lock committed beside the manifests, both
    compile the final set to the same addresses on every node."""
    names = [f"v{i}" for i in range(6)]
    for i in range(1, len(names) + 1):  # A's history, recorded in the lock by compile
        write_vips(repo, names[:i])
        addresses(repo)
    node_a, node_b = tmp_path / "node-a", tmp_path / "node-b"
    shutil.copytree(repo, node_a)
    shutil.copytree(repo, node_b)  # a fresh checkout of the same commit: manifests + lock
    (node_b / "vips.yaml").write_text((repo / "vips.yaml").read_text())
    results = {(where.name, node): addresses(where, node)
               for where in (node_a, node_b) for node in ("lb-t1-1", "lb-t1-2", "lb-t2-1", "lb-t2-2")}
    assert len({tuple(sorted(r.items())) for r in results.values()}) == 1
    # without the lock, the history is lost: a fresh compile may place them differently, but it
    # is still the same on every node (a pure function of the manifests)
    (node_b / LOCK_NAME).unlink()
    fresh = {node: addresses(node_b, node) for node in ("lb-t1-1", "lb-t2-2")}
    assert fresh["lb-t1-1"] == fresh["lb-t2-2"]


def test_apply_compiles_from_manifests_and_lock_only(repo, tmp_path):
    """apply's plan comes from the manifests and the lock: the same in every checkout."""
    from lbcli.cli.loading import compile_node

    write_vips(repo, [f"v{i}" for i in range(4)])
    addresses(repo)
    copy = tmp_path / "elsewhere"
    shutil.copytree(repo, copy)
    plan, _ = compile_node([str(repo)], None, "lb-t1-1")
    again, _ = compile_node([str(copy)], None, "lb-t1-1")
    assert again.to_json() == plan.to_json()
    assert {a.ref: a.ipv4 for a in plan.ipam.assignments if a.pool == "tiny"} == addresses(repo)


def test_locked_refuses_a_stale_lock(repo, tmp_path):
    write_vips(repo, ["a"])
    out = tmp_path / "out"
    assert cli("compile", str(repo), "-o", str(out), "--locked")[0] == 1  # no lock yet, VIPs need one
    assert not (repo / LOCK_NAME).exists()
    assert cli("compile", str(repo), "-o", str(out))[0] == 0
    assert cli("compile", str(repo), "-o", str(out), "--locked")[0] == 0
    write_vips(repo, ["a", "b"])
    code, _, err = cli("compile", str(repo), "-o", str(out), "--locked")
    assert code == 1 and "not up to date" in err


def test_malformed_lock_is_a_located_error(tmp_path):
    bad = tmp_path / LOCK_NAME
    bad.write_text('{"apiVersion": "cilium-lb.io/v1", "kind": "AllocationLock", "allocations": '
                   '[{"ref": "LBVIP/default/a", "ipv4": "100.64.9.1"}, {"ref": "LBVIP/default/a", "ipv4": "100.64.9.2"}]}')
    with pytest.raises(LockError, match=r"allocations\[1\]\.ref: names a claimant a second time"):
        read_lock(bad)
    bad.write_text('{"apiVersion": "cilium-lb.io/v1", "kind": "AllocationLock", "allocations": [], "x": 1}')
    with pytest.raises(LockError, match="unknown field 'x'"):
        read_lock(bad)
    assert read_lock(tmp_path / "missing.lock") == {}


def test_a_lock_entry_outside_every_pool_is_reallocated(repo):
    write_vips(repo, ["a"])
    (repo / LOCK_NAME).write_text('{"allocations": [{"ipv4": "10.0.0.1", "ref": "LBVIP/default/a"}], '
                                  '"apiVersion": "cilium-lb.io/v1", "kind": "AllocationLock"}\n')
    got = addresses(repo)
    assert got["LBVIP/default/a"].startswith("100.64.9.")
    assert read_lock(repo / LOCK_NAME)["LBVIP/default/a"] == got["LBVIP/default/a"]
