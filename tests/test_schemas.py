"""The per-kind JSON Schemas in schemas/ and the example manifest sets in examples/."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import importlib.util
import json
from pathlib import Path

import jsonschema
import jsonschema_rs
import pytest
import yaml
from cryptography import x509

try:
    from tests.certs import htpasswd_sha, make_ca, make_leaf, tls_secret, tls_secret_yaml
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from certs import htpasswd_sha, make_ca, make_leaf, tls_secret, tls_secret_yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
EXAMPLES = ROOT / "examples"
EXAMPLE_SETS = ("rebel-base", "tls-passthrough", "external-hostname")
KINDS = {
    "LBVIP": ["isovalent.com/v1alpha1"],
    "LBService": ["isovalent.com/v1alpha1"],
    "LBBackendPool": ["isovalent.com/v1alpha1"],
    "LBDeployment": ["isovalent.com/v1alpha1"],
    "IsovalentBGPClusterConfig": ["isovalent.com/v1", "isovalent.com/v1alpha1"],
    "IsovalentBGPPeerConfig": ["isovalent.com/v1", "isovalent.com/v1alpha1"],
    "IsovalentBGPAdvertisement": ["isovalent.com/v1", "isovalent.com/v1alpha1"],
    "IsovalentBFDProfile": ["isovalent.com/v1alpha1"],
    "IsovalentBGPNodeConfigOverride": ["isovalent.com/v1", "isovalent.com/v1alpha1"],
    "CiliumBGPClusterConfig": ["cilium.io/v2", "cilium.io/v2alpha1"],
    "CiliumBGPPeerConfig": ["cilium.io/v2", "cilium.io/v2alpha1"],
    "CiliumBGPAdvertisement": ["cilium.io/v2", "cilium.io/v2alpha1"],
    "CiliumBGPNodeConfigOverride": ["cilium.io/v2", "cilium.io/v2alpha1"],
    "CiliumLoadBalancerIPPool": ["cilium.io/v2alpha1", "cilium.io/v2"],
    "Service": ["v1"],
    "Secret": ["v1"],
    "Node": ["v1"],
    "Pod": ["v1"],
    "ConfigMap": ["v1"],
    "EndpointSlice": ["discovery.k8s.io/v1"],
    "Endpoints": ["v1"],
}


# ---------------------------------------------------------------- helpers
def _kind_schema_files() -> list[Path]:
    out = []
    for p in sorted(SCHEMAS.glob("*.schema.json")):
        if "x-kubernetes-kind" in json.loads(p.read_text()):
            out.append(p)
    return out


def _by_type() -> dict[tuple[str, str], dict]:
    out = {}
    for p in _kind_schema_files():
        s = json.loads(p.read_text())
        for v in s["x-kubernetes-api-versions"]:
            assert (v, s["x-kubernetes-kind"]) not in out, f"{v} {s['x-kubernetes-kind']} twice"
            out[(v, s["x-kubernetes-kind"])] = s
    return out


SCHEMA_BY_TYPE = _by_type()


def errors(doc: dict) -> list[jsonschema.ValidationError]:
    """Schema errors of doc from the reference validator (formats checked too)."""
    schema = SCHEMA_BY_TYPE[(doc["apiVersion"], doc["kind"])]
    v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))


def rs_valid(doc: dict) -> bool:
    return jsonschema_rs.validator_for(SCHEMA_BY_TYPE[(doc["apiVersion"], doc["kind"])]).is_valid(doc)


def assert_valid(doc: dict) -> None:
    errs = errors(doc)
    assert not errs, [f"{list(e.absolute_path)}: {e.message}" for e in errs]
    assert rs_valid(doc)


def assert_invalid(doc: dict, validator: str | None = None, path: list | None = None) -> None:
    """doc is rejected by both validators; optionally by `validator` at `path` (leaf error)."""
    errs = errors(doc)
    assert errs, "expected a schema error"
    assert not rs_valid(doc)
    if validator is not None:
        leaves = [leaf for e in errs for leaf in _leaves(e)]
        hits = [e for e in leaves if e.validator == validator
                and (path is None or list(e.absolute_path) == path)]
        assert hits, [(e.validator, list(e.absolute_path), e.message) for e in leaves]


def _leaves(e: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    if not e.context:
        return [e]
    return [leaf for c in e.context for leaf in _leaves(c)]


def load_set(name: str) -> list[dict]:
    docs = []
    for p in sorted((EXAMPLES / name).glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
    return docs


def example(name: str, kind: str, obj_name: str | None = None) -> dict:
    for d in load_set(name):
        if d["kind"] == kind and (obj_name is None or d["metadata"]["name"] == obj_name):
            return copy.deepcopy(d)
    raise LookupError(f"{kind}/{obj_name} not in {name}")


def at(schema: dict, *path: str) -> dict:
    """Follow property names (and $defs refs, allOf) from the document root."""
    node = schema
    for key in path:
        node = _deref(schema, node)
        if key == "[]":
            node = node["items"]
        else:
            node = node["properties"][key]
    return _deref(schema, node)


def _deref(root: dict, node: dict) -> dict:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


# ---------------------------------------------------------------- schema files
def test_every_kind_has_one_schema_file():
    files = {p.name for p in _kind_schema_files()}
    assert files == {f"{k}.schema.json" for k in KINDS}
    for kind, versions in KINDS.items():
        s = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
        assert s["x-kubernetes-kind"] == kind
        assert s["x-kubernetes-api-versions"] == versions
        assert s["properties"]["kind"] == {"const": kind}
        assert s["properties"]["apiVersion"] == {"enum": versions}


@pytest.mark.parametrize("path", _kind_schema_files(), ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path):
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema_rs.validator_for(schema)  # compiles in the fast validator too


@pytest.mark.parametrize("path", _kind_schema_files(), ids=lambda p: p.name)
def test_every_object_we_define_is_closed(path):
    """additionalProperties: false everywhere except where a core v1 kind stays open on purpose."""
    schema = json.loads(path.read_text())
    open_ok = {("Node", "spec"), ("Node", "status"), ("Pod", "spec"), ("Pod", "status"), ("Service", "spec"),
               ("Service", "status"),
               # an endpoint, its conditions, a port, a subset and an address: hints, targetRef, ...
               ("EndpointSlice", "items"), ("EndpointSlice", "conditions"), ("Endpoints", "items")}

    def walk(node, trail):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                ap = node.get("additionalProperties")
                if ap is not False:
                    assert (schema["x-kubernetes-kind"], trail[-1]) in open_ok, trail
            for k, v in node.items():
                walk(v, trail + [k] if k not in ("properties", "$defs") else trail)
        elif isinstance(node, list):
            for v in node:
                walk(v, trail)

    walk(schema, [])
    assert schema["additionalProperties"] is False


def test_schemas_match_generator():
    spec = importlib.util.spec_from_file_location("schema_generate", SCHEMAS / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, text in gen.build_all().items():
        assert (SCHEMAS / name).read_text() == text, f"{name} stale: run python schemas/generate.py"


# ---------------------------------------------------------------- examples
@pytest.mark.parametrize("name", EXAMPLE_SETS)
def test_example_documents_validate(name):
    docs = load_set(name)
    assert docs
    for d in docs:
        assert (d["apiVersion"], d["kind"]) in SCHEMA_BY_TYPE, (d["apiVersion"], d["kind"])
        assert_valid(d)


@pytest.mark.parametrize("name", EXAMPLE_SETS)
def test_example_set_is_self_contained(name):
    """Every name an LB object refers to is defined in the same set (and namespace)."""
    docs = load_set(name)
    have = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs}
    kinds = {d["kind"] for d in docs}
    assert {"LBVIP", "LBService", "LBBackendPool", "Node", "ConfigMap",
            "CiliumLoadBalancerIPPool", "IsovalentBGPClusterConfig"} <= kinds
    for d in docs:
        ns = d["metadata"].get("namespace")
        if d["kind"] == "LBService":
            spec = d["spec"]
            assert ("LBVIP", ns, spec["vipRef"]["name"]) in have
            (app,) = spec["applications"].values()
            for route in app["routes"]:
                assert ("LBBackendPool", ns, route["backendRef"]["name"]) in have
            for cert in app.get("tlsConfig", {}).get("certificates", []):
                assert ("Secret", ns, cert["secretRef"]["name"]) in have
            basic = app.get("auth", {}).get("basic")
            if basic:
                assert ("Secret", ns, basic["users"]["secretRef"]["name"]) in have
        if d["kind"] == "IsovalentBGPClusterConfig":
            for inst in d["spec"]["bgpInstances"]:
                for peer in inst["peers"]:
                    assert ("IsovalentBGPPeerConfig", None, peer["peerConfigRef"]["name"]) in have
        if d["kind"] == "IsovalentBGPPeerConfig" and "bfdProfileRef" in d["spec"]:
            assert ("IsovalentBFDProfile", None, d["spec"]["bfdProfileRef"]) in have
    tiers = sorted(d["metadata"]["labels"]["service.cilium.io/node"] for d in docs if d["kind"] == "Node")
    assert tiers == ["t1", "t1", "t2", "t2"]
    (cfg,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert (cfg["metadata"]["namespace"], cfg["metadata"]["name"]) == ("kube-system", "cilium-config")


def test_rebel_base_matches_the_seed_lab():
    vip = example("rebel-base", "LBVIP")
    assert vip["spec"]["ipv4Request"] == "100.64.0.101"
    svc = example("rebel-base", "LBService")
    assert svc["spec"]["port"] == 443
    https = svc["spec"]["applications"]["httpsProxy"]
    (route,) = https["routes"]
    assert route["match"]["hostNames"] == ["https-proxy.acme.io"]
    assert route["persistentBackend"] == {"headers": [{"name": "sticky"}]}
    assert https["auth"]["basic"]["users"]["secretRef"]["name"] == "base-users"
    pool = example("rebel-base", "LBBackendPool")
    assert [(b["ip"], b["port"], b.get("weight", 1)) for b in pool["spec"]["backends"]] == [
        ("172.18.0.7", 8080, 1), ("172.18.0.8", 8080, 2)]
    assert "consistentHashing" in pool["spec"]["loadbalancing"]["algorithm"]
    nodes = [d for d in load_set("rebel-base") if d["kind"] == "Node"]
    internal = sorted(a["address"] for n in nodes for a in n["status"]["addresses"]
                      if a["type"] == "InternalIP")
    assert internal == ["192.168.121.11", "192.168.121.12", "192.168.121.21", "192.168.121.22"]
    cfg = example("rebel-base", "ConfigMap")
    assert cfg["data"]["routing-mode"] == "tunnel" and cfg["data"]["tunnel-protocol"] == "vxlan"


def _secret_bytes(doc: dict, key: str) -> bytes:
    return base64.b64decode(doc["data"][key])


def test_rebel_base_tls_secret_is_a_real_chain_for_the_route_host():
    s = example("rebel-base", "Secret", "https-proxy")
    assert s["type"] == "kubernetes.io/tls"
    leaf = x509.load_pem_x509_certificate(_secret_bytes(s, "tls.crt"))
    ca = x509.load_pem_x509_certificate(_secret_bytes(s, "ca.crt"))
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(_secret_bytes(s, "tls.key"), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "https-proxy.acme.io" in sans.get_values_for_type(x509.DNSName)
    leaf.verify_directly_issued_by(ca)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc >= dt.timedelta(days=365 * 20 - 1)
    assert leaf.not_valid_before_utc <= dt.datetime.now(dt.timezone.utc) < leaf.not_valid_after_utc


def test_rebel_base_users_secret_holds_the_documented_lab_user():
    s = example("rebel-base", "Secret", "base-users")
    lines = _secret_bytes(s, "users").decode().splitlines()
    text = (EXAMPLES / "rebel-base" / "secrets.yaml").read_text()
    assert 'user "rebel", password "use-the-force"' in text
    (line,) = lines
    user, _, hashed = line.partition(":")
    assert user == "rebel"
    assert hashed == "{SHA}" + base64.b64encode(hashlib.sha1(b"use-the-force").digest()).decode()
    assert line == htpasswd_sha("rebel", "use-the-force")


# ---------------------------------------------------------------- negative cases
SEED_LBSERVICE = """
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata:
  namespace: default
  name: https-proxy
