"""schemas/plan.schema.json describes the plans compile_plans produces: every example's plans
validate (with both validators the project uses), and broken plans do not."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import jsonschema_rs
import pytest

from lbcli.compile.plan import compile_plans

from .lintkit import lint_example, compiled_json

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json").read_text())
EXAMPLES = ["rebel-base", "tls-passthrough", "external-hostname"]

EXTRA = """
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: default, name: rogue}
spec: {ipv4Request: "100.64.0.101"}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: default, name: rogue}
spec:
  vipRef: {name: rogue}
  port: 8443
  applications:
    tcpProxy:
      routes: [{backendRef: {name: https-proxy}}]
---
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: default, name: plain}
spec: {}
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: default, name: plain}
spec:
  vipRef: {name: plain}
  port: 80
  applications:
    httpProxy:
      routes:
        - match: {hostNames: [plain.acme.io], path: {prefix: /api}}
          backendRef: {name: https-proxy}
"""


def plans_of(name: str, extra: dict | None = None) -> dict[str, dict]:
    return compiled_json(lint_example(name, extra).index).plans


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def test_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_plans_validate(example):
    plans = plans_of(example)
    assert plans
    rs = jsonschema_rs.validator_for(SCHEMA)
    for node, plan in plans.items():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(plan)]
        assert errors == [], (example, node)
        assert rs.is_valid(plan)


def test_plans_with_conditions_and_paths_validate():
    plans = plans_of("rebel-base", {"extra.yaml": EXTRA})
    t2 = plans["lb-t2-1"]
    assert t2["ipam"]["conditions"]  # rogue could not get its address
    assert any(r["path"] for l in t2["tier2"]["listeners"] for r in l["routes"])
    for plan in plans.values():
        validator().validate(plan)


def _set(doc: dict, path: list, value) -> None:
    for k in path[:-1]:
        doc = doc[k]
    if value is _DELETE:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


_DELETE = object()
T1, T2 = "lb-t1-1", "lb-t2-1"
BROKEN = [
    ("missing section", T1, ["ipam"], _DELETE),
    ("unknown top-level key", T1, ["extra"], 1),
    ("wrong kind", T1, ["kind"], "Plan"),
    ("unknown tier", T1, ["node", "tiers"], ["t3"]),
    ("VIP not an address", T1, ["tier1", "services", 0, "vip"], "100.64.0.300"),
    ("port out of range", T1, ["tier1", "services", 0, "port"], 70000),
    ("protocol", T1, ["tier1", "services", 0, "protocol"], "SCTP"),
    ("maglev encoding", T1, ["tier1", "maglevTables", 0, "encoding"], "json"),
    ("table digest", T1, ["tier1", "maglevTables", 0, "sha256"], "ABC"),
    ("prefix not a CIDR", T1, ["bgp", "instances", 0, "peers", 0, "prefixes", 0, "prefix"], "100.64.0.0/33"),
    ("BFD multiplier", T1, ["bgp", "instances", 0, "peers", 0, "bfd", "detectMultiplier"], 1),
    ("secret material beside the reference", T2, ["tier2", "listeners", 0, "tls", "certificates", 0, "tls.key"], "LS0t"),
    ("listener type", T2, ["tier2", "listeners", 0, "type"], "grpcProxy"),
    ("backend weight 0", T2, ["tier2", "backendPools", 0, "backends", 0, "weight"], 0),
    ("backend status", T2, ["tier2", "backendPools", 0, "backends", 0, "status"], "Broken"),
    ("tunnel MAC", T2, ["tier2", "dispatch", "tunnelMac"], "02:zz:00:00:00:00"),
    ("routing mode", T2, ["network", "routingMode"], "bgp"),
    ("auth without digest key", T2, ["tier2", "listeners", 0, "auth", "basic"], {"secretRef": "default/base-users"}),
]


@pytest.mark.parametrize("what,node,path,value", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_plans_fail(what, node, path, value):
    plan = copy.deepcopy(plans_of("rebel-base")[node])
    validator().validate(plan)  # the unbroken plan passes
    _set(plan, path, value)
    assert list(validator().iter_errors(plan)), what
    assert not jsonschema_rs.validator_for(SCHEMA).is_valid(plan)
