"""`cilium-lb lab` without building it: the names `down` finds, what `up` prints, when the lab
counts as up (the real thing: tests/e2e/test_lab.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

from lbcli.lab.seedlab import DEFAULT_DIR, Proc, SeedLab, Status, expected_namespaces


def test_every_namespace_carries_the_prefix():
    names = expected_namespaces("cilblab")
    assert len(names) == 9 and all(n.startswith("cilblab-") for n in names)
    assert {"cilblab-client", "cilblab-router", "cilblab-seg", "cilblab-lb-t1-1", "cilblab-be-b"} <= set(names)


def test_up_prints_runnable_commands_without_the_password(tmp_path):
    lab = SeedLab(tmp_path / "lab", "lbx1")
    lines = lab.instructions()
    curl = next(shlex.split(ln) for ln in lines if "curl" in ln)
    assert curl[:4] == ["ip", "netns", "exec", "lbx1-client"]
    assert "--netrc-file" in curl and str(tmp_path / "lab" / "ca.pem") in curl
    status = next(shlex.split(ln) for ln in lines if "lb status" in ln)
    assert status.count("--agent") == 4 and "192.168.121.21:9965" in status
    assert not any("use-the-force" in ln for ln in lines)
    assert lines[-1].endswith(f"--dir {tmp_path / 'lab'} --prefix lbx1")
    assert SeedLab(DEFAULT_DIR).instructions()[-1].endswith("cilium-lb lab down")


def test_the_lab_is_up_only_when_everything_runs_and_the_router_has_both_t1s():
    ns = expected_namespaces("p")
    up = Status("p", "/d", ns, [Proc("router", "p-router", 1, True)], ["192.168.121.11", "192.168.121.12"])
    assert up.state == "up"
    assert Status("p", "/d", ns, [Proc("router", "p-router", None, False)], up.vip_next_hops).state == "degraded"
    assert Status("p", "/d", ns, up.processes, ["192.168.121.11"]).state == "degraded"
    assert Status("p", "/d", ns[:3], up.processes, up.vip_next_hops).state == "degraded"
    assert Status("p", "/d", []).state == "down" and Status("p", "/d", []).to_dict()["state"] == "down"


def test_down_of_a_lab_that_is_not_there_removes_nothing(tmp_path):
    keep = tmp_path / "shared"
    keep.mkdir()
    (keep / "mine.txt").write_text("x")
    lab = SeedLab(keep, "lbnone0")
    assert lab.down() == []
    assert (keep / "mine.txt").exists()  # a directory the user shares keeps what is not ours