spec:
  vipRef:
    name: https-proxy
  port: 443
  applications:
    httpsProxy:
      tlsConfig:
        certificates:
          - secretRef:
              name: "https-proxy"
      routes:
        - match:
            hostNames:
              - "https-proxy.acme.io"
          backendRef:
            name: https-proxy
          persistentBackend:
          headers:
              - name: sticky
      auth:
        basic:
          users:
            secretRef:
              name: base-users
"""


def test_seed_misplaced_headers_is_rejected():
    doc = yaml.safe_load(SEED_LBSERVICE)
    route_path = ["spec", "applications", "httpsProxy", "routes", 0]
    assert_invalid(doc, "additionalProperties", route_path)
    # ... and the empty persistentBackend it leaves behind is not an object.
    assert_invalid(doc, "type", route_path + ["persistentBackend"])


@pytest.mark.parametrize("where", [
    ("LBService", ["spec"]),
    ("LBService", ["spec", "applications", "httpsProxy", "tlsConfig"]),
    ("LBService", ["metadata"]),
    ("LBBackendPool", ["spec", "backends", 0]),
    ("LBBackendPool", ["spec", "healthCheck", "http"]),
    ("IsovalentBGPPeerConfig", ["spec", "timers"]),
    ("IsovalentBFDProfile", ["spec"]),
    ("CiliumLoadBalancerIPPool", ["spec", "blocks", 0]),
    ("Secret", []),
    ("ConfigMap", []),
])
def test_unknown_field_is_rejected(where):
    kind, path = where
    doc = example("rebel-base", kind)
    if kind == "IsovalentBGPPeerConfig":
        doc["spec"].setdefault("timers", {"holdTimeSeconds": 9})
    node = doc
    for p in path:
        node = node[p]
    node["bogusField"] = 1
    assert_invalid(doc, "additionalProperties", path)


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_service_port_out_of_range(port):
    doc = example("rebel-base", "LBService")
    doc["spec"]["port"] = port
    assert_invalid(doc, "minimum" if port < 1 else "maximum", ["spec", "port"])


@pytest.mark.parametrize("port", [0, 70000])
def test_backend_port_out_of_range(port):
    doc = example("rebel-base", "LBBackendPool")
    doc["spec"]["backends"][0]["port"] = port
    assert_invalid(doc, "minimum" if port < 1 else "maximum", ["spec", "backends", 0, "port"])


def test_backend_weight_zero_rejected():
    doc = example("rebel-base", "LBBackendPool")
    doc["spec"]["backends"][1]["weight"] = 0
    assert_invalid(doc, "minimum", ["spec", "backends", 1, "weight"])


@pytest.mark.parametrize("field,value,validator", [
    ("detectMultiplier", 1, "minimum"),
    ("detectMultiplier", 256, "maximum"),
    ("receiveIntervalMilliseconds", 5, "minimum"),
    ("transmitIntervalMilliseconds", 5, "minimum"),
    ("transmitIntervalMilliseconds", 60001, "maximum"),
    ("minimumTTL", 0, "minimum"),
])
def test_bfd_out_of_bounds(field, value, validator):
    doc = example("rebel-base", "IsovalentBFDProfile")
    doc["spec"][field] = value
    assert_invalid(doc, validator, ["spec", field])


@pytest.mark.parametrize("hold,ok", [(0, True), (3, True), (90, True), (65535, True),
                                     (1, False), (2, False), (65536, False)])
def test_bgp_hold_time_is_zero_or_3_to_65535(hold, ok):
    doc = example("rebel-base", "IsovalentBGPPeerConfig")
    doc["spec"].setdefault("timers", {})["holdTimeSeconds"] = hold
    (assert_valid if ok else assert_invalid)(doc)


@pytest.mark.parametrize("mutate", [
    lambda s: s["bgpInstances"][0].__setitem__("localASN", 0),
    lambda s: s["bgpInstances"][0].__setitem__("localASN", 4294967296),
    lambda s: s["bgpInstances"][0]["peers"][0].__setitem__("peerAddress", "192.168.121.300"),
    lambda s: s["bgpInstances"][0]["peers"][0].__setitem__("peerAddress", "router"),
    lambda s: s.__setitem__("bgpInstances", []),
    lambda s: s["nodeSelector"]["matchLabels"].__setitem__("service.cilium.io/node", "t 1"),
])
def test_bgp_cluster_config_bad_values(mutate):
    doc = example("rebel-base", "IsovalentBGPClusterConfig")
    mutate(doc["spec"])
    assert_invalid(doc)


def test_bgp_peer_ipv6_address_accepted():
    doc = example("rebel-base", "IsovalentBGPClusterConfig")
    doc["spec"]["bgpInstances"][0]["peers"][0]["peerAddress"] = "fd00:121::201"
    assert_valid(doc)


def test_bfd_profile_ref_is_a_plain_name():
    doc = example("rebel-base", "IsovalentBGPPeerConfig")
    doc["spec"]["bfdProfileRef"] = {"name": "router-bfd"}
    assert_invalid(doc, "type", ["spec", "bfdProfileRef"])


def test_label_selector_operator_and_values():
    doc = example("rebel-base", "IsovalentBGPAdvertisement")
    expr = doc["spec"]["advertisements"][0]["selector"]["matchExpressions"][0]
    expr["operator"] = "Contains"
    assert_invalid(doc, "enum")
    expr["operator"] = "In"
    expr["values"] = []
    assert_invalid(doc)
    expr["operator"] = "Exists"
    del expr["values"]
    assert_valid(doc)


def test_advertisement_service_needs_addresses_of_known_kinds():
    doc = example("rebel-base", "IsovalentBGPAdvertisement")
    adv = doc["spec"]["advertisements"][0]
    adv["service"]["addresses"] = ["PodIP"]
    assert_invalid(doc, "enum")
    del adv["service"]
    assert_invalid(doc, "required")
    adv["advertisementType"] = "PodCIDR"
    assert_invalid(doc, "not")  # upstream: a PodCIDR advertisement takes no selector
    del adv["selector"]
    assert_valid(doc)


def test_applications_exactly_one_is_left_to_the_rule():
    # the schema accepts zero or two applications so the single-application rule can name them
    doc = example("rebel-base", "LBService")
    apps = doc["spec"]["applications"]
    apps["tcpProxy"] = {"routes": [{"backendRef": {"name": "https-proxy"}}]}
    assert_valid(doc)


@pytest.mark.parametrize("app", [
    {"httpProxy": {"routes": [{"match": {"path": {"prefix": "/api"}},
                               "backendRef": {"name": "p"},
                               "persistentBackend": {"sourceIP": True, "cookies": [{"name": "s"}]},
                               "requestFiltering": {"ruleType": "Deny", "rules": [
                                   {"sourceCIDR": {"cidr": "10.0.0.0/8"}},
                                   {"headers": [{"name": "x-env", "value": {"exact": "dev"}}]}]},
                               "rateLimits": {"requests": {"limit": 10, "timePeriodSeconds": 1}}}],
                   "rateLimits": {"connections": {"limit": 100, "timePeriodSeconds": 1}}}},
    {"httpsProxy": {"tlsConfig": {"certificates": [{"secretRef": {"name": "c"}}],
                                  "validation": {"secretRef": {"name": "ca"},
                                                 "subjectAlternativeNames": [{"exact": "client.acme.io"}]},
                                  "minTLSVersion": "TLSv1_2", "maxTLSVersion": "TLSv1_3",
                                  "allowedCipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256"]},
                    "routes": [{"match": {"hostNames": ["*.acme.io", "*"]}, "backendRef": {"name": "p"},
                                "auth": {"basic": {"disabled": True}}}],
                    "auth": {"basic": {"users": {"secretRef": {"name": "u"}}}}}},
    {"tlsPassthrough": {"routes": [{"backendRef": {"name": "p"},
                                    "persistentBackend": {"sourceIP": True}}]}},
    {"tlsProxy": {"tlsConfig": {"certificates": [{"secretRef": {"name": "c"}}]},
                  "routes": [{"match": {"hostNames": ["db.acme.io"]}, "backendRef": {"name": "p"},
                              "rateLimits": {"connections": {"limit": 5, "timePeriodSeconds": 60}}}]}},
    {"tcpProxy": {"forceDeploymentMode": "t1-only", "routes": [{"backendRef": {"name": "p"}}]}},
    {"udpProxy": {"routes": [{"backendRef": {"name": "p"},
                              "connectionFiltering": {"ruleType": "Allow", "rules": [
                                  {"sourceCIDR": {"cidr": "192.168.0.0/16"}}]}}]}},
], ids=lambda a: next(iter(a)))
def test_all_six_application_types_accepted(app):
    doc = example("rebel-base", "LBService")
    doc["spec"]["applications"] = app
    doc["spec"]["proxyProtocolConfig"] = {"disallowedVersions": [1]}
    assert_valid(doc)


@pytest.mark.parametrize("mutate", [
    lambda a: a["tlsConfig"].__setitem__("minTLSVersion", "TLSv1.2"),
    lambda a: a["tlsConfig"].__setitem__("certificates", []),
    lambda a: a["tlsConfig"].__setitem__("validation", {"subjectAlternativeNames": [{"exact": "x"}]}),
    lambda a: a["routes"][0]["match"].__setitem__("hostNames", ["foo.*"]),
    lambda a: a["routes"][0]["match"].__setitem__("hostNames", ["Https-Proxy.acme.io"]),
    lambda a: a["routes"][0]["match"].__setitem__("path", {"exact": "/a", "prefix": "/"}),
    lambda a: a["routes"][0].__setitem__("persistentBackend", {}),
    lambda a: a["routes"][0].__delitem__("backendRef"),
    lambda a: a.__setitem__("routes", []),
    lambda a: a["auth"].__setitem__("jwt", {"providers": [{"name": "x", "jwks": {"httpURI": {"uri": "https://i/j"}}}]}),
])
def test_lbservice_bad_values(mutate):
    doc = example("rebel-base", "LBService")
    mutate(doc["spec"]["applications"]["httpsProxy"])
    assert_invalid(doc)


@pytest.mark.parametrize("mutate", [
    lambda s: s.__setitem__("backendType", "DNS"),
    lambda s: s["backends"][0].__setitem__("host", "a.example"),           # ip and host
    lambda s: s["backends"][0].__delitem__("ip"),                          # neither
    lambda s: s.__setitem__("backendType", "Hostname"),                    # IP backends under Hostname
    lambda s: s.__setitem__("dnsResolverConfig", {"resolvers": [{"ip": "1.1.1.1", "port": 53}]}),
    lambda s: s["healthCheck"].__setitem__("tcp", {}),                     # http and tcp
    lambda s: s.__delitem__("healthCheck"),
    lambda s: s["healthCheck"].__setitem__("intervalSeconds", 0),
    lambda s: s["backends"][0].__setitem__("status", "Down"),
    lambda s: s["loadbalancing"]["algorithm"].__setitem__("roundRobin", {}),
    lambda s: s["loadbalancing"]["algorithm"].__setitem__(
        "consistentHashing", {"algorithm": {"maglev": {"tableSize": 5000012}}}),
    lambda s: s.__setitem__("tcpConfig", {"connectTimeoutSeconds": 0}),
])
def test_backend_pool_bad_values(mutate):
    doc = example("rebel-base", "LBBackendPool")
    mutate(doc["spec"])
    assert_invalid(doc)


def test_backend_pool_good_variants():
    doc = example("rebel-base", "LBBackendPool")
    doc["spec"]["backends"][0]["status"] = "Draining"
    doc["spec"]["backends"][1]["status"] = "Active"
    doc["spec"]["loadbalancing"]["algorithm"] = {
        "consistentHashing": {"algorithm": {"maglev": {"tableSize": 16381}}}}
    doc["spec"]["healthCheck"]["http"].update(
        {"host": "lb", "method": "HEAD", "healthyStatusCodes": [{"start": 200, "end": 300}]})
    doc["spec"]["tcpConfig"] = {"connectTimeoutSeconds": 3}
    assert_valid(doc)
    k8s = example("rebel-base", "LBBackendPool")
    k8s["spec"]["backendType"] = "K8sService"
    k8s["spec"]["backends"] = [{"k8sServiceRef": {"name": "web"}, "port": 80}]
    assert_valid(k8s)


@pytest.mark.parametrize("block,ok", [
    ({"cidr": "100.64.0.0/24"}, True),
    ({"cidr": "2001:db8::/64"}, True),
    ({"start": "100.64.0.10", "stop": "100.64.0.20"}, True),
    ({"start": "100.64.0.10"}, True),
    ({"cidr": "100.64.0.0/33"}, False),
    ({"cidr": "100.64.0.0"}, False),
    ({"cidr": "100.64.0.0/24", "start": "100.64.0.1"}, False),
    ({"stop": "100.64.0.20"}, False),
])
def test_ip_pool_blocks(block, ok):
    doc = example("rebel-base", "CiliumLoadBalancerIPPool")
    doc["spec"]["blocks"] = [block]
    (assert_valid if ok else assert_invalid)(doc)


def test_ip_pool_allow_first_last_ips_enum():
    doc = example("rebel-base", "CiliumLoadBalancerIPPool")
    doc["spec"]["allowFirstLastIPs"] = "No"
    doc["spec"]["disabled"] = True
    assert_valid(doc)
    doc["spec"]["allowFirstLastIPs"] = "yes"
    assert_invalid(doc, "enum")


def test_api_version_must_be_listed():
    doc = example("rebel-base", "IsovalentBFDProfile")
    doc["apiVersion"] = "isovalent.com/v2"
    schema = SCHEMA_BY_TYPE[("isovalent.com/v1alpha1", "IsovalentBFDProfile")]
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    assert not jsonschema_rs.validator_for(schema).is_valid(doc)


def test_seed_v1alpha1_bgp_advertisement_accepted():
    doc = example("rebel-base", "IsovalentBGPAdvertisement")
    doc["apiVersion"] = "isovalent.com/v1alpha1"
    assert_valid(doc)


# ---------------------------------------------------------------- v1 kinds
SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: rebel-base
  namespace: default
  annotations:
    lbipam.cilium.io/ips: "100.64.0.101"
    lbipam.cilium.io/sharing-key: rebel-base
    service.cilium.io/no-advertisement: "true"
  resourceVersion: "1234"
  uid: 0b6c1d9e-7c1a-4d47-9a4e-1c4b3e0a1d11
spec:
  type: LoadBalancer
  selector:
    app: rebel-base
  ports:
    - name: https
      port: 443
      protocol: TCP
      targetPort: https
  clusterIP: 10.96.12.34
  sessionAffinity: None
  allocateLoadBalancerNodePorts: true
status:
  loadBalancer:
    ingress:
      - ip: 100.64.0.101
"""


