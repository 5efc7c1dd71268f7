"""`compile -o DIR` writes only inside DIR, never follows a link, and turns every write failure
into a message with exit 2; names that become file names are refused whatever a suppression
comment or the config says, by lint, by the compiler and by the writer; --node on the node
commands must be a node name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.compile import output
from lbcli.compile.nodes import IdentityError
from lbcli.compile.output import OutputError, write_plans
from lbcli.compile.plan import compile_plans, dumps

from .lintkit import EXAMPLES, by_rule, lint_example, lint_texts, compiled_json

EVIL_NODE = """\
{comment}
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{service.cilium.io/node: t2}}
status:
  addresses: [{{type: InternalIP, address: 10.9.9.9}}]
"""


def cli(*args: str, cwd: Path | None = None):
    """(exit code, stdout, stderr) of the CLI run in-process; an uncaught exception fails."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        r = CliRunner().invoke(app, ["--color", "never", *args])
    finally:
        os.chdir(old)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    assert "Traceback" not in r.stderr
    return r.exit_code, r.stdout, r.stderr


def tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under `root`: file bytes, link targets, directories."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            out[rel] = ("-> " + os.readlink(p)) if p.is_symlink() else ("dir" if p.is_dir() else p.read_bytes())
    return out


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "work" / "src"
    shutil.copytree(EXAMPLES / "rebel-base", d)
    return d


@pytest.fixture(scope="module")
def plans():
    return compiled_json(lint_example("rebel-base").index).plans


# -- names that become file names ------------------------------------------------------------

SUPPRESSIONS = [
    "# cilium-lb: ignore-file=schema",
    "# cilium-lb: ignore-file=all",
    "# cilium-lb: ignore-file=schema,identity",
    "# cilium-lb: ignore-document=all",
]


@pytest.mark.parametrize("comment", SUPPRESSIONS)
@pytest.mark.parametrize("name", ["../../x", "../x", "..", "a/b", "x\\n", "UPPER", "a" * 251])
def test_traversing_node_name_refused_whatever_the_suppression(tmp_path, src, comment, name):
    (src / "evil.yaml").write_text(EVIL_NODE.format(comment=comment, name=json.dumps(name)))
    out = tmp_path / "work" / "a" / "b" / "out"
    before = tree(tmp_path)
    code, _, err = cli("compile", str(src), "-o", str(out))
    assert code == 1  # a finding, like any error in the set
    assert "identity" in err and "evil.yaml:5:" in err
    assert tree(tmp_path) == before  # nothing written anywhere, inside or outside DIR


def test_config_cannot_switch_identity_off(tmp_path, src):
    (src / "evil.yaml").write_text(EVIL_NODE.format(comment="# a node", name="../../x"))
    (tmp_path / "work" / ".cilium-lb.yaml").write_text("rules:\n  identity: off\n  schema: off\n")
    code, _, err = cli("compile", str(src), "-o", str(tmp_path / "work" / "out"), cwd=tmp_path / "work")
    assert code == 1 and "identity" in err
    assert not (tmp_path / "work" / "out").exists() and not (tmp_path / "x.json").exists()


def test_identity_finding_replaces_the_schema_finding_at_the_same_spot():
    report = lint_texts({"n.yaml": EVIL_NODE.format(comment="# a node", name="../../x")})
    found = by_rule(report, "identity")
    assert [(p.line, p.column) for p in found] == [(5, 9)]
    assert "../../x" in found[0].message and "DNS subdomain" in found[0].message
    assert [p for p in by_rule(report, "schema") if (p.line, p.column) == (5, 9)] == []


