import base64

from tests.lintkit import EXAMPLES, by_rule, line_of, lint_example, lint_text, lint_texts

B64 = base64.b64encode(b"x").decode()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SERVICE = """
apiVersion: isovalent.com/v1alpha1
kind: LBVIP
metadata: {namespace: shop, name: web}
spec: {}
---
apiVersion: isovalent.com/v1alpha1
kind: LBBackendPool
metadata: {namespace: shop, name: web}
spec:
  backendType: IP
  healthCheck: {tcp: {}}
  backends: [{ip: 10.0.0.1, port: 80}]
---
apiVersion: isovalent.com/v1alpha1
kind: LBService
metadata: {namespace: shop, name: web}
spec:
  vipRef: {name: web}
  port: 443
  applications:
    httpsProxy:
      tlsConfig:
        certificates:
          - secretRef:
              name: cert-ref
        validation:
          secretRef:
            name: ca-ref
      auth:
        basic:
          users:
            secretRef:
              name: users-ref
      routes:
        - backendRef: {name: web}
"""

CERT = f"""
---
apiVersion: v1
kind: Secret
metadata: {{namespace: shop, name: web-cert}}
type: kubernetes.io/tls
data: {{tls.crt: {B64}, tls.key: {B64}}}
"""
CA = f"""
---
apiVersion: v1
kind: Secret
metadata: {{namespace: shop, name: client-ca}}
data: {{ca.crt: {B64}}}
"""
GOOD_USERS = "rebel:{SHA}bzZq2NEtLPMlbwfXIo4mR+PqLmU=\nluke:$apr1$x$y\n"
USERS = f"""
---
apiVersion: v1
kind: Secret
metadata: {{namespace: shop, name: users}}
type: Opaque
data:
  users: {_b64(GOOD_USERS)}
"""


def _svc(cert="web-cert", ca="client-ca", users="users") -> str:
    return (SERVICE.replace("cert-ref", cert).replace("ca-ref", ca).replace("users-ref", users))


def _only(text: str):
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return by_rule(report, "ref-secret")


def test_examples_resolve():
    for name in ("rebel-base", "tls-passthrough", "external-hostname"):
        assert by_rule(lint_example(name), "ref-secret") == []


def test_all_present_and_well_formed():
    assert _only(_svc() + CERT + CA + USERS) == []


def test_missing_certificate_secret_with_suggestion():
    text = _svc(cert="web-crt") + CERT + CA + USERS
    [p] = _only(text)
    assert p.line == line_of(text, "name: web-crt")
    assert "certificate Secret shop/web-crt does not exist" in p.message
    assert "did you mean 'web-cert'" in p.message


def test_certificate_secret_of_wrong_type():
    text = _svc() + CERT.replace("type: kubernetes.io/tls", "type: Opaque") + CA + USERS
    [p] = _only(text)
    assert p.line == line_of(text, "name: web-cert")
    assert "is of type 'Opaque'; it needs type kubernetes.io/tls" in p.message


def test_certificate_secret_without_key():
    # the Secret schema rejects a TLS Secret without tls.key too; this rule says it at the user
    text = _svc() + CERT.replace(f", tls.key: {B64}", "") + CA + USERS
    [p] = by_rule(lint_text(text), "ref-secret")
    assert p.line == line_of(text, "name: web-cert")
    assert "has no key tls.key (keys: tls.crt)" in p.message


def test_string_data_counts():
    cert = CERT.replace(f"data: {{tls.crt: {B64}, tls.key: {B64}}}",
                        "stringData: {tls.crt: plain, tls.key: plain}")
    assert _only(_svc() + cert + CA + USERS) == []


def test_client_ca_without_ca_crt():
    text = _svc() + CERT + CA.replace("ca.crt", "tls.crt") + USERS
    [p] = _only(text)
    assert p.line == line_of(text, "name: client-ca")
    assert "client CA Secret shop/client-ca has no key ca.crt" in p.message


def test_users_secret_missing_and_in_other_namespace():
    text = _svc() + CERT + CA + USERS.replace("namespace: shop", "namespace: other")
    [p] = _only(text)
    assert p.line == line_of(text, "name: users")
    assert "basic-auth users Secret shop/users does not exist" in p.message


def test_users_secret_wrong_key_and_bad_lines():
    text = _svc() + CERT + CA + USERS.replace("  users:", "  htpasswd:")
    [p] = _only(text)
    assert "has no key users (keys: htpasswd)" in p.message
    bad = USERS.replace(_b64(GOOD_USERS),
                        _b64("rebel:{SHA}abc\njust-a-password\n"))
    [p] = _only(_svc() + CERT + CA + bad)
    assert "line 2 is not an htpasswd line user:hash" in p.message
    assert "just-a-password" not in p.message


def test_rebel_base_users_secret_is_accepted_and_breaking_it_is_found():
    secrets = str(EXAMPLES / "rebel-base" / "secrets.yaml")
    text = (EXAMPLES / "rebel-base" / "secrets.yaml").read_text().replace("  users:", "  user:")
    report = lint_example("rebel-base", extra={secrets: text})
    [p] = by_rule(report, "ref-secret")
    assert p.file.endswith("vip-service.yaml")
    vs = (EXAMPLES / "rebel-base" / "vip-service.yaml").read_text()
    assert p.line == line_of(vs, "name: base-users")
    assert "has no key users" in p.message


PEER = """
apiVersion: isovalent.com/v1
kind: IsovalentBGPPeerConfig
metadata: {name: peer}
spec:
  authSecretRef: bgp-auth
"""


def _bgp_secret(ns: str, key: str = "password") -> str:
    return f"""
---
apiVersion: v1
kind: Secret
metadata: {{namespace: {ns}, name: bgp-auth}}
data: {{{key}: {B64}}}
"""


def test_bgp_auth_secret_in_kube_system():
    assert _only(PEER + _bgp_secret("kube-system")) == []


def test_bgp_auth_secret_in_wrong_namespace():
    text = PEER + _bgp_secret("default")
    [p] = _only(text)
    assert p.line == line_of(text, "authSecretRef")
    assert "BGP password Secret kube-system/bgp-auth does not exist" in p.message


def test_bgp_auth_secret_without_password_key():
    text = PEER + _bgp_secret("kube-system", key="pass")
    [p] = _only(text)
    assert p.line == line_of(text, "authSecretRef")
    assert "has no key password" in p.message


def test_bgp_secrets_namespace_from_cilium_config():
    cfg = """
apiVersion: v1
kind: ConfigMap
metadata: {namespace: kube-system, name: cilium-config}
data: {bgp-secrets-namespace: bgp}
"""
    report = lint_texts({"a.yaml": PEER + _bgp_secret("bgp"), "cfg.yaml": cfg})
    assert by_rule(report, "schema") == [] and by_rule(report, "ref-secret") == []
    report = lint_texts({"a.yaml": PEER + _bgp_secret("kube-system"), "cfg.yaml": cfg})
    [p] = by_rule(report, "ref-secret")
    assert "Secret bgp/bgp-auth does not exist" in p.message
