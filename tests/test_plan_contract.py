"""The plan is the contract (issue 11, item 3): the typed plan is the one source of the plan
schema, it reads back exactly what compile wrote, and `apply --plan` gets its Secrets from
Secret manifests checked against the plan's digests (refusing by reference, never by value)."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from lbcli.cli.main import app
from lbcli.compile.plan import dumps
from lbcli.plan import schema as plan_schema
from lbcli.plan.secrets import SecretMismatch, material_for
from lbcli.plan.spec import PlanFormatError
from lbcli.plan.types import NodePlan

from .lintkit import EXAMPLES, compiled_json, lint_example

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str):
    r = CliRunner().invoke(app, ["--color", "never", *args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def test_committed_schema_is_generated_from_the_types():
    assert plan_schema.main(["--check"]) == 0
    jsonschema.Draft202012Validator.check_schema(plan_schema.build())


@pytest.mark.parametrize("example", ["rebel-base", "tls-passthrough", "external-hostname"])
def test_typed_plans_round_trip_to_the_same_bytes(example):
    from lbcli.compile.plan import compile_plans

    compiled = compile_plans(lint_example(example).index)
    validator = jsonschema.Draft202012Validator(plan_schema.build())
    for plan in compiled.plans.values():
        assert isinstance(plan, NodePlan)
        doc = plan.to_json()
        validator.validate(doc)
        assert dumps(NodePlan.from_json(doc)) == dumps(plan) == dumps(doc)
        assert NodePlan.from_json(doc) == plan  # compile builds unchecked: the checked reader agrees


def test_trusted_construction_still_names_a_missing_field():
    """compile builds plans from its own JSON without re-checking values (PlanObject.trusted);
    a key the compiler forgot is still refused with its JSON path, never left as a hole."""
    doc = compiled_json(lint_example("rebel-base").index).plans["lb-t2-1"]
    del doc["tier2"]["backendPools"][0]["backends"][1]["weight"]
    with pytest.raises(PlanFormatError) as e:
        NodePlan.trusted(doc, ("plan",))
    assert str(e.value) == "plan.tier2.backendPools[0].backends[1]: missing field 'weight'"


def test_types_and_schema_refuse_the_same_broken_plans():
    """Every mutation the types refuse, the generated schema refuses too, and vice versa."""
    import copy
    import random

    plans = compiled_json(lint_example("rebel-base").index).plans
    validator = jsonschema.Draft202012Validator(plan_schema.build())
    rng = random.Random(11)
    values = [None, True, 0, -1, 70000, "", "x", "100.64.0.300", [], {}, [1], {"a": 1}]
    checked = refused = 0
    for _ in range(400):
        doc = copy.deepcopy(plans[rng.choice(sorted(plans))])
        cur, path = doc, []
        while isinstance(cur, (dict, list)) and cur and rng.random() < 0.8:
            key = rng.choice(sorted(cur)) if isinstance(cur, dict) else rng.randrange(len(cur))
            if not isinstance(cur[key], (dict, list)) or rng.random() < 0.3:
                cur[key] = rng.choice(values)
                break
            cur, path = cur[key], [*path, key]
        try:
            NodePlan.from_json(doc)
            ok_types = True
        except PlanFormatError:
            ok_types = False
            refused += 1
        ok_schema = validator.is_valid(doc)
        if ok_types != ok_schema:
            # the types also check what a schema cannot say: node names as file names,
            # Maglev table references; nothing else may differ
            msg = str(pytest.raises(PlanFormatError, NodePlan.from_json, doc).value) if not ok_types else "?"
            assert "maglevTable" in msg or "node.name" in msg, (msg, ok_types, ok_schema)
        checked += 1
    assert refused > 100


def test_errors_name_the_json_path():
    doc = compiled_json(lint_example("rebel-base").index).plans["lb-t2-1"]
    doc["tier2"]["backendPools"][0]["backends"][0]["weight"] = 0
    with pytest.raises(PlanFormatError) as e:
        NodePlan.from_json(doc)
    assert str(e.value) == "tier2.backendPools[0].backends[0].weight: is below the minimum 1"


@pytest.fixture
def compiled_dir(tmp_path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES / "rebel-base", src)
    out = tmp_path / "plans"
    assert cli("compile", str(src), "-o", str(out))[0] == 0
    return out


def _secret_yaml(tmp_path: Path, users_b64: str | None = None) -> Path:
    text = (EXAMPLES / "rebel-base" / "secrets.yaml").read_text()
    if users_b64 is not None:  # another (valid) users Secret than the plan was compiled from
        import yaml

        docs = list(yaml.safe_load_all(text))
        for d in docs:
            if d and d.get("kind") == "Secret" and "users" in (d.get("data") or {}):
                d["data"]["users"] = users_b64
        text = yaml.safe_dump_all(docs)
    f = tmp_path / "secrets.yaml"
    f.write_text(text)
    return f


def test_apply_plan_refuses_missing_and_changed_secrets_by_reference(tmp_path, compiled_dir):
    code, out, err = cli("apply", "--plan", str(compiled_dir), "--node", "lb-t2-1", "--state-dir", str(tmp_path / "s"))
    assert code == 2 and "default/https-proxy" in err and "not found" in err
    import hashlib

    sha = base64.b64encode(hashlib.sha1(b"another-password").digest()).decode()
    line = f"markeruser:{{SHA}}{sha}\n".encode()
    changed = _secret_yaml(tmp_path, base64.b64encode(line).decode())
    code, out, err = cli("apply", "--plan", str(compiled_dir), "--node", "lb-t2-1", "--secrets", str(changed),
                         "--state-dir", str(tmp_path / "s"))
    assert code == 2 and "default/base-users" in err and "does not match the digest" in err
    assert "markeruser" not in out + err and sha not in out + err and "default/https-proxy" not in err
    assert not (tmp_path / "s").exists()  # refused before touching the node


def test_given_secrets_match_the_plan(tmp_path, compiled_dir):
    from lbcli.cli.loading import plan_from

    plan, material = plan_from(str(compiled_dir), "lb-t2-1", [str(_secret_yaml(tmp_path))])
    assert sorted(material) == sorted(plan.secret_refs()) == ["default/base-users", "default/https-proxy"]
    assert b"BEGIN" in material["default/https-proxy"]["tls.crt"]
    t1, none = plan_from(str(compiled_dir), "lb-t1-1", None)
    assert none == {} and t1.tier1 is not None


def test_material_for_hands_on_only_what_the_plan_uses():
    from lbcli.plan.secrets import digest

    plan = NodePlan.from_json(compiled_json(lint_example("rebel-base").index).plans["lb-t2-1"])
    given = {"default/unused": {"k": b"v"}}
    with pytest.raises(SecretMismatch) as e:
        material_for(plan, given)
    assert "default/base-users" in str(e.value) and "default/unused" not in str(e.value)
    assert digest({"k": b"v"}, "a/b") != digest({"k": b"v"}, "a/c")  # salted by identity


def test_apply_usage_errors(tmp_path, compiled_dir):
    assert cli("apply", "--node", "lb-t1-1")[0] == 2
    code, _, err = cli("apply", str(EXAMPLES / "rebel-base"), "--plan", str(compiled_dir), "--node", "lb-t1-1")
    assert code == 2 and "not both" in err
    code, _, err = cli("apply", str(EXAMPLES / "rebel-base"), "--secrets", "x.yaml", "--node", "lb-t1-1")
    assert code == 2 and "--secrets goes with --plan" in err
    code, _, err = cli("apply", "--plan", str(compiled_dir), "--node", "nope")
    assert code == 2 and "no plan for node 'nope'" in err


def test_status_takes_the_ipam_reason_from_the_plan():
    """A service whose LBVIP got no address: the compiler puts LB-IPAM's reason on the
    service's condition, status shows it without parsing any message."""
    extra = """
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: default, name: taken}
spec: {ipv4Request: "100.64.0.101"}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: default, name: taken}
spec:
  vipRef: {name: taken}
  port: 8443
  applications:
    tcpProxy:
      routes: [{backendRef: {name: https-proxy}}]
"""
    from lbcli.compile.plan import compile_plans
    from lbcli.status import build_status

    plans = compile_plans(lint_example("rebel-base", {"extra.yaml": extra}).index).plans
    cond = next(c for c in plans["lb-t1-1"].ipam.conditions if c.ref == "LBService/default/taken")
    assert cond.reason == "AddressAlreadyInUse" and "LBVIP default/taken has no address" in cond.message
    row = next(r for r in build_status(plans).services if r.name == "taken")
    assert row.status == row.reason == "AddressAlreadyInUse"