def test_service_as_kubectl_prints_it():
    assert_valid(yaml.safe_load(SERVICE))


@pytest.mark.parametrize("mutate", [
    lambda d: d["metadata"]["annotations"].__setitem__("service.cilium.io/no-advertisement", "yes"),
    lambda d: d["metadata"]["annotations"].__setitem__("lbipam.cilium.io/ips", "100.64.0.999"),
    lambda d: d["spec"]["ports"][0].__setitem__("port", 0),
    lambda d: d["spec"]["ports"][0].__setitem__("portt", 1),
    lambda d: d["spec"].__setitem__("type", "Balancer"),
    lambda d: d["spec"].__setitem__("loadBalancerIP", "not-an-ip"),
])
def test_service_bad_values(mutate):
    doc = yaml.safe_load(SERVICE)
    mutate(doc)
    assert_invalid(doc)


def test_service_lbipam_ips_list():
    doc = yaml.safe_load(SERVICE)
    doc["metadata"]["annotations"]["lbipam.cilium.io/ips"] = "100.64.0.101, 2001:db8::65"
    assert_valid(doc)


def test_node_extra_kubectl_fields_pass_but_read_fields_are_checked():
    doc = example("rebel-base", "Node")
    doc["spec"]["taints"] = [{"key": "k", "effect": "NoSchedule"}]
    doc["status"]["capacity"] = {"cpu": "2"}
    assert_valid(doc)
    doc["status"]["addresses"][0]["address"] = "192.168.121"
    assert_invalid(doc)
    doc = example("rebel-base", "Node")
    doc["spec"]["podCIDRs"] = ["10.244.1.0"]
    assert_invalid(doc)
    doc = example("rebel-base", "Node")
    doc["metadata"]["labels"]["service.cilium.io/node"] = 1
    assert_invalid(doc)


