"""`cilium-lb crds` and `cilium-lb manifests`: structural CRDs, and RBAC that is exactly what
the code calls (recorded at the fake API server, tests/kube_fake.py)."""

from __future__ import annotations

import copy

import pytest
import yaml

from lbcli.kube.crds import crds, structural
from lbcli.kube.deploy import manifests
from lbcli.manifest.kinds import schemas

from .kube_structural import check_crd


def test_every_crd_is_structural():
    made = crds()
    assert len(made) == len({k for (v, k) in schemas() if v.split("/")[0] in ("isovalent.com", "cilium.io")})
    for crd in made:
        assert check_crd(crd) == [], crd["metadata"]["name"]
        text = yaml.safe_dump(crd)
        assert "$ref" not in text and "$defs" not in text and "x-grammar" not in text


@pytest.mark.parametrize("bad, why", [
    ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}, "beside properties"),
    ({"type": "object", "properties": {"a": {"enum": ["x"]}}}, "no type"),
    ({"type": "object", "properties": {"a": {"type": "string"}},
      "anyOf": [{"properties": {"b": {"type": "string"}}}]}, "not declared outside"),
    ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, "'$ref' is not allowed"),
    ({"type": "array", "uniqueItems": True, "items": {"type": "string"}}, "uniqueItems"),
    ({"type": "integer", "exclusiveMinimum": 0}, "must be a boolean"),
])
def test_the_checker_catches_each_rule(bad, why):
    crd = {"metadata": {"name": "x"}, "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": bad}}]}}
    assert any(why in v for v in check_crd(crd)), check_crd(crd)


def test_conversion_rules_on_a_small_schema():
    schema = {"type": "object", "$defs": {"ip": {"type": "string", "pattern": "^x$", "x-grammar": "g"}},
              "properties": {"apiVersion": {"enum": ["isovalent.com/v1alpha1"]}, "kind": {"const": "K"},
                             "metadata": {"$ref": "#/$defs/ip"},
                             "spec": {"type": "object", "additionalProperties": False,
                                      "properties": {"ip": {"$ref": "#/$defs/ip"}, "n": {"type": ["string", "null"]},
                                                     "w": {"type": "integer", "exclusiveMinimum": 0},
                                                     "tags": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
                                                     "m": {"type": "object", "additionalProperties": {"type": "string"}},
                                                     "http": {"type": "object"}, "tcp": {"type": "object"}},
                                      "oneOf": [{"required": ["http"]}, {"required": ["tcp"]}]}}}
    s = structural(schema)
    spec = s["properties"]["spec"]
    assert spec["properties"]["ip"] == {"type": "string", "pattern": "^x$"}
    assert spec["properties"]["n"] == {"type": "string", "nullable": True}
    assert spec["properties"]["w"] == {"type": "integer", "minimum": 0, "exclusiveMinimum": True}
    assert spec["properties"]["tags"]["x-kubernetes-list-type"] == "set"
    assert spec["properties"]["m"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert spec["oneOf"] == [{"required": ["http"]}, {"required": ["tcp"]}]
    assert "additionalProperties" not in spec
    assert s["properties"]["metadata"] == {"type": "object"}


def test_crd_shape_versions_status_and_columns():
    by_name = {c["metadata"]["name"]: c for c in crds()}
    vip = by_name["lbvips.isovalent.com"]
    assert vip["spec"]["scope"] == "Namespaced" and vip["spec"]["names"]["kind"] == "LBVIP"
    (v,) = vip["spec"]["versions"]
    assert v["subresources"] == {"status": {}} and v["storage"] and v["served"]
    assert [c["name"] for c in v["additionalPrinterColumns"]] == ["Status", "IPv4 Requested", "IPv4 Assigned", "Age"]
    pool = by_name["ciliumloadbalancerippools.cilium.io"]
    assert pool["spec"]["scope"] == "Cluster"
    assert [(x["name"], x["storage"]) for x in pool["spec"]["versions"]] == [("v2", True), ("v2alpha1", False)]
    assert [c["name"] for c in pool["spec"]["versions"][0]["additionalPrinterColumns"]] == \
        ["Disabled", "Conflicting", "IPs Available", "Age"]


def test_crd_schema_still_rejects_what_matters():
    """The structural schema keeps value validation (ports, enums) a server enforces."""
    svc = next(c for c in crds() if c["spec"]["names"]["kind"] == "LBService")
    port = svc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["port"]
    assert port["type"] == "integer" and port["minimum"] == 1 and port["maximum"] == 65535


def test_daemonset_needs():
    objs = {o["kind"]: o for o in manifests("lb-system", "img:1")}
    ds = objs["DaemonSet"]["spec"]["template"]["spec"]
    assert ds["hostNetwork"] is True and ds["serviceAccountName"] == "cilium-lb"
    c = ds["containers"][0]
    assert {"NET_ADMIN", "BPF", "SYS_ADMIN"} <= set(c["securityContext"]["capabilities"]["add"])
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/sys/fs/bpf", "/var/lib/cilium-lb", "/proc/sys/net"} <= mounts
    assert objs["Role"]["metadata"]["namespace"] == "lb-system"
    assert objs["Role"]["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                      "verbs": ["get", "create", "update"]}]
    secrets = [r for r in objs["ClusterRole"]["rules"] if r["resources"] == ["secrets"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]  # never list


def test_cli_prints_them(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "lbcli", "crds"], capture_output=True, text=True, check=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["metadata"]["name"] for d in docs] == [c["metadata"]["name"] for c in crds()]
    assert all(check_crd(d) == [] for d in docs)
    out = subprocess.run([sys.executable, "-m", "lbcli", "manifests", "-n", "lb"], capture_output=True, text=True, check=True).stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(out) if d]
    assert kinds == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "DaemonSet"]
