"""Secrets named by LBServices and BGP peer configs exist and hold the keys they are used for.

A missing or mis-shaped Secret is found by Isovalent's controller only after apply
(`lb.cilium.io/SecretsExist=False`) and by BGP only as a session that never authenticates.
Checked, each at its own `secretRef.name`:

- `tlsConfig.certificates[].secretRef` (httpsProxy, tlsProxy): a Secret in the LBService's
  namespace of type `kubernetes.io/tls` with `tls.crt` and `tls.key`;
- `tlsConfig.validation.secretRef` (client certificates, mTLS): a Secret with `ca.crt`;
- `auth.basic.users.secretRef`: a Secret with the key `users` holding one htpasswd line
  (`user:hash`) per user, as in examples/rebel-base/secrets.yaml;
- `auth.jwt.providers[].jwks.secretRef`: a Secret with the key `jwks`;
- IsovalentBGPPeerConfig / CiliumBGPPeerConfig `authSecretRef`: a Secret with the key `password` in the BGP secrets
  namespace: `bgp-secrets-namespace` of the cilium-config ConfigMap, else `kube-system`.

Keys are looked up in `data` and `stringData`. Secret values never appear in messages.

Most repositories keep no Secrets in git (they come from a vault or `kubectl create secret`):
when the set holds no Secret at all, references are not checked and one info says so. With at
least one Secret in the set, a missing one is an error.

Example of a finding:

    vip-service.yaml:14:21: error: certificate Secret default/web-cert is of type 'Opaque'; it
    needs type kubernetes.io/tls [ref-secret]
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import Resource, get_in
from ...model import htpasswd
from ...model import secrets as secret_model
from ..finding import Context, Finding
from ..redact import show
from ..problem import Severity
from ._refs import applications, as_list, ref_name, similar

ID = "ref-secret"
SEVERITY = Severity.ERROR

TLS_TYPE = "kubernetes.io/tls"
USERS_KEY = "users"


def check(ctx: Context) -> Iterator[Finding]:
    found = list(_check_all(ctx))
    if ctx.index.of_kind("Secret"):
        yield from found
    elif found:
        f = found[0]
        yield Finding(f.resource, f.path, "the set has no Secret (kept out of git?): Secret references "
                      "not checked", severity=Severity.INFO)


def _check_all(ctx: Context) -> Iterator[Finding]:
    for svc in ctx.index.valid("LBService"):
        for app_type, app in applications(svc):
            base = ("spec", "applications", app_type)
            tls = app.get("tlsConfig") if isinstance(app.get("tlsConfig"), dict) else {}
            for i, cert in enumerate(as_list(tls.get("certificates"))):
                yield from _check(ctx, svc, base + ("tlsConfig", "certificates", i), cert,
                                  "certificate", ("tls.crt", "tls.key"), TLS_TYPE)
            if isinstance(tls.get("validation"), dict):
                yield from _check(ctx, svc, base + ("tlsConfig", "validation"), tls["validation"],
                                  "client CA", ("ca.crt",))
            auth = app.get("auth") if isinstance(app.get("auth"), dict) else {}
            users = get_in(auth, ("basic", "users"))
            if isinstance(users, dict):
                yield from _check(ctx, svc, base + ("auth", "basic", "users"), users,
                                  "basic-auth users", (USERS_KEY,), htpasswd=True)
            for i, prov in enumerate(as_list(get_in(auth, ("jwt", "providers")))):
                jwks = prov.get("jwks") if isinstance(prov, dict) else None
                if isinstance(jwks, dict) and "secretRef" in jwks:
                    yield from _check(ctx, svc, base + ("auth", "jwt", "providers", i, "jwks"), jwks,
                                      "JWKS", ("jwks",))
    ns = ctx.index.bgp_secrets_namespace()
    for peer in ctx.index.bgp("PeerConfig"):
        name = peer.spec.get("authSecretRef")
        if isinstance(name, str) and name:
            yield from _resolve(ctx, peer, ("spec", "authSecretRef"), ns, name,
                                "BGP password", ("password",))


def _check(ctx: Context, svc: Resource, path: tuple, holder: dict, what: str,
           keys: tuple[str, ...], type_: str | None = None, htpasswd: bool = False) -> Iterator[Finding]:
    name = ref_name(holder, "secretRef", "name")
    if name is not None:
        yield from _resolve(ctx, svc, path + ("secretRef", "name"), svc.namespace or "default", name,
                            what, keys, type_, htpasswd)


def _resolve(ctx: Context, res: Resource, path: tuple, ns: str, name: str, what: str,
             keys: tuple[str, ...], type_: str | None = None, htpasswd: bool = False) -> Iterator[Finding]:
    secret = ctx.index.secret(ns, name)
    if secret is None:
        hint = similar(ctx.index, "Secret", ns, name)
        yield Finding(res, path, f"{what} Secret {ns}/{name} does not exist (SecretsExist=False){hint}")
        return
    actual = secret.body.get("type") or "Opaque"
    if type_ and actual != type_:
        yield Finding(res, path, f"{what} Secret {ns}/{name} is of type {show(actual)}; it needs type {type_}")
        return
    present = secret_model.keys(secret.body)
    missing = [k for k in keys if k not in present]
    if missing:
        have = ", ".join(present) or "none"
        yield Finding(res, path, f"{what} Secret {ns}/{name} has no key {' or '.join(missing)} "
                                 f"(keys: {have})")
        return
    if htpasswd:
        bad = _htpasswd_problem(secret_model.value(secret.body, USERS_KEY))
        if bad:
            yield Finding(res, path, f"{what} Secret {ns}/{name}: key {USERS_KEY} {bad}")


def _htpasswd_problem(value: secret_model.Value | None) -> str | None:
    """Why the value is not htpasswd text, never quoting it (it holds password hashes)."""
    if value is None or value.data is None:
        return "is not valid base64"
    try:
        value.data.decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    lines = htpasswd.parse(value.data)
    if not lines:
        return "holds no user (expected one htpasswd line user:hash per user)"
    bad = next((ln for ln in lines if not ln.well_formed), None)
    if bad is not None:
        return f"line {bad.number} is not an htpasswd line user:hash"
    return None