def test_configmap_values_are_strings():
    doc = example("rebel-base", "ConfigMap")
    doc["data"]["enable-ipv4-masquerade"] = True  # an unquoted YAML true
    assert_invalid(doc, "type", ["data", "enable-ipv4-masquerade"])


def test_tls_secret_requires_cert_and_key():
    ca = make_ca()
    doc = tls_secret("web", make_leaf(ca, ["web.acme.io"]), ca=ca)
    assert_valid(doc)
    del doc["data"]["tls.key"]
    assert_invalid(doc)
    doc = tls_secret("web", make_leaf(ca, ["web.acme.io"]))
    doc["data"]["tls.crt"] = "not base64!"
    assert_invalid(doc, "pattern")
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web"},
             "type": "kubernetes.io/tls", "stringData": {"tls.crt": "x", "tls.key": "y"}}
    assert_valid(plain)


# ---------------------------------------------------------------- defaults
@pytest.mark.parametrize("kind,path,default", [
    ("LBBackendPool", ("spec", "backends", "[]", "weight"), 1),
    ("LBBackendPool", ("spec", "tcpConfig", "connectTimeoutSeconds"), 5),
    ("LBBackendPool", ("spec", "loadbalancing", "algorithm", "consistentHashing", "algorithm",
                       "maglev", "tableSize"), 65537),
    ("LBBackendPool", ("spec", "loadbalancing"), {"algorithm": {"roundRobin": {}}}),
    ("LBBackendPool", ("spec", "healthCheck", "intervalSeconds"), 30),
    ("LBBackendPool", ("spec", "healthCheck", "timeoutSeconds"), 5),
    ("LBBackendPool", ("spec", "healthCheck", "http", "path"), "/healthz"),
    ("IsovalentBGPPeerConfig", ("spec", "transport", "peerPort"), 179),
    ("IsovalentBGPPeerConfig", ("spec", "timers", "holdTimeSeconds"), 90),
    ("IsovalentBGPPeerConfig", ("spec", "timers", "keepAliveTimeSeconds"), 30),
    ("IsovalentBGPPeerConfig", ("spec", "timers", "connectRetryTimeSeconds"), 120),
    ("IsovalentBGPPeerConfig", ("spec", "gracefulRestart", "restartTimeSeconds"), 120),
    ("IsovalentBGPPeerConfig", ("spec", "ebgpMultihop"), 1),
    ("IsovalentBFDProfile", ("spec", "receiveIntervalMilliseconds"), 300),
    ("IsovalentBFDProfile", ("spec", "transmitIntervalMilliseconds"), 300),
    ("IsovalentBFDProfile", ("spec", "detectMultiplier"), 3),
    ("IsovalentBFDProfile", ("spec", "minimumTTL"), 255),
    ("CiliumLoadBalancerIPPool", ("spec", "disabled"), False),
    ("LBService", ("spec", "applications", "tcpProxy", "forceDeploymentMode"), "auto"),
])
def test_documented_defaults(kind, path, default):
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    assert at(schema, *path)["default"] == default


