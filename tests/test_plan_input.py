"""Malformed plan input is exit 2 with a message naming the file — in `diff` (plan vs plan,
directories, manifests vs the applied plan) and `lb status --plan` — never a traceback, and
never exit 1 (which `diff` uses for "changes"). Plans that pass the reader are safe for every
consumer: mutated plans either fail validation or diff and status handle them."""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.compile.plan import compile_plans, dumps
from lbcli.diff import diff_plan_sets, diff_plans
from lbcli.plan import read as plan_read
from lbcli.plan.read import PlanError, check_plan, read_plan
from lbcli.status import build_status

from .lintkit import EXAMPLES, lint_example, compiled_json

T1, T2 = "lb-t1-1", "lb-t2-1"


def cli(*args: str):
    r = CliRunner().invoke(app, ["--color", "never", *args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    assert "Traceback" not in r.stderr
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    return compiled_json(lint_example("rebel-base").index).plans


@pytest.fixture
def good(tmp_path, plans) -> Path:
    d = tmp_path / "good"
    d.mkdir()
    for node, plan in plans.items():
        (d / f"{node}.json").write_bytes(dumps(plan))
    return d


def _edit(plans, node, f):
    doc = copy.deepcopy(plans[node])
    f(doc)
    return json.dumps(doc).encode()


def _set(path, value):
    def f(doc):
        for k in path[:-1]:
            doc = doc[k]
        if value is _DEL:
            del doc[path[-1]]
        else:
            doc[path[-1]] = value
    return f


_DEL = object()


def _edit_table(f):
    """Change the first Maglev table's raw slots with f(bytes) -> bytes, keeping its sha256."""
    import base64

    def g(doc):
        t = doc["tier1"]["maglevTables"][0]
        t["table"] = base64.b64encode(f(base64.b64decode(t["table"]))).decode()
    return g

# (id, bytes of the file from the plans, words the message must hold)
MALFORMED = [
    ("not-json", lambda p: b"{not json", "not JSON"),
    ("truncated", lambda p: dumps(p[T1])[:1000], "not JSON"),
    ("empty", lambda p: b"", "is empty"),
    ("list", lambda p: b"[1, 2]", "holds a list"),
    ("string", lambda p: b'"NodePlan"', "holds a string"),
    ("null", lambda p: b"null", "holds null"),
    ("no-kind", lambda p: _edit(p, T1, _set(["kind"], _DEL)), "not NodePlan"),
    ("other-kind", lambda p: _edit(p, T1, _set(["kind"], "Pod")), "not NodePlan"),
    ("version", lambda p: _edit(p, T1, _set(["apiVersion"], "cilium-lb.io/v2")), "'cilium-lb.io/v2' is not supported"),
    ("missing-field", lambda p: _edit(p, T1, _set(["ipam"], _DEL)), "missing field 'ipam'"),
    ("section-type", lambda p: _edit(p, T1, _set(["tier1"], [1, 2])), "tier1: expected null or an object, got a list"),
    ("node-type", lambda p: _edit(p, T1, _set(["node"], "x")), "node: expected an object, got a string"),
    ("deep-type", lambda p: _edit(p, T1, _set(["tier1", "services", 0, "port"], "443")), "tier1.services[0].port: expected an integer"),
    ("range", lambda p: _edit(p, T1, _set(["tier1", "services", 0, "port"], 70000)), "tier1.services[0].port: is above the maximum"),
    ("unknown-field", lambda p: _edit(p, T2, _set(["tier2", "extra"], 1)), "tier2: unknown field 'extra'"),
    ("node-name", lambda p: _edit(p, T1, _set(["node", "name"], "../../x")), "node.name '../../x' is not a DNS subdomain"),
    ("label-escape", lambda p: _edit(p, T1, _set(["node", "labels", "k\x1b[31m"], 5)), "node.labels['k\\x1b[31m']"),
    ("huge-int", lambda p: dumps(p[T1]).replace(b'"port": 443', b'"port": 123456789012345678901234567890', 1), "port"),
    # the node knows a programmed table by its sha256: an edited table must not pass as the old one
    ("table-edited", lambda p: _edit(p, T1, _edit_table(lambda raw: raw[2:4] + raw[:2] + raw[4:] if raw[:2] != raw[2:4]
                                                         else bytes([raw[0] ^ 1]) + raw[1:])),
     "tier1.maglevTables[0].sha256: is not the SHA-256 of table"),
    ("table-short", lambda p: _edit(p, T1, _edit_table(lambda raw: raw[:-2])), "tier1.maglevTables[0].table: holds"),
    ("deep", lambda p: b'{"kind": "NodePlan", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "not JSON"),
]
IDS = [m[0] for m in MALFORMED]


@pytest.mark.parametrize("name,make,words", MALFORMED, ids=IDS)
def test_reader_names_file_and_path(tmp_path, plans, name, make, words):
    f = tmp_path / "p.json"
    f.write_bytes(make(plans))
    with pytest.raises(PlanError) as e:
        read_plan(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: ") and words in msg
    assert "\x1b" not in msg and "\n" not in msg
    for vocab in ("anyOf", "oneOf", "was expected", "is not valid under"):
        assert vocab not in msg


@pytest.mark.parametrize("name,make,words", MALFORMED, ids=IDS)
def test_status_plan_file(tmp_path, plans, name, make, words):
    f = tmp_path / "p.json"
    f.write_bytes(make(plans))
    code, out, err = cli("lb", "status", "--plan", str(f))
    assert code == 2 and str(f) in err and words in err and out == ""


@pytest.mark.parametrize("name,make,words", MALFORMED, ids=IDS)
def test_status_and_diff_plan_dir_with_one_broken_plan(tmp_path, good, plans, name, make, words):
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "lb-t1-1.json").write_bytes(make(plans))
    where = str(bad / "lb-t1-1.json")
    code, _, err = cli("status", "--plan", str(bad))
    assert code == 2 and where in err and words in err
    for args in ((str(good), str(bad)), (str(bad), str(good))):
        code, out, err = cli("diff", *args)
        assert code == 2 and where in err and words in err, (args, err)
        assert out == ""


@pytest.mark.parametrize("name,make,words", MALFORMED, ids=IDS)
def test_diff_plan_files(tmp_path, good, plans, name, make, words):
    bad = tmp_path / "bad.json"
    bad.write_bytes(make(plans))
    for args in ((str(good / "lb-t1-1.json"), str(bad)), (str(bad), str(good / "lb-t1-1.json"))):
        code, out, err = cli("diff", *args)
        assert code == 2 and str(bad) in err and words in err, (args, err)


@pytest.mark.parametrize("name,make,words", MALFORMED, ids=IDS)
def test_diff_manifests_against_a_broken_applied_plan(tmp_path, plans, name, make, words):
    state = tmp_path / "state"
    (state / T1).mkdir(parents=True)
    applied = state / T1 / "applied-plan.json"
    applied.write_bytes(make(plans))
    code, out, err = cli("diff", str(EXAMPLES / "rebel-base"), "--node", T1, "--state-dir", str(state))
    assert code == 2 and str(applied) in err, err


def test_special_and_huge_files(tmp_path, good):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(plan_read.MAX_PLAN_BYTES + 1)  # sparse: refused by its size, never read
    for path, words in ((fifo, "is a FIFO"), (zero, "is a character device"), (huge, "more than the")):
        code, _, err = cli("status", "--plan", str(path))
        assert code == 2 and str(path) in err and words in err
        code, _, err = cli("diff", str(good / "lb-t1-1.json"), str(path))
        assert code == 2 and str(path) in err
    # the same inside a directory of plans
    for path in (fifo, zero, huge):
        d = tmp_path / f"dir-{path.stem}"
        shutil.copytree(good, d)
        os.rename(path, d / path.name)
        code, _, err = cli("status", "--plan", str(d))
        assert code == 2 and str(d / path.name) in err
    sub = tmp_path / "dir-sub"
    shutil.copytree(good, sub)
    (sub / "x.json").mkdir()
    code, _, err = cli("diff", str(good), str(sub))
    assert code == 2 and "x.json: is a directory" in err


def test_huge_file_read_stops_at_the_limit(tmp_path, monkeypatch):
    """A file growing while read (the size check passed) is cut at the limit, not read on."""
    f = tmp_path / "p.json"
    f.write_bytes(b" " * 5000)
    monkeypatch.setattr(plan_read, "MAX_PLAN_BYTES", 4096)
    with pytest.raises(PlanError, match="more than the 4096"):
        read_plan(f)


def test_two_plans_for_one_node(tmp_path, good):
    shutil.copy(good / "lb-t1-1.json", good / "copy.json")
    code, _, err = cli("status", "--plan", str(good))
    assert code == 2 and "a second plan for node lb-t1-1" in err


def test_status_on_manifests_or_missing(tmp_path):
    code, _, err = cli("status", "--plan", str(EXAMPLES / "rebel-base"))
    assert code == 2 and "no NodePlan JSON found" in err
    code, _, err = cli("status", "--plan", str(tmp_path / "nope"))
    assert code == 2 and "no such file or directory" in err


def test_diff_plans_against_manifests_says_why(tmp_path, good):
    code, _, err = cli("diff", str(good), str(EXAMPLES / "rebel-base"))
    assert code == 2 and "holds plans but" in err and "no NodePlan JSON found" in err


def test_good_plans_still_read(good, plans):
    code, out, err = cli("diff", str(good), str(good))
    assert code == 0 and "no changes" in out
    code, out, err = cli("status", "--plan", str(good), "-o", "json")
    assert code == 0 and json.loads(out)
    assert read_plan(good / "lb-t1-1.json").to_json() == json.loads(dumps(plans[T1]))


def test_observed_special_files(tmp_path, good):
    fifo = tmp_path / "obs.json"
    os.mkfifo(fifo)
    code, _, err = cli("status", "--plan", str(good), "--observed", str(fifo))
    assert code == 2 and "is a FIFO" in err
    code, _, err = cli("status", "--plan", str(good), "--observed", "/dev/zero")
    assert code == 2 and "is a character device" in err


# -- what passes the reader is safe for diff and status ----------------------------------------

_VALUES = [None, 0, -1, 1, 2**31, 2**63 - 1, 1.5, True, "", "x", "../../x", "100.64.0.999", "a\nb", [], [None],
           {}, {"k": 1}, [{}], "t1", "TCP", "UDP", "Draining", "u16le-base64"]


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _mutate(doc, rng):
    """One change at a random place: drop a key or item, repeat an item, take a value of the
    same type found elsewhere in the plan (mostly valid), or a hostile value (mostly not)."""
    paths = [p for p in _paths(doc) if p]
    path = rng.choice(paths)
    target = doc
    for k in path[:-1]:
        target = target[k]
    old = target[path[-1]]
    op = rng.random()
    if op < 0.15 and isinstance(target, dict):
        del target[path[-1]]
    elif op < 0.3 and isinstance(target, list):
        target.append(copy.deepcopy(old))
    elif op < 0.4 and isinstance(target, list):
        del target[path[-1]]
    elif op < 0.8:
        same = [v for v in _values(doc) if type(v) is type(old) and not isinstance(v, (dict, list))]
        target[path[-1]] = rng.choice(same) if same else old
    else:
        target[path[-1]] = copy.deepcopy(rng.choice(_VALUES))


def _values(doc):
    if isinstance(doc, dict):
        for v in doc.values():
            yield v
            yield from _values(v)
    elif isinstance(doc, list):
        for v in doc:
            yield v
            yield from _values(v)


def test_mutated_plans_fail_validation_or_are_handled(plans):
    rng = random.Random(9)
    accepted = rejected = 0
    for i in range(600):
        node = rng.choice(sorted(plans))
        doc = json.loads(dumps(plans[node]))
        for _ in range(rng.randint(1, 2)):
            _mutate(doc, rng)
        try:
            typed = check_plan(doc, "mutated.json")
        except PlanError as e:
            assert str(e).startswith("mutated.json: ")
            rejected += 1
            continue
        accepted += 1
        name = doc["node"]["name"]
        diff_plans(plans[node], doc, name)
        diff_plans(doc, plans[node], name)
        diff_plan_sets(plans, {**plans, name: doc})
        assert typed.to_json() == doc  # what was read is what the file says
        build_status({**{n: check_plan(p, n) for n, p in plans.items()}, name: typed}, None).to_json()
    assert accepted > 50 and rejected > 50, (accepted, rejected)
