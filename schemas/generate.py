"""Source of the per-kind JSON Schemas in this directory (draft 2020-12).

Run `python schemas/generate.py` after editing; `--check` exits 1 when a committed
`<Kind>.schema.json` differs from what this file builds (tests run the same check).

Every schema is self-contained (shared parts are copied into its `$defs`, only the ones it
uses) so a loader can compile one file without a registry. Each names its kind and the
apiVersions it is accepted under with `x-kubernetes-kind` / `x-kubernetes-api-versions`.

Field names, bounds and defaults follow the Isovalent/Cilium CRDs (isovalent.com v1alpha1/v1,
cilium.io v2alpha1/v2). Where cilium-lb deliberately differs it says so in a description:
  - backends[].status also accepts `Active` (same as omitting it).
  - BGP holdTimeSeconds also accepts 0 (RFC 4271: no keepalives); Cilium's CRD wants >= 3.
Strictness: `additionalProperties: false` on every object whose meaning we define; the
core v1 kinds (Node, Service) stay open where `kubectl get -o yaml` prints fields we ignore.
Semantic checks a schema cannot express (Maglev table size prime, keepAlive <= holdTime,
references between objects, certificate contents) live in lbcli/lint rules.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _grammar():
    """lbcli.grammar, also when this file runs as a script from a checkout."""
    try:
        from lbcli import grammar
    except ImportError:  # pragma: no cover - not installed: use the checkout
        sys.path.insert(0, str(HERE.parent))
        from lbcli import grammar
    return grammar

# ---------------------------------------------------------------- patterns
# Every string grammar lives in lbcli/grammar.py (the renderers check the same ones);
# a string schema built from one carries its pattern, maxLength and `x-grammar`, the noun
# phrase findings use ("must be an HTTP header name (RFC 9110 token)").
G = _grammar()
IPV4 = G.IPV4.pattern
IPV6 = G.IPV6.pattern
IPV4_CIDR = G.IPV4_CIDR.pattern
IPV6_CIDR = G.IPV6_CIDR.pattern
_IPV4, _IPV6 = G.IPV4_RE, G.IPV6_RE

MAX_U32 = 4294967295


# ---------------------------------------------------------------- builders
def ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def obj(props: dict, required: tuple | list = (), *, desc: str | None = None, open_: bool = False,
        **extra: Any) -> dict:
    """An object; closed (`additionalProperties: false`) unless open_."""
    s: dict[str, Any] = {"type": "object"}
    if desc:
        s["description"] = desc
    if required:
        s["required"] = list(required)
    s["properties"] = props
    s["additionalProperties"] = True if open_ else False
    s.update(extra)
    return s


def integer(lo: int | None = None, hi: int | None = None, *, default: int | None = None,
            desc: str | None = None) -> dict:
    s: dict[str, Any] = {"type": "integer"}
    if desc:
        s["description"] = desc
    if lo is not None:
        s["minimum"] = lo
    if hi is not None:
        s["maximum"] = hi
    if default is not None:
        s["default"] = default
    return s


def string(*, pattern: str | None = None, min_len: int | None = None, max_len: int | None = None,
           enum: list[str] | None = None, default: str | None = None, fmt: str | None = None,
           desc: str | None = None, grammar: Any = None) -> dict:
    """A string; `grammar` (a lbcli.grammar.Grammar) gives pattern, minLength,
    maxLength and x-grammar (explicit min_len/max_len may tighten them)."""
    s: dict[str, Any] = {"type": "string"}
    if desc:
        s["description"] = desc
    if enum is not None:
        s["enum"] = enum
    if fmt:
        s["format"] = fmt
    if grammar is not None:
        pattern = grammar.pattern
        min_len = grammar.min_len if min_len is None else min_len
        max_len = grammar.max_len if max_len is None else min(max_len, grammar.max_len)
    if pattern:
        s["pattern"] = pattern
    if min_len:
        s["minLength"] = min_len
    if max_len is not None:
        s["maxLength"] = max_len
    if grammar is not None:
        s["x-grammar"] = grammar.noun
    if default is not None:
        s["default"] = default
    return s


def array(items: dict, *, min_items: int | None = None, max_items: int | None = None,
          unique: bool = False, desc: str | None = None) -> dict:
    s: dict[str, Any] = {"type": "array"}
    if desc:
        s["description"] = desc
    s["items"] = items
    if min_items is not None:
        s["minItems"] = min_items
    if max_items is not None:
        s["maxItems"] = max_items
    if unique:
        s["uniqueItems"] = True
    return s


def boolean(*, default: bool | None = None, desc: str | None = None) -> dict:
    s: dict[str, Any] = {"type": "boolean"}
    if desc:
        s["description"] = desc
    if default is not None:
        s["default"] = default
    return s


def string_map(*, key_grammar: Any = None, value: dict | None = None,
               desc: str | None = None) -> dict:
    s: dict[str, Any] = {"type": "object"}
    if desc:
        s["description"] = desc
    if key_grammar is not None:
        s["propertyNames"] = key_grammar.schema()
    s["additionalProperties"] = value or {"type": "string"}
    return s


def exactly_one_of(*names: str) -> list[dict]:
    return [{"required": [n]} for n in names]


# ---------------------------------------------------------------- shared $defs
COMMON: dict[str, dict] = {
    "name": string(grammar=G.K8S_NAME,
                   desc="Kubernetes object name (DNS-1123 subdomain)."),
    "ip": {
        "type": "string",
        "description": "An IPv4 or IPv6 address.",
        "anyOf": [{"format": "ipv4", "pattern": IPV4}, {"format": "ipv6", "pattern": IPV6}],
        "maxLength": G.IPV6.max_len,
        "x-grammar": G.IP_NOUN,
    },
    "ipv4": string(fmt="ipv4", grammar=G.IPV4, desc="An IPv4 address."),
    "cidr": {
        "type": "string",
        "description": "An IPv4 or IPv6 prefix in CIDR notation (a /32 or /128 for one host).",
        "anyOf": [{"pattern": IPV4_CIDR}, {"pattern": IPV6_CIDR}],
        "maxLength": G.IPV6_CIDR.max_len,
        "x-grammar": G.CIDR_NOUN,
    },
    "port": integer(1, 65535, desc="A TCP/UDP port."),
    "labels": string_map(key_grammar=G.QUALIFIED_KEY, value=string(grammar=G.LABEL_VALUE)),
    "annotations": string_map(key_grammar=G.QUALIFIED_KEY),
    "objectMeta": obj(
        {
            "name": ref("name"),
            "namespace": string(grammar=G.K8S_NAMESPACE),
            "labels": ref("labels"),
            "annotations": ref("annotations"),
            "uid": {"type": "string"},
            "resourceVersion": {"type": "string"},
            "generation": {"type": "integer"},
            "generateName": {"type": "string"},
            "creationTimestamp": {"type": ["string", "null"]},
            "deletionTimestamp": {"type": ["string", "null"]},
            "deletionGracePeriodSeconds": {"type": "integer"},
            "selfLink": {"type": "string"},
            "finalizers": array({"type": "string"}),
            "ownerReferences": array({"type": "object"}),
            "managedFields": array({"type": "object"}),
        },
        ["name"],
        desc="Standard Kubernetes object metadata.",
    ),
    "labelSelector": obj(
        {
            "matchLabels": string_map(key_grammar=G.QUALIFIED_KEY, value=string(grammar=G.LABEL_VALUE)),
            "matchExpressions": array(obj(
                {
                    "key": string(grammar=G.QUALIFIED_KEY),
                    "operator": string(enum=["In", "NotIn", "Exists", "DoesNotExist"]),
                    "values": array({"type": "string"}),
                },
                ["key", "operator"],
                allOf=[
                    {
                        "if": {"properties": {"operator": {"enum": ["In", "NotIn"]}}},
                        "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}},
                    },
                    {
                        "if": {"properties": {"operator": {"enum": ["Exists", "DoesNotExist"]}}},
                        "then": {"properties": {"values": {"maxItems": 0}}},
                    },
                ],
            )),
        },
        desc="Kubernetes label selector; an empty selector matches everything.",
    ),
    "nameRef": obj({"name": ref("name")}, ["name"], desc="Reference to an object by name."),
    "condition": obj(
        {
            "type": string(min_len=1),
            "status": string(enum=["True", "False", "Unknown"]),
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string"},
            "observedGeneration": integer(0),
        },
        ["type", "status"],
        desc="metav1.Condition, e.g. lb.cilium.io/VIPExist.",
    ),
    "conditions": array(ref("condition")),
    "lbResourceStatus": obj(
        {"conditions": ref("conditions"), "status": string(enum=["OK", "ConditionNotMet"])},
    ),
    "tlsVersion": string(
        enum=["TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"],
        desc="TLS protocol version, Isovalent spelling (TLSv1_2 = TLS 1.2).",
    ),
    "tlsParameters": {
        "minTLSVersion": ref("tlsVersion"),
        "maxTLSVersion": ref("tlsVersion"),
        "allowedCipherSuites": array(string(grammar=G.TLS_NAME), min_items=1, unique=True,
                                     desc="OpenSSL cipher names, e.g. ECDHE-ECDSA-AES128-GCM-SHA256."),
        "allowedECDHCurves": array(string(grammar=G.TLS_NAME), min_items=1, unique=True,
                                   desc="Curve names, e.g. X25519, P-256."),
        "allowedSignatureAlgorithms": array(string(grammar=G.TLS_NAME), min_items=1,
                                            desc="Ordered by preference, e.g. ecdsa_secp256r1_sha256."),
    },
}
# tlsParameters is a property fragment, not a schema: it is spliced, never referenced.
TLS_PARAMETERS = COMMON.pop("tlsParameters")


def document(kind: str, api_versions: list[str], *, spec: dict | None, status: dict | None,
             description: str, defs: dict | None = None, required_spec: bool = True,
             metadata: dict | None = None, extra_props: dict | None = None,
             extra_required: tuple = (), upstream: dict | None = None) -> dict:
    """One kind's schema; `upstream` records the source of truth it follows (`x-upstream`:
    repo, path, version), compared by lbcli/schemas/upstream.py."""
    props: dict[str, Any] = {
        "apiVersion": {"enum": api_versions},
        "kind": {"const": kind},
        "metadata": metadata or ref("objectMeta"),
    }
    if spec is not None:
        props["spec"] = spec
    if status is not None:
        props["status"] = status
    if extra_props:
        props.update(extra_props)
    required = ["apiVersion", "kind", "metadata"]
    if spec is not None and required_spec:
        required.append("spec")
    required += list(extra_required)
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "title": kind,
        "description": description,
        "x-kubernetes-kind": kind,
        "x-kubernetes-api-versions": api_versions,
        "x-upstream": upstream or UPSTREAM.get(kind),
        "type": "object",
        "required": required,
        "properties": props,
        "additionalProperties": False,
    }
    pool = {**COMMON, **(defs or {})}
    used: dict[str, dict] = {}
    _collect(schema, pool, used)
    if used:
        schema["$defs"] = {k: used[k] for k in sorted(used)}
    return schema


def _collect(node: Any, pool: dict[str, dict], used: dict[str, dict]) -> None:
    """Copy into `used` every $def reachable from node (transitively)."""
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/$defs/"):
            name = r.removeprefix("#/$defs/")
            if name not in used:
                used[name] = copy.deepcopy(pool[name])
                _collect(used[name], pool, used)
        for v in node.values():
            _collect(v, pool, used)
    elif isinstance(node, list):
        for v in node:
            _collect(v, pool, used)


# ---------------------------------------------------------------- upstream sources
# Where each kind's fields come from (x-upstream); docs/upstream-schemas.md lists them.
_ISO_DOCS = {"repo": "isovalent (Isovalent Load Balancer docs and lab guides; no public CRD)",
             "path": "docs.isovalent.com: Isovalent Load Balancer reference", "version": "1.18 era"}
_K8S = {"repo": "kubernetes/api", "path": "core/v1/types.go", "version": "v0.31"}
UPSTREAM: dict[str, dict] = {
    "LBVIP": _ISO_DOCS, "LBService": _ISO_DOCS, "LBBackendPool": _ISO_DOCS, "LBDeployment": _ISO_DOCS,
    "IsovalentBFDProfile": {"repo": "isovalent (Isovalent Enterprise for Cilium docs)",
                            "path": "BFD for BGP: IsovalentBFDProfile", "version": "1.18 era"},
    "CiliumLoadBalancerIPPool": {"repo": "cilium/cilium",
                                 "path": "pkg/k8s/apis/cilium.io/client/crds/v2/ciliumloadbalancerippools.yaml",
                                 "version": "main 2025 (v2 and deprecated v2alpha1)"},
    "Service": _K8S, "Secret": _K8S, "Node": _K8S, "ConfigMap": _K8S, "Pod": _K8S, "Endpoints": _K8S,
}

# ---------------------------------------------------------------- LB kinds
ISO_V1A1 = ["isovalent.com/v1alpha1"]

LB_SERVICE_DEFS: dict[str, dict] = {
    "hostName": string(grammar=G.ROUTE_HOST,
                       desc='Exact name, suffix wildcard "*.example.com", or "*" for any.'),
    "hostNames": array(ref("hostName"), min_items=1, unique=True,
                       desc='Omitted means "*".'),
    "secretRef": obj({"name": ref("name")}, ["name"],
                     desc="Secret in the namespace of the LBService."),
    "rateLimit": obj({"limit": integer(1), "timePeriodSeconds": integer(1)},
                     ["limit", "timePeriodSeconds"]),
    "connectionRateLimits": obj({"connections": ref("rateLimit")}, ["connections"]),
    "requestRateLimits": obj({"requests": ref("rateLimit")}, ["requests"]),
    "ruleType": string(enum=["Allow", "Deny"]),
    "sourceCIDR": obj({"cidr": ref("cidr")}, ["cidr"]),
    "exactOrPrefix": obj({"exact": string(grammar=G.URL_PATH), "prefix": string(grammar=G.URL_PATH)},
                         minProperties=1, maxProperties=1),
    "exactOrSuffix": obj({"exact": string(grammar=G.SAN_DNS), "suffix": string(grammar=G.DNS_SUFFIX)},
                         minProperties=1, maxProperties=1),
    "valueMatch": obj({"exact": string(grammar=G.TEXT), "prefix": string(grammar=G.TEXT),
                       "regex": string(grammar=G.TEXT)}, minProperties=1, maxProperties=1),
    "headerMatch": obj({"name": string(grammar=G.HEADER_NAME), "value": ref("valueMatch")},
                       ["name", "value"]),
    "clientCertificateSAN": obj(
        {
            "type": string(enum=["DNS", "URI", "EMAIL", "IP_ADDRESS", "OTHER_NAME"]),
            "oid": string(grammar=G.OID, desc="Required for OTHER_NAME."),
            "value": ref("valueMatch"),
        },
        ["type", "value"],
        **{"if": {"properties": {"type": {"const": "OTHER_NAME"}}}, "then": {"required": ["oid"]}},
    ),
    "connectionFilteringRuleCIDR": obj({"sourceCIDR": ref("sourceCIDR")}, minProperties=1),
    "connectionFilteringCIDR": obj(
        {"ruleType": ref("ruleType"),
         "rules": array(ref("connectionFilteringRuleCIDR"), min_items=1)},
        ["ruleType"],
    ),
    "httpRequestFilteringRule": obj(
        {
            "sourceCIDR": ref("sourceCIDR"),
            "hostName": ref("exactOrSuffix"),
            "path": ref("exactOrPrefix"),
            "headers": array(ref("headerMatch"), min_items=1),
            "jwtClaims": array(ref("headerMatch"), min_items=1),
        },
        minProperties=1,
        desc="Properties of one rule are ANDed.",
    ),
    "httpsRequestFilteringRule": obj(
        {
            "sourceCIDR": ref("sourceCIDR"),
            "clientCertificateSANs": array(ref("clientCertificateSAN"), min_items=1),
            "hostName": ref("exactOrSuffix"),
            "path": ref("exactOrPrefix"),
            "headers": array(ref("headerMatch"), min_items=1),
            "jwtClaims": array(ref("headerMatch"), min_items=1),
        },
        minProperties=1,
        desc="Properties of one rule are ANDed.",
    ),
    "tlsConnectionFilteringRule": obj(
        {
            "sourceCIDR": ref("sourceCIDR"),
            "clientCertificateSANs": array(ref("clientCertificateSAN"), min_items=1),
            "serverName": ref("exactOrSuffix"),
        },
        minProperties=1,
    ),
    "httpPersistentBackend": obj(
        {
            "sourceIP": boolean(desc="Hash on the client address."),
            "cookies": array(obj({"name": string(grammar=G.COOKIE_NAME)}, ["name"]), min_items=1),
            "headers": array(obj({"name": string(grammar=G.HEADER_NAME)}, ["name"]), min_items=1),
        },
        minProperties=1,
        desc="Attributes (ANDed) hashed to pick the same backend; needs a consistentHashing pool.",
    ),
    "sourceIPPersistentBackend": obj(
        {"sourceIP": boolean(desc="Hash on the client address.")},
        minProperties=1,
        desc="Needs a consistentHashing pool.",
    ),
    "httpRouteMatch": obj(
        {"hostNames": ref("hostNames"), "path": ref("exactOrPrefix")},
        desc="All conditions must hold. Host names match the Host header (and SNI under TLS).",
    ),
    "routeAuth": obj(
        {
            "basic": obj({"disabled": boolean()}, ["disabled"]),
            "jwt": obj({"disabled": boolean()}, ["disabled"]),
        },
        desc="Per-route switch for the application-wide auth.",
    ),
    "httpRoute": obj(
        {
            "match": ref("httpRouteMatch"),
            "backendRef": ref("nameRef"),
            "persistentBackend": ref("httpPersistentBackend"),
            "requestFiltering": obj(
                {"ruleType": ref("ruleType"),
                 "rules": array(ref("httpRequestFilteringRule"), min_items=1)},
                ["ruleType"],
            ),
            "rateLimits": ref("requestRateLimits"),
            "auth": ref("routeAuth"),
        },
        ["backendRef"],
    ),
    "httpsRoute": obj(
        {
            "match": ref("httpRouteMatch"),
            "backendRef": ref("nameRef"),
            "persistentBackend": ref("httpPersistentBackend"),
            "requestFiltering": obj(
                {"ruleType": ref("ruleType"),
                 "rules": array(ref("httpsRequestFilteringRule"), min_items=1)},
                ["ruleType"],
            ),
            "rateLimits": ref("requestRateLimits"),
            "auth": ref("routeAuth"),
        },
        ["backendRef"],
    ),
    "tlsRoute": obj(
        {
            "match": obj({"hostNames": ref("hostNames")}, desc="Host names match the SNI."),
            "backendRef": ref("nameRef"),
            "persistentBackend": ref("sourceIPPersistentBackend"),
            "connectionFiltering": obj(
                {"ruleType": ref("ruleType"),
                 "rules": array(ref("tlsConnectionFilteringRule"), min_items=1)},
                ["ruleType"],
            ),
            "rateLimits": ref("connectionRateLimits"),
        },
        ["backendRef"],
    ),
    "tcpRoute": obj(
        {
            "backendRef": ref("nameRef"),
            "persistentBackend": ref("sourceIPPersistentBackend"),
            "connectionFiltering": ref("connectionFilteringCIDR"),
            "rateLimits": ref("connectionRateLimits"),
        },
        ["backendRef"],
    ),
    "udpRoute": obj(
        {
            "backendRef": ref("nameRef"),
            "persistentBackend": ref("sourceIPPersistentBackend"),
            "connectionFiltering": ref("connectionFilteringCIDR"),
        },
        ["backendRef"],
    ),
    "httpConfig": obj(
        {"enableHTTP11": boolean(default=True), "enableHTTP2": boolean(default=True)},
        minProperties=1,
    ),
    "tlsConfig": obj(
        {
            "certificates": array(obj({"secretRef": ref("secretRef")}, ["secretRef"]),
                                  min_items=1,
                                  desc="kubernetes.io/tls Secrets (tls.crt, tls.key); SNI picks one."),
            "validation": obj(
                {
                    "secretRef": ref("secretRef"),
                    "subjectAlternativeNames": array(
                        obj({"exact": string(grammar=G.SAN_DNS)}, ["exact"]), min_items=1),
                },
                ["secretRef"],
                desc="Client certificate verification (mTLS): trusted CA in the Secret's ca.crt.",
            ),
            **TLS_PARAMETERS,
        },
        ["certificates"],
        desc="TLS termination. Unset versions/ciphers keep the proxy defaults.",
    ),
    "httpAuth": obj(
        {
            "basic": obj(
                {"users": obj({"secretRef": ref("secretRef")}, ["secretRef"],
                              desc="Secret holding the users (see examples/rebel-base/secrets.yaml).")},
                ["users"],
            ),
            "jwt": obj(
                {
                    "providers": array(obj(
                        {
                            "name": string(grammar=G.TEXT),
                            "issuer": string(grammar=G.TEXT),
                            "audiences": array(string(grammar=G.TEXT), max_items=8),
                            "jwks": obj(
                                {
                                    "secretRef": ref("secretRef"),
                                    "httpURI": obj({"uri": string(grammar=G.HTTP_URI, fmt="uri")},
                                                   ["uri"]),
                                },
                                minProperties=1, maxProperties=1,
                                desc='Secret with key "jwks", or a remote URI.',
                            ),
                        },
                        ["name", "jwks"],
                    ), min_items=1, max_items=8),
                },
                ["providers"],
            ),
        },
        minProperties=1, maxProperties=1,
        desc="Application-wide authentication: exactly one of basic or jwt.",
    ),
    "forceDeploymentMode": string(
        enum=["auto", "t1-only", "t1-t2"], default="auto",
        desc="auto: T1-only when the config allows it; t1-t2: always through tier 2."),
    "proxyProtocolConfig": obj(
        {
            "disallowedVersions": array(integer(1, 2), min_items=1, unique=True,
                                        desc="PROXY protocol versions to reject."),
            "passthroughTLVs": array(integer(0, 255), min_items=1, unique=True),
        },
        desc="Accept a PROXY protocol header from clients (all versions unless disallowed).",
    ),
}


def lb_service() -> dict:
    http_common = {
        "httpConfig": ref("httpConfig"),
        "connectionFiltering": ref("connectionFilteringCIDR"),
        "rateLimits": ref("connectionRateLimits"),
        "auth": ref("httpAuth"),
    }
    apps = obj(
        {
            "httpProxy": obj({**http_common, "routes": array(ref("httpRoute"), min_items=1)},
                             ["routes"], desc="Plain HTTP, routed by Host and path."),
            "httpsProxy": obj({"tlsConfig": ref("tlsConfig"), **http_common,
                               "routes": array(ref("httpsRoute"), min_items=1)},
                              ["tlsConfig", "routes"],
                              desc="TLS terminated at tier 2, then HTTP routing."),
            "tlsPassthrough": obj({"routes": array(ref("tlsRoute"), min_items=1)}, ["routes"],
                                  desc="TLS forwarded untouched, routed by SNI."),
            "tlsProxy": obj({"tlsConfig": ref("tlsConfig"),
                             "routes": array(ref("tlsRoute"), min_items=1)},
                            ["tlsConfig", "routes"],
                            desc="TLS terminated, payload forwarded as TCP, routed by SNI."),
            "tcpProxy": obj({"forceDeploymentMode": ref("forceDeploymentMode"),
                             "routes": array(ref("tcpRoute"), min_items=1, max_items=1)},
                            ["routes"]),
            "udpProxy": obj({"forceDeploymentMode": ref("forceDeploymentMode"),
                             "routes": array(ref("udpRoute"), min_items=1, max_items=1)},
                            ["routes"]),
        },
        # "exactly one" is the single-application rule's job: it names the applications found
        desc="Exactly one application per LBService (checked by the single-application rule).",
    )
    spec = obj(
        {
            "vipRef": ref("nameRef"),
            "port": ref("port"),
            "proxyProtocolConfig": ref("proxyProtocolConfig"),
            "applications": apps,
        },
        ["vipRef", "port", "applications"],
    )
    deployment_mode = obj({"deploymentMode": string(enum=["t1-only", "t1-t2"])})
    status = obj(
        {
            "addresses": obj({"ipv4": ref("ipv4")}),
            "applications": obj({"tcpProxy": deployment_mode, "udpProxy": deployment_mode}),
            "k8sServiceRefs": array(ref("nameRef")),
            "conditions": ref("conditions"),
            "status": string(enum=["OK", "ConditionNotMet"]),
        },
    )
    return document("LBService", ISO_V1A1, spec=spec, status=status, defs=LB_SERVICE_DEFS,
                    description="A port on an LBVIP and the one application that serves it.")


def lb_vip() -> dict:
    spec = obj({"ipv4Request": ref("ipv4")},
               desc="ipv4Request pins the VIP; without it one is allocated from a pool.")
    status = obj({"conditions": ref("conditions"),
                  "status": string(enum=["OK", "ConditionNotMet"]),
                  "addresses": obj({"ipv4": ref("ipv4")})})
    return document("LBVIP", ISO_V1A1, spec=spec, status=status,
                    description="A virtual IP announced by tier 1 and served by tier 2.")


LB_POOL_DEFS: dict[str, dict] = {
    "payload": obj({"text": string(grammar=G.HEX_BYTES,
                                   desc="Hex-encoded bytes.")}, ["text"]),
    "backendTLSConfig": obj(
        {
            **TLS_PARAMETERS,
            # cilium-lb extensions: Isovalent's backend TLS verifies nothing it could name
            "validation": obj({"secretRef": obj({"name": ref("name")}, ["name"])}, ["secretRef"],
                              desc="cilium-lb extension: verify the backends' certificates against "
                                   "the ca.crt of this Secret (pool namespace); default: the system CAs."),
            "serverName": string(grammar=G.DNS_NAME, desc="cilium-lb extension: SNI sent and name "
                                 "verified; default: the backend's host name (Hostname pools); an IP pool without it "
                                 "has the chain verified only."),
        },
        desc="TLS towards the backends, with certificate verification."),
    "backend": obj(
        {
            "ip": ref("ip"),
            "host": string(grammar=G.DNS_NAME, fmt="hostname"),
            "k8sServiceRef": ref("nameRef"),
            "port": ref("port"),
            "weight": integer(1, MAX_U32, default=1,
                              desc="Share = weight / sum of weights in the pool."),
            "status": string(
                enum=["Active", "Draining"],
                desc="Draining: no new connections. Omitted (or Active, a cilium-lb "
                     "extension) means active health checking decides."),
        },
        ["port"],
        oneOf=exactly_one_of("ip", "host", "k8sServiceRef"),
    ),
    "healthCheck": obj(
        {
            "intervalSeconds": integer(1, default=30),
            "timeoutSeconds": integer(1, default=5),
            "healthyThreshold": integer(1, default=2),
            "unhealthyThreshold": integer(1, default=2),
            "tlsConfig": ref("backendTLSConfig"),
            "http": obj(
                {
                    "host": string(grammar=G.HTTP_HOST, default="lb",
                                   desc="Host header of the check request."),
                    "path": string(grammar=G.URL_PATH_QUERY, default="/healthz"),
                    "method": string(enum=["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
                                           "OPTIONS", "TRACE", "PATCH"], default="GET"),
                    "healthyStatusCodes": array(
                        obj({"start": integer(100, 600, desc="Inclusive."),
                             "end": integer(100, 600, desc="Exclusive.")}, ["start", "end"]),
                        min_items=1, max_items=10,
                        desc="Healthy status ranges; default [200, 201)."),
                    "send": ref("payload"),
                    "receive": array(ref("payload"), min_items=1),
                },
            ),
            "tcp": obj(
                {"send": ref("payload"), "receive": array(ref("payload"), min_items=1)},
                dependentRequired={"send": ["receive"]},
                desc="Connect check; with send/receive also a payload check.",
            ),
        },
        oneOf=exactly_one_of("http", "tcp"),
        desc="Active health checking of every backend (exactly one of http or tcp).",
    ),
    "loadbalancing": obj(
        {
            "algorithm": obj(
                {
                    "roundRobin": obj({}),
                    "leastRequest": obj({}),
                    "consistentHashing": obj(
                        {"algorithm": obj(
                            {"maglev": obj(
                                {"tableSize": integer(
                                    1, 5000011, default=65537,
                                    desc="Maglev table size M, a prime (checked by lint); "
                                         "M > 100 x backends keeps shares within 1%.")},
                            )},
                            ["maglev"],
                        )},
                        desc="Maglev; required for persistentBackend on routes.",
                    ),
                },
                minProperties=1, maxProperties=1,
            ),
        },
        ["algorithm"],
        default={"algorithm": {"roundRobin": {}}},
    ),
}


def lb_backend_pool() -> dict:
    spec = obj(
        {
            "backendType": string(enum=["IP", "Hostname", "K8sService"]),
            "backends": array(ref("backend"), min_items=1),
            "dnsResolverConfig": obj(
                {"resolvers": array(obj({"ip": ref("ip"), "port": ref("port")}, ["ip", "port"]),
                                    min_items=1, unique=True)},
                ["resolvers"],
                desc="Resolvers for Hostname backends (replace the system ones).",
            ),
            "healthCheck": ref("healthCheck"),
            "loadbalancing": ref("loadbalancing"),
            "tcpConfig": obj({"connectTimeoutSeconds": integer(1, default=5)}),
            "proxyProtocolConfig": obj(
                {"version": integer(1, 2), "passthroughTLVs": array(integer(0, 255), min_items=1)},
                ["version"],
                desc="Send a PROXY protocol header to the backends.",
            ),
            "tlsConfig": ref("backendTLSConfig"),
            "httpConfig": obj({"enableHTTP11": boolean(default=True),
                               "enableHTTP2": boolean(default=True)}),
        },
        ["backendType", "backends", "healthCheck"],
        allOf=[
            {"if": {"properties": {"backendType": {"const": t}}},
             "then": {"properties": {"backends": {"items": {"required": [f]}}}}}
            for t, f in (("IP", "ip"), ("Hostname", "host"), ("K8sService", "k8sServiceRef"))
        ] + [
            {"if": {"required": ["dnsResolverConfig"]},
             "then": {"properties": {"backendType": {"const": "Hostname"}}}},
        ],
    )
    return document("LBBackendPool", ISO_V1A1, spec=spec, status=ref("lbResourceStatus"),
                    defs=LB_POOL_DEFS,
                    description="Backends, their health check and the balancing algorithm.")


def lb_deployment() -> dict:
    spec = obj(
        {
            "services": obj({"labelSelector": ref("labelSelector")},
                            desc="LBServices in this namespace (empty selector: all)."),
            "nodes": obj(
                {"labelSelectors": obj({"t1": ref("labelSelector"), "t2": ref("labelSelector")},
                                       ["t1", "t2"])},
                desc="Replaces the default tier selectors (service.cilium.io/node=t1 / t2).",
            ),
        },
        ["services", "nodes"],
    )
    return document("LBDeployment", ISO_V1A1, spec=spec, status=ref("lbResourceStatus"),
                    description="Which nodes run tier 1 and tier 2 for selected LBServices.")


# ---------------------------------------------------------------- BGP / BFD
# Isovalent's BGP kinds and Cilium OSS's BGP v2 kinds describe the same BGP speaker: one set of
# builders makes both, `iso` adding what only Isovalent has (BFD, VRFs, route reflectors,
# import policies, maintenance). Fields cilium-lb does not carry out are accepted as upstream
# accepts them and refused by the `not-implemented` rule, at their key.
ISO_BGP = ["isovalent.com/v1", "isovalent.com/v1alpha1"]
CILIUM_BGP = ["cilium.io/v2", "cilium.io/v2alpha1"]
BGP_STATUS = obj({"conditions": ref("conditions")})
TIGHT_BIRD = "stricter than upstream: cilium-lb writes this value into bird.conf"

ISO_SRC = {"repo": "isovalent (Isovalent Enterprise for Cilium API types, public copy)",
           "path": "pkg/k8s/apis/isovalent.com/v1", "version": "2025 (1.17/1.18 era)"}


def cilium_src(crd: str) -> dict:
    return {"repo": "cilium/cilium", "path": f"pkg/k8s/apis/cilium.io/client/crds/v2/{crd}.yaml",
            "version": "main 2025 (v2 and deprecated v2alpha1 served from one CRD; union of 1.18 and main)"}


def _bgp_name(what: str) -> dict:
    s = string(grammar=G.BGP_NAME, max_len=255, desc=f"Name of the {what}; unique in its list.")
    s["x-tightened"] = TIGHT_BIRD
    return s


def _auto_discovery(iso: bool) -> dict:
    modes = ["Unnumbered"] if iso else ["DefaultGateway", "Unnumbered", "default-gateway"]
    props = {
        "mode": string(enum=modes, desc="default-gateway is the Cilium 1.18 spelling."),
        "unnumbered": obj({"interface": string(min_len=1, max_len=255)}, ["interface"]),
    }
    if not iso:
        props["defaultGateway"] = obj({"addressFamily": string(enum=["ipv4", "ipv6"])},
                                      ["addressFamily"])
    return obj(props, ["mode"], desc="Find the peer address on the node (not carried out by cilium-lb).")


def _bgp_peer(iso: bool) -> dict:
    address = ref("ip")
    props: dict[str, Any] = {
        "name": _bgp_name("peer"),
        "peerAddress": {**address, "x-tightened": TIGHT_BIRD},
        "peerASN": integer(0, MAX_U32, default=0, desc="0: accept the ASN the peer announces."),
        "autoDiscovery": _auto_discovery(iso),
        "peerConfigRef": obj({"name": ref("name")}, ["name"],
                             desc="The peer config of the same family (Isovalent/Cilium); omitted means defaults."),
    }
    if not iso:
        props["peerInterface"] = string(min_len=1, max_len=255,
                                        desc="Interface for an fe80:: peer (not carried out by cilium-lb).")
    return obj(props, ["name"], anyOf=[{"required": ["peerAddress"]}, {"required": ["autoDiscovery"]}])


def _bgp_instance(iso: bool) -> dict:
    props: dict[str, Any] = {
        "name": _bgp_name("BGP instance"),
        "localASN": integer(1, MAX_U32),
        "localPort": integer(1, 65535, desc="Listen port for incoming sessions; omitted: do not listen."),
        "peers": array(_bgp_peer(iso)),
    }
    if iso:
        props["vrfs"] = array(obj(
            {"vrfRef": string(min_len=1, max_len=255), "privateNetworkRef": ref("nameRef"),
             "configRef": {"type": "string"}, "rd": {"type": "string"},
             "importRTs": array({"type": "string"}), "exportRTs": array({"type": "string"})},
        ), desc="Not carried out by cilium-lb.")
        props["routeReflector"] = obj(
            {"role": string(enum=["RouteReflector", "Client"]), "clusterID": ref("ipv4"),
             "peeringAddressFamily": string(enum=["IPv4Only", "IPv6Only", "Dual"]),
             "peerConfigRefV4": ref("nameRef"), "peerConfigRefV6": ref("nameRef")},
            ["role", "clusterID"], desc="Not carried out by cilium-lb.")
    # Cilium requires localASN; Isovalent's types leave it optional
    return obj(props, ["name"] if iso else ["name", "localASN"])


def _cluster_config(kind: str, versions: list[str], iso: bool, src: dict) -> dict:
    spec = obj(
        {
            "nodeSelector": ref("labelSelector"),
            "bgpInstances": array(_bgp_instance(iso), min_items=1, max_items=16),
        },
        ["bgpInstances"],
    )
    return document(kind, versions, spec=spec, status=BGP_STATUS, upstream=src,
                    description="BGP speakers and their peers on the selected (tier-1) nodes.")


def bgp_cluster_config() -> dict:
    return _cluster_config("IsovalentBGPClusterConfig", ISO_BGP, True, ISO_SRC)


def cilium_bgp_cluster_config() -> dict:
    return _cluster_config("CiliumBGPClusterConfig", CILIUM_BGP, False, cilium_src("ciliumbgpclusterconfigs"))


def _peer_config(kind: str, versions: list[str], iso: bool, src: dict) -> dict:
    family: dict[str, Any] = {
        "afi": string(enum=["ipv4", "ipv6", "l2vpn", "ls", "opaque"]),
        "safi": string(enum=["unicast", "multicast", "mpls_label", "encapsulation",
                             "vpls", "evpn", "ls", "sr_policy", "mup", "mpls_vpn",
                             "mpls_vpn_multicast", "route_target_constraints",
                             "flowspec_unicast", "flowspec_vpn", "key_value"]),
        "advertisements": ref("labelSelector"),
    }
    if iso:
        family["importPolicyRef"] = ref("nameRef")
    props: dict[str, Any] = {
        "transport": obj({
            "peerPort": integer(1, 65535, default=179),
            "sourceInterface": {"type": "string", "description": "Not carried out by cilium-lb."},
            "localPort": integer(1, 65535, desc="Deprecated upstream (v2alpha1); not carried out."),
        }),
        "timers": obj(
            {
                "connectRetryTimeSeconds": integer(1, 2147483647, default=120),
                "holdTimeSeconds": {
                    "type": "integer",
                    "description": "0 (RFC 4271: no keepalives, a cilium-lb extension) or 3..65535.",
                    "anyOf": [{"const": 0}, {"minimum": 3, "maximum": 65535}],
                    "default": 90,
                },
                "keepAliveTimeSeconds": integer(1, 65535, default=30,
                                                desc="Not larger than holdTimeSeconds."),
            },
        ),
        "authSecretRef": string(grammar=G.K8S_NAME,
                                desc="Secret with the TCP-MD5 password (key \"password\")."),
        "gracefulRestart": obj(
            {"enabled": boolean(default=False),
             "restartTimeSeconds": integer(1, 4095, default=120)},
            ["enabled"],
        ),
        "ebgpMultihop": integer(1, 255, default=1, desc="TTL for eBGP; ignored for iBGP."),
        "families": array(obj(family, ["afi", "safi"]),
                          desc="Default: ipv4/unicast and ipv6/unicast without advertisements."),
    }
    if iso:
        props["bfdProfileRef"] = string(
            grammar=G.K8S_NAME,
            desc="Name of an IsovalentBFDProfile (a plain string, as in Isovalent's CRD).")
    return document(kind, versions, spec=obj(props), status=BGP_STATUS, upstream=src,
                    description="Settings shared by BGP peers: transport, timers, families"
                                + (", BFD." if iso else "."))


def bgp_peer_config() -> dict:
    return _peer_config("IsovalentBGPPeerConfig", ISO_BGP, True, ISO_SRC)


def cilium_bgp_peer_config() -> dict:
    return _peer_config("CiliumBGPPeerConfig", CILIUM_BGP, False, cilium_src("ciliumbgppeerconfigs"))


def _advertisement(kind: str, versions: list[str], iso: bool, src: dict) -> dict:
    types = ["PodCIDR", "CiliumPodIPPool", "Service", "Interface"]
    if iso:
        types += ["EgressGateway", "SRv6LocatorPool"]

    def only(field: str, type_: str) -> dict:
        return {"if": {"properties": {"advertisementType": {"const": type_}}},
                "then": {"required": [field]},
                "else": {"not": {"required": [field]}}}

    advert = obj(
        {
            "advertisementType": string(enum=types),
            "service": obj(
                {"addresses": array(string(enum=["LoadBalancerIP", "ClusterIP", "ExternalIP"]),
                                    min_items=1, unique=True),
                 "aggregationLengthIPv4": integer(0, 31, desc="Not carried out by cilium-lb."),
                 "aggregationLengthIPv6": integer(0, 127, desc="Not carried out by cilium-lb.")},
                ["addresses"],
            ),
            "interface": obj({"name": {"type": "string"}}, ["name"]),
            "selector": ref("labelSelector"),
            "attributes": obj(
                {
                    "communities": obj(
                        {
                            "standard": array(string(grammar=G.STANDARD_COMMUNITY), min_items=1,
                                              desc='"65000:100" or a 32-bit decimal.'),
                            "large": array(string(grammar=G.LARGE_COMMUNITY), min_items=1),
                            "wellKnown": array(string(enum=[
                                "internet", "planned-shut", "accept-own",
                                "route-filter-translated-v4", "route-filter-v4",
                                "route-filter-translated-v6", "route-filter-v6", "llgr-stale",
                                "no-llgr", "blackhole", "no-export", "no-advertise",
                                "no-export-subconfed", "no-peer"]), min_items=1),
                        },
                    ),
                    "localPreference": integer(0, MAX_U32),
                },
            ),
        },
        ["advertisementType"],
        allOf=[
            only("service", "Service"),
            only("interface", "Interface"),
            {"if": {"properties": {"advertisementType": {"const": "PodCIDR"}}},
             "then": {"not": {"required": ["selector"]}}},
        ],
    )
    spec = obj({"advertisements": array(advert, min_items=1)}, ["advertisements"])
    return document(kind, versions, spec=spec, status=None, upstream=src,
                    description="Which prefixes to announce (selected by peer config families).")


def bgp_advertisement() -> dict:
    return _advertisement("IsovalentBGPAdvertisement", ISO_BGP, True, ISO_SRC)


def cilium_bgp_advertisement() -> dict:
    return _advertisement("CiliumBGPAdvertisement", CILIUM_BGP, False, cilium_src("ciliumbgpadvertisements"))


def _node_override(kind: str, versions: list[str], iso: bool, src: dict) -> dict:
    peer: dict[str, Any] = {
        "name": _bgp_name("peer"),
        "localAddress": {**ref("ip"), "description": "Source address (not carried out by cilium-lb)."},
        "localPort": integer(1, 65535, desc="Source port (not carried out by cilium-lb)."),
    }
    if iso:
        peer["autoDiscovery"] = _auto_discovery(True)
    else:
        peer["peerInterface"] = string(min_len=1, max_len=255)
    inst: dict[str, Any] = {
        "name": _bgp_name("BGP instance"),
        "routerID": {**ref("ipv4"), "description": "BGP router ID on this node (default: its InternalIP)."},
        "localPort": integer(1, 65535, desc="Listen port on this node."),
        "localASN": integer(1, MAX_U32, desc="Local ASN on this node."),
        "peers": array(obj(peer, ["name"])),
    }
    if iso:
        inst["srv6Responder"] = boolean(desc="Not carried out by cilium-lb.")
        inst["maintenance"] = obj({"mode": string(enum=["Disabled", "Community", "Withdrawal"])},
                                  ["mode"], desc="Not carried out by cilium-lb.")
    spec = obj({"bgpInstances": array(obj(inst, ["name"]), min_items=1)}, ["bgpInstances"])
    return document(kind, versions, spec=spec, status=None, upstream=src,
                    description="Per-node overrides of BGP instances; metadata.name is the node name.")


def bgp_node_override() -> dict:
    return _node_override("IsovalentBGPNodeConfigOverride", ISO_BGP, True, ISO_SRC)


def cilium_bgp_node_override() -> dict:
    return _node_override("CiliumBGPNodeConfigOverride", CILIUM_BGP, False,
                          cilium_src("ciliumbgpnodeconfigoverrides"))


def bfd_profile() -> dict:
    spec = obj(
        {
            "receiveIntervalMilliseconds": integer(10, 60000, default=300,
                                                   desc="Required Min RX Interval (RFC 5880)."),
            "transmitIntervalMilliseconds": integer(10, 60000, default=300,
                                                    desc="Desired Min TX Interval (RFC 5880)."),
            "detectMultiplier": integer(2, 255, default=3,
                                        desc="Detection time = negotiated interval x this."),
            "minimumTTL": integer(1, 255, default=255,
                                  desc="Lowest accepted TTL; 255 for directly connected peers."),
            "echoFunction": obj(
                {
                    "directions": array(string(enum=["Receive", "Transmit"]), unique=True,
                                        desc="Empty: echo disabled."),
                    "receiveIntervalMilliseconds": integer(0, 60000, default=300),
                    "transmitIntervalMilliseconds": integer(10, 60000, default=300),
                },
            ),
        },
    )
    return document("IsovalentBFDProfile", ISO_V1A1, spec=spec, status=None,
                    description="BFD timers used by peers that reference this profile.")


# ---------------------------------------------------------------- Cilium
def lb_ip_pool() -> dict:
    block = obj(
        {"cidr": ref("cidr"), "start": ref("ip"), "stop": ref("ip")},
        oneOf=exactly_one_of("cidr", "start"),
        dependentRequired={"stop": ["start"]},
        desc="A CIDR, or a range start..stop (start alone: one address).",
    )
    # Cilium's CRD accepts any block shape and reports a bad one in the pool's status; cilium-lb
    # allocates from the block, so it wants exactly one of the two forms
    block["x-tightened"] = "stricter than upstream: cilium-lb allocates addresses from this block"
    spec = obj(
        {
            "blocks": array(block, desc="May be empty or omitted (the pool then has no addresses)."),
            "serviceSelector": ref("labelSelector"),
            "allowFirstLastIPs": string(
                enum=["Yes", "No"], default="Yes",
                desc="No: keep the network and broadcast addresses of each CIDR out of use."),
            "disabled": boolean(default=False, desc="Stop allocating; keeps existing addresses."),
        },
    )
    return document("CiliumLoadBalancerIPPool", ["cilium.io/v2alpha1", "cilium.io/v2"],
                    spec=spec, status=BGP_STATUS,
                    description="Addresses LB-IPAM may hand to LBVIPs and LoadBalancer Services.")


# ---------------------------------------------------------------- core v1
V1 = ["v1"]


def service() -> dict:
    meta = {
        "allOf": [
            ref("objectMeta"),
            {"properties": {"annotations": {"properties": {
                "lbipam.cilium.io/ips": string(grammar=G.LBIPAM_IPS,
                                               desc="Comma-separated addresses to request."),
                "lbipam.cilium.io/sharing-key": string(grammar=G.TEXT,
                                                       desc="Services with the same key share an IP."),
                "io.cilium/lb-ipam-ips": string(grammar=G.LBIPAM_IPS,
                                                desc="Deprecated spelling of lbipam.cilium.io/ips."),
                "io.cilium/lb-ipam-sharing-key": string(
                    grammar=G.TEXT, desc="Deprecated spelling of lbipam.cilium.io/sharing-key."),
                "service.cilium.io/no-advertisement": string(enum=["true", "false"]),
            }}}},
        ],
    }
    port = obj(
        {
            "name": string(grammar=G.DNS_LABEL),
            "protocol": string(enum=["TCP", "UDP", "SCTP"], default="TCP"),
            "appProtocol": {"type": "string"},
            "port": ref("port"),
            "targetPort": {"anyOf": [integer(1, 65535), string(grammar=G.PORT_NAME)]},
            "nodePort": integer(0, 65535),
        },
        ["port"],
    )
    spec = obj(
        {
            "type": string(enum=["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
                           default="ClusterIP"),
            "ports": array(port),
            "selector": string_map(),
            "loadBalancerIP": {"anyOf": [ref("ip"), {"const": ""}],
                               "description": "Deprecated by Kubernetes; prefer lbipam.cilium.io/ips."},
            "loadBalancerClass": {"type": "string"},
            "externalTrafficPolicy": string(enum=["Cluster", "Local"]),
            "internalTrafficPolicy": string(enum=["Cluster", "Local"]),
            "clusterIP": {"type": "string"},
            "clusterIPs": array({"type": "string"}),
            "ipFamilies": array(string(enum=["IPv4", "IPv6"])),
            "ipFamilyPolicy": string(enum=["SingleStack", "PreferDualStack", "RequireDualStack"]),
            "sessionAffinity": string(enum=["None", "ClientIP"], default="None"),
            "sessionAffinityConfig": obj({"clientIP": obj({"timeoutSeconds": integer(1, 86400, default=10800)})}),
        },
        open_=True,
        desc="Fields cilium-lb reads are checked; other ServiceSpec fields pass through.",
    )
    return document("Service", V1, spec=spec, status={"type": "object"}, metadata=meta,
                    description="Kubernetes Service: the parts LB-IPAM and BGP read.")


def _endpoint_port(name_desc: str) -> dict:
    return obj(
        {
            "name": string(grammar=G.DNS_LABEL, desc=name_desc),
            "protocol": string(enum=["TCP", "UDP", "SCTP"], default="TCP"),
            "port": {"anyOf": [ref("port"), {"type": "null"}],
                     "description": "The port on the endpoints (the Service's targetPort, resolved)."},
            "appProtocol": {"type": "string"},
        },
        open_=True,
    )


def endpoint_slice() -> dict:
    conditions = obj(
        {
            "ready": {"type": ["boolean", "null"], "description": "Unset means ready."},
            "serving": {"type": ["boolean", "null"], "description": "Unset means as ready."},
            "terminating": {"type": ["boolean", "null"], "description": "Unset means not terminating."},
        },
        open_=True,
    )
    endpoint = obj(
        {
            "addresses": array(string(grammar=G.TEXT), min_items=1, max_items=100),
            "conditions": conditions,
            "nodeName": {"type": "string"},
            "hostname": {"type": "string"},
            "zone": {"type": "string"},
            "targetRef": {"type": "object"},
        },
        ["addresses"],
        open_=True,
        desc="addresses and conditions are read; hints, targetRef, ... pass through.",
    )
    schema = document(
        "EndpointSlice", ["discovery.k8s.io/v1"], spec=None, status=None,
        extra_props={
            "addressType": string(enum=["IPv4", "IPv6", "FQDN"],
                                  desc="FQDN slices are skipped, as kube-proxy does."),
            "endpoints": array(endpoint, max_items=1000),
            "ports": array(_endpoint_port("Matches the Service port of the same name (\"\" when unnamed)."),
                           max_items=100),
        },
        extra_required=("addressType",),
        description="Kubernetes EndpointSlice: a Service's endpoints (label kubernetes.io/service-name), "
                    "read as kube-proxy reads them for K8sService pools and LoadBalancer Services.",
        upstream={"repo": "kubernetes/api", "path": "discovery/v1/types.go", "version": "v0.31"},
    )
    # IP slices hold IP addresses (FQDN ones host names, never dialled)
    schema["allOf"] = [{"if": {"properties": {"addressType": {"enum": ["IPv4", "IPv6"]}}, "required": ["addressType"]},
                        "then": {"properties": {"endpoints": {"items": {"properties": {
                            "addresses": {"items": ref("ip")}}}}}}}]
    defs = {**schema.get("$defs", {}), "ip": copy.deepcopy(COMMON["ip"])}
    schema["$defs"] = {k: defs[k] for k in sorted(defs)}
    return schema


def endpoints_v1() -> dict:
    address = obj({"ip": ref("ip"), "hostname": {"type": "string"}, "nodeName": {"type": "string"},
                   "targetRef": {"type": "object"}}, ["ip"], open_=True)
    subset = obj(
        {
            "addresses": array(address, desc="Ready addresses (the only ones used)."),
            "notReadyAddresses": array(address, desc="Never used."),
            "ports": array(_endpoint_port("Matches the Service port of the same name.")),
        },
        open_=True,
    )
    return document(
        "Endpoints", V1, spec=None, status=None,
        extra_props={"subsets": array(subset)},
        description="Kubernetes Endpoints: read for a Service only when it has no EndpointSlice in the set.",
    )


def secret() -> dict:
    data = string_map(key_grammar=G.SECRET_KEY, value=string(grammar=G.BASE64),
                      desc="Base64-encoded values, as kubectl writes them.")
    string_data = string_map(key_grammar=G.SECRET_KEY, desc="Plain values (merged over data).")
    tls_keys = ["tls.crt", "tls.key"]
    return document(
        "Secret", V1, spec=None, status=None,
        extra_props={
            "type": string(grammar=G.TEXT, default="Opaque",
                           desc="kubernetes.io/tls for certificates; Opaque for basic-auth users."),
            "data": data,
            "stringData": string_data,
            "immutable": boolean(),
        },
        description="Kubernetes Secret: TLS certificates and basic-auth users.",
        defs={},
    ) | {
        "allOf": [
            {"if": {"properties": {"type": {"const": "kubernetes.io/tls"}}, "required": ["type"]},
             "then": {"anyOf": [
                 {"required": ["data"], "properties": {"data": {"required": tls_keys}}},
                 {"required": ["stringData"], "properties": {"stringData": {"required": tls_keys}}},
             ]}},
        ],
    }


def node() -> dict:
    address = obj(
        {
            "type": string(enum=["InternalIP", "ExternalIP", "Hostname", "InternalDNS",
                                 "ExternalDNS"]),
            "address": string(grammar=G.TEXT),
        },
        ["type", "address"],
        allOf=[{"if": {"properties": {"type": {"enum": ["InternalIP", "ExternalIP"]}}},
                "then": {"properties": {"address": ref("ip")}}}],
    )
    spec = obj(
        {"podCIDR": ref("cidr"), "podCIDRs": array(ref("cidr"), max_items=2, unique=True)},
        open_=True,
        desc="podCIDR(s) are read; taints, providerID, ... pass through.",
    )
    status = obj({"addresses": array(address)}, open_=True,
                 desc="addresses are read; capacity, conditions, nodeInfo, ... pass through.")
    return document("Node", V1, spec=spec, status=status, required_spec=False,
                    description="Kubernetes Node as `kubectl get node -o yaml` prints it: tier "
                                "label service.cilium.io/node, InternalIP, PodCIDRs.")


def pod() -> dict:
    spec = obj({"nodeName": string(grammar=G.TEXT, min_len=1, desc="The Node the Pod runs on.")},
               open_=True, desc="nodeName is read; containers, volumes, ... pass through.")
    status = obj({"podIP": ref("ip"), "podIPs": array(obj({"ip": ref("ip")}, ["ip"]), max_items=2)},
                 open_=True, desc="podIP(s) are read; phase, conditions, ... pass through.")
    return document("Pod", V1, spec=spec, status=status, required_spec=False,
                    description="Kubernetes Pod as `kubectl get pod -o yaml` prints it: spec.nodeName, "
                                "status.podIP(s), and the bandwidth annotations kubernetes.io/"
                                "egress-bandwidth / ingress-bandwidth (quantities in bit/s, checked by "
                                "the pod-bandwidth rule) the bandwidth manager shapes.")


def config_map() -> dict:
    from lbcli.model.cilium_config import UPSTREAM as CILIUM_CONFIG  # (importable: _grammar's path)

    data = string_map(desc="String values only (quote true/false and numbers). "
                           "cilium-config keys are checked by a lint rule.")
    # the kind follows Kubernetes; cilium-config's option names and values follow Cilium
    data["x-upstream"] = {"for": "cilium-config options (the cilium-config lint rule)", **CILIUM_CONFIG}
    return document(
        "ConfigMap", V1, spec=None, status=None,
        extra_props={
            "data": data,
            "binaryData": string_map(key_grammar=G.SECRET_KEY, value=string(grammar=G.BASE64)),
            "immutable": boolean(),
        },
        description="Kubernetes ConfigMap, e.g. kube-system/cilium-config.",
    )


BUILDERS = {
    "LBVIP": lb_vip,
    "LBService": lb_service,
    "LBBackendPool": lb_backend_pool,
    "LBDeployment": lb_deployment,
    "IsovalentBGPClusterConfig": bgp_cluster_config,
    "IsovalentBGPPeerConfig": bgp_peer_config,
    "IsovalentBGPAdvertisement": bgp_advertisement,
    "IsovalentBGPNodeConfigOverride": bgp_node_override,
    "CiliumBGPClusterConfig": cilium_bgp_cluster_config,
    "CiliumBGPPeerConfig": cilium_bgp_peer_config,
    "CiliumBGPAdvertisement": cilium_bgp_advertisement,
    "CiliumBGPNodeConfigOverride": cilium_bgp_node_override,
    "IsovalentBFDProfile": bfd_profile,
    "CiliumLoadBalancerIPPool": lb_ip_pool,
    "Service": service,
    "Secret": secret,
    "Node": node,
    "Pod": pod,
    "ConfigMap": config_map,
    "EndpointSlice": endpoint_slice,
    "Endpoints": endpoints_v1,
}


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """file name -> JSON text."""
    return {f"{kind}.schema.json": render(build()) for kind, build in BUILDERS.items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in build_all().items():
        path = HERE / name
        if path.exists() and path.read_text() == text:
            continue
        if check:
            stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date: " + ", ".join(stale) + " (run python schemas/generate.py)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