def test_defaults_are_themselves_valid():
    """Every `default` satisfies the schema it sits in (checked by substituting it)."""
    for p in _kind_schema_files():
        schema = json.loads(p.read_text())

        def walk(node):
            if isinstance(node, dict):
                if "default" in node:
                    sub = {k: v for k, v in node.items() if k != "default"}
                    sub["$defs"] = schema.get("$defs", {})
                    jsonschema.validate(node["default"], sub, cls=jsonschema.Draft202012Validator)
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(schema)


# ---------------------------------------------------------------- certs helper
@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_certs_helper_builds_verifiable_chain(key_type):
    ca = make_ca(key_type=key_type)
    nb = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    na = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
    leaf = make_leaf(ca, ["a.acme.io", "100.64.0.101"], key_type=key_type,
                     not_before=nb, not_after=na)
    leaf.cert.verify_directly_issued_by(ca.cert)
    assert (leaf.cert.not_valid_before_utc, leaf.cert.not_valid_after_utc) == (nb, na)
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["a.acme.io"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["100.64.0.101"]
    assert leaf.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    if key_type == "rsa":
        assert leaf.key.key_size == 2048
    else:
        assert leaf.key.curve.name == "secp256r1"
    doc = yaml.safe_load(tls_secret_yaml("a", leaf, ca=ca, namespace="lab"))
    assert doc == tls_secret("a", leaf, ca=ca, namespace="lab")
    assert base64.b64decode(doc["data"]["tls.crt"]) == leaf.cert_pem
    assert base64.b64decode(doc["data"]["ca.crt"]) == ca.cert_pem
    assert_valid(doc)