def test_node_name_of_250_characters_is_the_longest_file_name(tmp_path, src):
    name = "n" * 250
    (src / "long.yaml").write_text(EVIL_NODE.format(comment="# a node", name=name))
    code, _, err = cli("compile", str(src), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert (tmp_path / "out" / f"{name}.json").is_file()


def test_compiler_refuses_a_bad_node_name_without_lint():
    report = lint_texts({"n.yaml": EVIL_NODE.format(comment="# a node", name="../../x")})
    with pytest.raises(IdentityError, match=r"n.yaml:5:9: node name '../../x'"):
        compiled_json(report.index)


@pytest.mark.parametrize("node", ["../../x", "..", ".", "", "a/b", "x" * 251])
def test_writer_refuses_a_bad_node_name(tmp_path, plans, node):
    plan = json.loads(dumps(plans["lb-t2-1"]))
    plan["node"]["name"] = node
    d = tmp_path / "a" / "out"
    with pytest.raises(OutputError, match="refusing to write a plan for node"):
        write_plans(d, {"lb-t2-1": plans["lb-t2-1"], node: plan})
    assert tree(tmp_path) == {}  # checked before anything is created


def test_writer_refuses_a_plan_filed_under_another_node(tmp_path, plans):
    with pytest.raises(OutputError, match="differs from the name inside its plan"):
        write_plans(tmp_path / "out", {"lb-t2-9": plans["lb-t2-1"]})


@pytest.mark.parametrize("cmd", [
    ["apply", "SRC", "--node", "NODE", "--dry-run"],
    ["reset", "--node", "NODE"],
    ["diff", "SRC", "--node", "NODE"],
    ["observe", "--node", "NODE"],
])
@pytest.mark.parametrize("node", ["../../x", "a/b", "..", "x\n", "Node1", "x" * 251])
def test_node_option_must_be_a_node_name(tmp_path, src, cmd, node):
    state = tmp_path / "state" / "deep"
    args = [str(src) if a == "SRC" else node if a == "NODE" else a for a in cmd]
    code, _, err = cli(*args, "--state-dir", str(state), *(["--bpf-root", str(tmp_path / "bpf")] if cmd[0] != "diff" else []))
    assert code == 2
    assert "--node" in err and "not a node name" in err
    assert not (tmp_path / "state").exists() and not (tmp_path / "bpf").exists()


# -- never outside DIR, never through a link --------------------------------------------------


def test_compile_writes_regular_0644_files_and_leaves_no_temporary_files(tmp_path, src):
    out = tmp_path / "out"
    code, stdout, err = cli("compile", str(src), "-o", str(out))
    assert code == 0, err
    names = sorted(os.listdir(out))
    assert names == ["lb-t1-1.json", "lb-t1-2.json", "lb-t2-1.json", "lb-t2-2.json"]
    umask = os.umask(0)
    os.umask(umask)
    for n in names:
        st = os.lstat(out / n)
        assert (st.st_mode & 0o777) == (0o644 & ~umask) and os.path.isfile(out / n)
    assert "4 written" in stdout
    assert cli("compile", str(src), "-o", str(out))[1].count("4 unchanged") == 1


def test_symlink_at_the_target_is_refused_and_not_followed(tmp_path, src):
    out = tmp_path / "out"
    assert cli("compile", str(src), "-o", str(out))[0] == 0
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (out / "lb-t1-1.json").unlink()
    (out / "lb-t1-1.json").symlink_to(victim)
    code, _, err = cli("compile", str(src), "-o", str(out))
    assert code == 2 and "lb-t1-1.json" in err and "symbolic link" in err
    assert victim.read_text() == "precious\n"
    assert os.readlink(out / "lb-t1-1.json") == str(victim)


def test_writer_never_follows_a_link_at_the_target(tmp_path, plans):
    """The writer's own check, without the previous-IPAM read that refuses links first."""
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (out / "lb-t2-1.json").symlink_to(victim)
    (out / "lb-t2-2.json").symlink_to(tmp_path / "missing")  # dangling: would be created through
    with pytest.raises(OutputError, match="symbolic link"):
        write_plans(out, {"lb-t2-1": plans["lb-t2-1"]})
    with pytest.raises(OutputError, match="symbolic link"):
        write_plans(out, {"lb-t2-2": plans["lb-t2-2"]})
    assert victim.read_text() == "precious\n" and not (tmp_path / "missing").exists()


def test_symlinks_at_temporary_names_are_not_followed(tmp_path, plans, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    # the predictable name older versions used, and the next random names, made predictable
    (out / ".lb-t2-1.json.tmp").symlink_to(victim)
    tokens = iter(["aaaa", "aaaa", "bbbb", "cccc", "dddd"])
    monkeypatch.setattr(output.secrets, "token_hex", lambda n: next(tokens))
    (out / ".cilium-lb-aaaa.json.tmp").symlink_to(victim)
    (out / ".cilium-lb-bbbb.json.tmp").symlink_to(tmp_path / "created-through-link")
    written, _ = write_plans(out, {"lb-t2-1": plans["lb-t2-1"]})
    assert written == ["lb-t2-1.json"]
    assert victim.read_text() == "precious\n" and not (tmp_path / "created-through-link").exists()
    assert (out / "lb-t2-1.json").read_bytes() == dumps(plans["lb-t2-1"])
    assert not (out / "lb-t2-1.json").is_symlink()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [
        ".cilium-lb-aaaa.json.tmp", ".cilium-lb-bbbb.json.tmp", ".lb-t2-1.json.tmp"]  # cccc was renamed


def test_prune_removes_only_plans_compile_wrote(tmp_path, plans):
    out = tmp_path / "out"
    write_plans(out, plans)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    stale = json.loads(dumps(plans["lb-t2-1"]))
    stale["node"]["name"] = "old-node"
    (out / "old-node.json").write_bytes(dumps(stale))  # a plan of a node that left: removed
    (outside / "gone.json").write_bytes(dumps({**stale, "node": {**stale["node"], "name": "gone"}}))
    (out / "gone.json").symlink_to(outside / "gone.json")  # a link to a plan: neither followed nor removed
    (out / "copy.json").write_bytes(dumps(plans["lb-t2-1"]))  # a plan under another name: not ours
    (out / "notes.json").write_text('{"mine": true}\n')  # not a plan
    (out / "sub.json").mkdir()
    written, removed = write_plans(out, plans)
    assert (written, removed) == ([], ["old-node.json"])
    assert (outside / "gone.json").exists() and (out / "gone.json").is_symlink()
    assert (out / "copy.json").exists() and (out / "notes.json").exists() and (out / "sub.json").is_dir()


def test_stale_plans_removed_through_the_cli(tmp_path, src):
    out = tmp_path / "out"
    assert cli("compile", str(src), "-o", str(out))[0] == 0
    nodes = src / "nodes.yaml"
    text = nodes.read_text()
    nodes.write_text(text[: text.index("---\napiVersion: v1\nkind: Node\nmetadata:\n  name: lb-t2-2")])
    code, stdout, err = cli("compile", str(src), "-o", str(out))
    assert code == 0, err
    assert "1 removed" in stdout and not (out / "lb-t2-2.json").exists()


@pytest.mark.parametrize("content,what", [
    (b'{"kind": "NodePlan", "apiVer', "not JSON"),
    (b"[]", "expected an object, got a list"),
    (b"", "is empty"),
    (b'{"apiVersion": "cilium-lb.io/v1", "kind": "AllocationLock", "allocations": [{"ref": "LBVIP/default/x", "ipv4": "1.2.3"}]}',
     "allocations[0].ipv4: is not in the expected format"),
])
def test_a_broken_lock_stops_compile_instead_of_dropping_its_addresses(tmp_path, src, content, what):
    out = tmp_path / "out"
    lock = tmp_path / "cilium-lb.lock"
    assert cli("compile", str(src), "-o", str(out), "--lock", str(lock))[0] == 0
    lock.write_bytes(content)
    before = tree(out)
    code, _, err = cli("compile", str(src), "-o", str(out), "--lock", str(lock))
    assert code == 2 and str(lock) in err and what in err
    assert tree(out) == before and lock.read_bytes() == content


# -- write failures are messages --------------------------------------------------------------


def test_output_is_a_file(tmp_path, src):
    f = tmp_path / "f"
    f.write_text("x")
    code, _, err = cli("compile", str(src), "-o", str(f))
    assert code == 2 and "exists and is not a directory" in err
    code, _, err = cli("compile", str(src), "-o", str(f / "sub"))
    assert code == 2 and str(f / "sub") in err and "Not a directory" in err
    assert f.read_text() == "x"


def test_output_name_too_long(tmp_path, src):
    code, _, err = cli("compile", str(src), "-o", str(tmp_path / ("d" * 300)))
    assert code == 2 and "File name too long" in err


def test_empty_output(src):
    code, _, err = cli("compile", str(src), "-o", "")
    assert code == 2 and "-o needs a directory" in err


@pytest.mark.parametrize("errno_,what,where", [
    (30, "Read-only file system", "open"),
    (28, "No space left on device", "writev"),
    (13, "Permission denied", "open"),
    (122, "Disk quota exceeded", "fsync"),
    (5, "Input/output error", "rename"),
])
def test_write_failures_are_messages(tmp_path, src, monkeypatch, errno_, what, where):
    """Failures root cannot provoke with chmod, injected at each system call the writer makes."""
    out = tmp_path / "out"
    out.mkdir()
    real = getattr(os, where)

    def failing(*a, **kw):
        if where == "open" and not (len(a) > 1 and a[1] & os.O_CREAT):
            return real(*a, **kw)  # directory and reads work; creating files fails
        raise OSError(errno_, os.strerror(errno_))

    monkeypatch.setattr(os, where, failing)
    code, _, err = cli("compile", str(src), "-o", str(out))
    monkeypatch.setattr(os, where, real)
    assert code == 2 and what in err and str(out) in err
    assert [p.name for p in out.iterdir()] == []  # no temporary file left behind


def _unshare() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare(), reason="needs root and unshare --mount")
@pytest.mark.parametrize("setup,what", [
    ("mount --bind {out} {out} && mount -o remount,bind,ro {out}", "Read-only file system"),
    ("mount -t tmpfs -o size=8k tmpfs {out}", "No space left on device"),
])
def test_real_read_only_and_full_directories(tmp_path, src, setup, what):
    """The real failures, in a private mount namespace (nothing outside it sees the mounts)."""
    out = tmp_path / "out"
    out.mkdir()
    script = (setup.format(out=out) + f" && exec {sys.executable} -m lbcli --color never compile {src} -o {out}")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert what in r.stderr and "Traceback" not in r.stderr
    assert list(out.iterdir()) == []  # the mounts went with the namespace; nothing landed beneath
