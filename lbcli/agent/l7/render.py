"""L7 model + secrets -> haproxy.cfg, the userlist file and the PEM files it names.

Pure and deterministic: the same model, secrets and base directory give byte-identical output
(golden files pin it). Server lines have one fixed shape so the reconciler can tell a change
that only moves weights (runtime API) from one that needs a reload.

Never trusts its input (the schema may not have run): `check_model` holds every value that
reaches haproxy.cfg, the userlist or a file name to its grammar (lbcli/grammar.py)
and raises L7RenderError naming the field; what a grammar lets through that HAProxy's parser
treats specially (a `'` or `#` in a path, header or cookie name) is escaped by `_word` (and
`_arg` inside a fetch's parentheses), the way configuration.txt 2.2 says.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from lbcli.agent.l7.model import (APP_TYPES, Backend, BackendPool, BackendTls, Filtering, L7Model, Listener,
                                  Persistence, Route)
from lbcli.agent.l7.secrets import Secrets, Users, ca_bundle, cert_bundle, parse_htpasswd, secret_value
from lbcli import grammar as G
from lbcli.model.apps import HTTP_TYPES, TLS_TERMINATING
from lbcli.model.tls import haproxy_version as _tls_version
from lbcli.model.regex import compile_error

DEFAULT_HEALTH_PORT = 10901
MAX_WEIGHT = 256  # HAProxy's ceiling for server weights



HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
MAX_FILE_NAME = 200  # below NAME_MAX (255) with room for a prefix and suffix
# the state directory the files live in: it is written into crt-lists and map() arguments
_BASE_PATH = re.compile(r"[A-Za-z0-9._/+@:=~-]+")
_SHA1_B64 = re.compile(r"[A-Za-z0-9+/]{27}=")


class L7RenderError(ValueError):
    """A value cannot be written into the HAProxy configuration safely; names the field."""


@dataclass(frozen=True)
class FileSpec:
    content: bytes
    mode: int = 0o600


@dataclass
class Rendered:
    config: str  # haproxy.cfg (no secret material)
    users: str  # userlist file: crypt hashes only, written 0600
    files: dict[str, FileSpec] = field(default_factory=dict)  # relative path under base
    warnings: list[str] = field(default_factory=list)
    # (backend, server) -> weight, the values the runtime API may change without a reload
    weights: dict[tuple[str, str], int] = field(default_factory=dict)
    # service "ns/name" -> its HAProxy backends (for the health endpoint and status)
    service_backends: dict[str, list[str]] = field(default_factory=dict)
    # (backend, server) -> (address, port) of servers with a fixed address (IP pools; a
    # Hostname pool's address is whatever its resolvers say), compared with the running process
    addresses: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)


def _slug(ref: str) -> str:
    # namespaces hold neither '_' nor '/', names no '_': "ns_name" is unambiguous
    return ref.replace("/", "_")


def _file_slug(ref: str) -> str:
    """_slug for a file name: long ones end in a digest so the name stays under NAME_MAX."""
    slug = _slug(ref)
    if len(slug) > MAX_FILE_NAME:
        slug = f"{slug[:MAX_FILE_NAME - 17]}-{hashlib.sha256(ref.encode()).hexdigest()[:16]}"
    if "/" in slug or slug.startswith(".") or not slug:
        raise L7RenderError(f"{_show(ref)} cannot name a file")
    return slug


# ---------------------------------------------------------------- quoting and checks
def _show(value: object) -> str:
    """A value for an error message: escaped (no control characters reach a log) and capped."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _word(value: str) -> str:
    """One word of haproxy.cfg: `#`, quotes, backslashes and spaces escaped with a backslash
    (outside quotes HAProxy expands no `$`); control characters are never written."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise L7RenderError(f"{_show(value)}: control characters cannot be written into haproxy.cfg")
    return "".join("\\" + c if c in " #'\"\\" else c for c in value)


def _arg(value: str) -> str:
    """An argument inside a fetch's parentheses (second parsing level): double-quoted when it
    holds a quote, backslash, comma, parenthesis or space; pass the whole word to _word()."""
    if not any(c in value for c in "'\"\\,() \t"):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _need(grammar: G.Grammar, value: object, where: str) -> None:
    problem = grammar.problem(value)
    if problem:
        raise L7RenderError(f"{where}: {problem}")


def _need_ref(value: object, where: str) -> None:
    problem = G.object_ref_problem(value)
    if problem:
        raise L7RenderError(f"{where} {_show(value)}: {problem}")


def _need_service_ref(value: object, where: str) -> None:
    problem = G.service_ref_problem(value)
    if problem:
        raise L7RenderError(f"{where} {_show(value)}: {problem}")


def _need_ip(value: object, where: str) -> None:
    try:
        ipaddress.ip_address(value)  # type: ignore[arg-type]
    except ValueError:
        raise L7RenderError(f"{where}: must be an IP address, got {_show(value)}") from None


def _need_int(value: object, where: str, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise L7RenderError(f"{where}: must be an integer in {lo}..{hi}, got {_show(value)}")


def _need_seconds(value: object, where: str) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not 0 < value <= 86400 * 365):
        raise L7RenderError(f"{where}: must be a positive number of seconds, got {_show(value)}")


def check_model(model: L7Model, node: str, base: PurePosixPath) -> None:
    """Every value render() interpolates, against its grammar; L7RenderError names the first
    one that is not (the node's HAProxy configuration is then not changed at all)."""
    _need(G.K8S_NAME, node, "node name")
    if not _BASE_PATH.fullmatch(str(base)) or ".." in base.parts:
        raise L7RenderError(f"HAProxy directory {_show(str(base))}: use letters, digits and ._/+@:=~- "
                            "(it is written into crt-lists and map() arguments)")
    for listener in model.listeners:
        _need_service_ref(listener.service, "listener service")
        w = f"service {listener.service}"
        _need_ip(listener.vip, f"{w} vip")
        _need_int(listener.port, f"{w} port", 1, 65535)
        if listener.type not in APP_TYPES or listener.protocol.upper() not in ("TCP", "UDP"):
            raise L7RenderError(f"{w}: unknown application type {_show(listener.type)} / protocol "
                                f"{_show(listener.protocol)}")
        if listener.tls is not None:
            for cert in listener.tls.certificates:
                _need_ref(cert.ref, f"{w} tls certificate")
            for i, c in enumerate(listener.tls.cipher_suites):
                _need(G.TLS_NAME, c, f"{w} tls cipherSuites[{i}]")
            cv = listener.tls.client_validation
            if cv is not None:
                _need_ref(cv.ca.ref, f"{w} tls client CA")
                for i, san in enumerate(cv.subject_alt_names):
                    _need(G.SAN_DNS, san, f"{w} tls subjectAlternativeNames[{i}]")
        if listener.basic_auth is not None:
            _need_ref(listener.basic_auth.ref, f"{w} basic-auth users")
        for i, route in enumerate(listener.routes):
            rw = f"{w} routes[{i}]"
            _need_service_ref(route.backend_pool, f"{rw} backend pool")
            for j, host in enumerate(route.host_names):
                if host != "":  # "" is the catch-all, like "*"
                    _need(G.ROUTE_HOST, host.lower() if isinstance(host, str) else host, f"{rw} hostNames[{j}]")
            if route.path is not None:
                if route.path.type not in ("exact", "prefix"):
                    raise L7RenderError(f"{rw} path: unknown match type {_show(route.path.type)}")
                _need(G.URL_PATH, route.path.value, f"{rw} path {route.path.type}")
            if route.persistence is not None:
                for j, h in enumerate(route.persistence.headers):
                    _need(G.HEADER_NAME, h, f"{rw} persistentBackend headers[{j}] name")
                for j, c in enumerate(route.persistence.cookies):
                    _need(G.COOKIE_NAME, c, f"{rw} persistentBackend cookies[{j}] name")
            _check_rate(route.rate_limit, f"{rw} rateLimits")
            _check_filtering(route.filtering, f"{rw} filtering")
        _check_rate(listener.rate_limit, f"{w} rateLimits")
        _check_filtering(listener.connection_filtering, f"{w} connectionFiltering")
    for pool in model.pools:
        _need_service_ref(pool.name, "backend pool")
        w = f"backend pool {pool.name}"
        # K8sService pools hold the endpoint addresses compile resolved: served like IP pools
        if pool.backend_type not in ("IP", "Hostname", "K8sService"):
            raise L7RenderError(f"{w}: backendType {_show(pool.backend_type)} is not served by tier 2")
        _need_seconds(pool.connect_timeout_seconds, f"{w} connectTimeoutSeconds")
        for i, b in enumerate(pool.backends):
            if pool.backend_type == "Hostname":
                _need(G.DNS_NAME, b.address, f"{w} backends[{i}] host")
            else:
                _need_ip(b.address, f"{w} backends[{i}] ip")
            _need_int(b.port, f"{w} backends[{i}] port", 1, 65535)
            _need_int(b.weight, f"{w} backends[{i}] weight", 0, 2**32 - 1)
        _check_backend_tls(pool.tls, f"{w} tlsConfig")
        if pool.proxy_protocol_version is not None:
            _need_int(pool.proxy_protocol_version, f"{w} proxyProtocol version", 1, 2)
        for i, r in enumerate(pool.resolvers):
            _need_ip(r.ip, f"{w} resolvers[{i}] ip")
            _need_int(r.port, f"{w} resolvers[{i}] port", 1, 65535)
        hc = pool.health_check
        if hc is not None:
            _need_seconds(hc.interval_seconds, f"{w} healthCheck intervalSeconds")
            _need_seconds(hc.timeout_seconds, f"{w} healthCheck timeoutSeconds")
            _need_int(hc.healthy_threshold, f"{w} healthCheck healthyThreshold", 0, 2**31 - 1)
            _need_int(hc.unhealthy_threshold, f"{w} healthCheck unhealthyThreshold", 0, 2**31 - 1)
            _check_backend_tls(hc.tls, f"{w} healthCheck tlsConfig")
            if hc.http is not None:
                if hc.http.method not in HTTP_METHODS:
                    raise L7RenderError(f"{w} healthCheck http method: must be one of {', '.join(HTTP_METHODS)}")
                _need(G.URL_PATH_QUERY, hc.http.path, f"{w} healthCheck http path")
                if hc.http.host:
                    _need(G.HTTP_HOST, hc.http.host, f"{w} healthCheck http host")
                for c in hc.http.expected_status_codes:
                    _need_int(c, f"{w} healthCheck http status code", 100, 599)


def _check_rate(rl, where: str) -> None:
    if rl is not None:
        _need_int(rl.limit, f"{where} limit", 1, 2**32 - 1)
        _need_int(rl.period_seconds, f"{where} timePeriodSeconds", 1, 86400 * 365)


def _check_cidr(value: object, where: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise L7RenderError(f"{where}: must be an IP prefix in CIDR notation, got {_show(value)}") from None


def _check_filtering(flt: Filtering | None, where: str) -> None:
    if flt is None:
        return
    if flt.rule_type not in ("Allow", "Deny"):
        raise L7RenderError(f"{where}: unknown ruleType {_show(flt.rule_type)}")
    for i, rule in enumerate(flt.rules):
        rw = f"{where} rules[{i}]"
        if rule.source_cidr is not None:
            _check_cidr(rule.source_cidr, f"{rw} sourceCIDR")
        if rule.host_name is not None:
            if rule.host_name.type not in ("exact", "suffix"):
                raise L7RenderError(f"{rw} hostName: unknown match type {_show(rule.host_name.type)}")
            _need(G.SAN_DNS if rule.host_name.type == "exact" else G.DNS_SUFFIX, rule.host_name.value, f"{rw} hostName")
        if rule.path is not None:
            if rule.path.type not in ("exact", "prefix"):
                raise L7RenderError(f"{rw} path: unknown match type {_show(rule.path.type)}")
            _need(G.URL_PATH, rule.path.value, f"{rw} path")
        for j, h in enumerate(rule.headers):
            _need(G.HEADER_NAME, h.name, f"{rw} headers[{j}] name")
            if h.type not in ("exact", "prefix", "regex"):
                raise L7RenderError(f"{rw} headers[{j}]: unknown match type {_show(h.type)}")
            _need(G.TEXT, h.value, f"{rw} headers[{j}] value")
            if h.type == "regex":
                error = compile_error(h.value)
                if error is not None:
                    raise L7RenderError(f"{rw} headers[{j}] regex: {error}")


def _check_backend_tls(tls: BackendTls | None, where: str) -> None:
    if tls is None:
        return
    for v in (tls.min_version, tls.max_version):
        if v is not None and _tls_version(v) is None:
            raise L7RenderError(f"{where}: unknown TLS version {_show(v)}")
    for i, c in enumerate(tls.cipher_suites):
        _need(G.TLS_NAME, c, f"{where} cipherSuites[{i}]")
    if tls.ca is not None:
        _need_ref(tls.ca.ref, f"{where} CA")
    if tls.server_name is not None:
        _need(G.DNS_NAME, tls.server_name, f"{where} serverName")


def check_users(users: Users, ref: str) -> None:
    """htpasswd entries as they will be written to the userlist and the {SHA} map file."""
    for name, hash_ in users.entries:
        _need(G.HTPASSWD_USER, name, f"basic-auth secret {ref}: user name")
        if not G.CRYPT_HASH.match(hash_):  # never show a hash
            raise L7RenderError(f"basic-auth secret {ref}: user {name} has a hash with characters "
                                "a HAProxy userlist cannot hold")
    for name, digest in users.sha1:
        _need(G.HTPASSWD_USER, name, f"basic-auth secret {ref}: user name")
        if not _SHA1_B64.fullmatch(digest):
            raise L7RenderError(f"basic-auth secret {ref}: user {name} has a malformed {{SHA}} hash")


def frontend_name(service: str) -> str:
    return f"ft_{_slug(service)}"


def backend_name(service: str, pool: str) -> str:
    return f"bk_{_slug(service)}.{_slug(pool)}"


def userlist_name(ref: str) -> str:
    return f"ul_{_slug(ref)}"


def resolvers_name(pool: str) -> str:
    return f"rs_{_slug(pool)}"


def _secs(v: float) -> str:
    return f"{int(v)}s" if float(v).is_integer() else f"{int(round(float(v) * 1000))}ms"


def _host_cond(host: str, fetch: str) -> str | None:
    """An inline ACL matching one route host name; None for the catch-all '*'."""
    h = host.lower()
    if h in ("*", ""):
        return None
    if h.startswith("*."):
        return f"{{ {fetch} -m end {h[1:]} }}"
    return f"{{ {fetch} -m str {h} }}"


def _host_rank(host: str) -> tuple[int, int]:
    h = host.lower()
    if h in ("*", ""):
        return (2, 0)
    if h.startswith("*."):
        return (1, -len(h))  # longer suffixes are more specific
    return (0, 0)


def _path_rank(route: Route) -> tuple[int, int]:
    if route.path is None or (route.path.type == "prefix" and route.path.value.rstrip("/") == ""):
        return (2, 0)
    return (0 if route.path.type == "exact" else 1, -len(route.path.value))


def _route_table(listener: Listener, fetch: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Named path ACLs and (route index, conditions) most specific first (exact host, longest
    suffix, catch-all; then exact path, longest prefix), ties in plan order."""
    acls: list[str] = []
    rules: list[tuple[tuple, int, list[str]]] = []
    for i, route in enumerate(listener.routes):
        path_acl = ""
        if route.path is not None and _path_rank(route)[0] < 2:
            path_acl = f"r{i}_path"
            acls += _path_acls(path_acl, route.path.type, route.path.value)
        for host in route.host_names or ("*",):
            conds = [c for c in (_host_cond(host, fetch), path_acl) if c]
            rules.append(((_host_rank(host), _path_rank(route), i), i, conds))
    return acls, [(i, conds) for _, i, conds in sorted(rules, key=lambda x: x[0])]


def _path_acls(name: str, type_: str, value: str) -> list[str]:
    if type_ == "exact":
        return [f"acl {name} path -m str {_word(value)}"]
    # a prefix matches whole path segments: /foo matches /foo and /foo/x, not /foobar
    value = value.rstrip("/")
    if not value:
        return [f"acl {name} always_true"]
    return [f"acl {name} path -m str {_word(value)}", f"acl {name} path -m beg {_word(value + '/')}"]


def _route_lines(listener: Listener, fetch: str) -> tuple[list[str], list[str]]:
    """Named path ACLs and `use_backend` rules in route order (see _route_table)."""
    acls, table = _route_table(listener, fetch)
    ordered = []
    for i, conds in table:
        be = backend_name(listener.service, listener.routes[i].backend_pool)
        ordered.append(f"use_backend {be}" + (f" if {' '.join(conds)}" if conds else ""))
    seen: set[str] = set()
    return acls, [r for r in ordered if not (r in seen or seen.add(r))]


def _persistence_keys(persistence: Persistence) -> list[str]:
    """The sample fetches of every persistence attribute, in a fixed order."""
    keys = ["src"] if persistence.source_ip else []
    keys += [f"req.hdr({_arg(h)})" for h in persistence.headers]
    keys += [f"req.cook({_arg(c)})" for c in persistence.cookies]
    return keys


def _balance(pool: BackendPool, persistence: Persistence | None) -> list[str]:
    keys = _persistence_keys(persistence) if persistence else []
    if len(keys) > 1:
        # several attributes: each into a variable, the hash over all of them (a missing one
        # hashes as empty, so the others still decide)
        out = [f"http-request set-var(txn.pk{i}) " + _word(k) for i, k in enumerate(keys)]
        return out + ["balance hash str(p)" + "".join(f",concat(|,txn.pk{i},)" for i in range(len(keys))),
                      "hash-type consistent"]
    if persistence and persistence.headers:
        # `balance hdr()` reads up to the first ')', which a token never holds: one level
        return ["balance " + _word(f"hdr({persistence.headers[0]})"), "hash-type consistent"]
    if persistence and persistence.cookies:
        return ["balance hash " + _word(f"req.cook({_arg(persistence.cookies[0])})"), "hash-type consistent"]
    if persistence and persistence.source_ip:
        return ["balance source", "hash-type consistent"]
    if pool.algorithm == "consistentHashing":
        # no hash key asked for: hash the client address, like tier 1 does
        return ["balance source", "hash-type consistent"]
    if pool.algorithm == "leastRequest":
        return ["balance leastconn"]
    return ["balance roundrobin"]


def _check_lines(pool: BackendPool, mode: str) -> tuple[list[str], str]:
    hc = pool.health_check
    if hc is None:
        return [], ""
    lines: list[str] = []
    if hc.http is not None and not hc.tcp:
        lines.append("option httpchk")
        send = f"http-check send meth {hc.http.method} uri {_word(hc.http.path)}"
        if hc.http.host:
            send += f" hdr host {_word(hc.http.host)}"
        lines.append(send)
        codes = sorted(set(hc.http.expected_status_codes)) or [200]
        if len(codes) == 1:
            lines.append(f"http-check expect status {codes[0]}")
        else:
            lines.append(f"http-check expect rstatus ^({'|'.join(str(c) for c in codes)})$")
    lines.append(f"timeout check {_secs(hc.timeout_seconds)}")
    server_opts = (
        f" check inter {_secs(hc.interval_seconds)}"
        f" rise {max(1, hc.healthy_threshold)} fall {max(1, hc.unhealthy_threshold)}"
    )
    return lines, server_opts


def _server_line(pool: BackendPool, b: Backend, check_opts: str, warnings: list[str],
                 base: PurePosixPath = PurePosixPath("/")) -> str:
    weight = b.effective_weight
    if weight > MAX_WEIGHT:
        warnings.append(f"pool {pool.name}: backend {b.server_name} weight {weight} capped at {MAX_WEIGHT}")
        weight = MAX_WEIGHT
    line = f"server {b.server_name} {b.address}:{b.port} weight {weight}"
    if pool.backend_type == "Hostname":
        line += f" resolvers {resolvers_name(pool.name)} init-addr none resolve-prefer ipv4"
    return line + check_opts + _server_options(pool, b, base, bool(check_opts))


def _server_options(pool: BackendPool, b: Backend, base: PurePosixPath, checked: bool) -> str:
    """TLS to the backend (or for its checks only), PROXY protocol and HTTP/2 to it."""
    out = ""
    hc_tls = pool.health_check.tls if pool.health_check is not None and checked else None
    tls = pool.tls or hc_tls
    if tls is not None:
        out += " ssl" if pool.tls is not None else " check-ssl"
        ca = str(base / "files" / f"ca-{_file_slug(tls.ca.ref)}.pem") if tls.ca is not None else "@system-ca"
        out += f" verify required ca-file {ca}"
        name = tls.server_name or (b.address if pool.backend_type == "Hostname" else None)
        if name:
            out += f" sni str({name}) verifyhost {name}" if pool.tls is not None else f" verifyhost {name}"
            if checked:
                out += f" check-sni {name}"
        lo, hi = _tls_version(tls.min_version), _tls_version(tls.max_version)
        out += (f" ssl-min-ver {lo}" if lo else "") + (f" ssl-max-ver {hi}" if hi else "")
        v12 = [c for c in tls.cipher_suites if not c.startswith("TLS_")]
        v13 = [c for c in tls.cipher_suites if c.startswith("TLS_")]
        out += (f" ciphers {':'.join(v12)}" if v12 else "") + (f" ciphersuites {':'.join(v13)}" if v13 else "")
    if pool.proxy_protocol_version is not None:
        out += " send-proxy-v2" if pool.proxy_protocol_version == 2 else " send-proxy"
        if checked:
            out += " check-send-proxy"
    hv = pool.http_versions
    if hv is not None and hv.http2 and not hv.http11:
        out += " alpn h2" if pool.tls is not None else " proto h2"
    elif hv is not None and hv.http2 and pool.tls is not None:
        out += " alpn h2,http/1.1"
    return out


def _backend_section(
    listener: Listener, pool: BackendPool, persistence: Persistence | None, mode: str, r: Rendered,
    base: PurePosixPath = PurePosixPath("/"),
) -> list[str]:
    name = backend_name(listener.service, pool.name)
    out = [f"backend {name}", f"    mode {mode}"]
    out += [f"    {x}" for x in _balance(pool, persistence)]
    out.append(f"    timeout connect {_secs(pool.connect_timeout_seconds)}")
    checks, check_opts = _check_lines(pool, mode)
    out += [f"    {x}" for x in checks]
    for b in sorted(pool.backends, key=lambda b: (b.address, b.port)):
        out.append("    " + _server_line(pool, b, check_opts, r.warnings, base))
        r.weights[(name, b.server_name)] = min(b.effective_weight, MAX_WEIGHT)
        if pool.backend_type != "Hostname":
            r.addresses[(name, b.server_name)] = (b.address, b.port)
    return out


def _bind_line(listener: Listener, base: PurePosixPath, r: Rendered) -> str:
    bind = f"bind {listener.vip}:{listener.port} transparent"
    if listener.proxy_protocol:
        bind += " accept-proxy"
    if listener.type in TLS_TERMINATING and listener.tls is not None:
        tls = listener.tls
        bind += f" ssl crt-list {base / 'files' / ('crtlist-' + _file_slug(listener.service) + '.txt')}"
        if listener.type == "httpsProxy":
            hv = listener.http_versions
            alpn = [a for a, on in (("h2", hv is None or hv.http2), ("http/1.1", hv is None or hv.http11)) if on]
            bind += f" alpn {','.join(alpn or ['h2', 'http/1.1'])}"
        lo, hi = _tls_version(tls.min_version), _tls_version(tls.max_version)
        if lo:
            bind += f" ssl-min-ver {lo}"
        if hi:
            bind += f" ssl-max-ver {hi}"
        v13 = [c for c in tls.cipher_suites if c.startswith("TLS_")]
        v12 = [c for c in tls.cipher_suites if not c.startswith("TLS_")]
        if v12:
            bind += f" ciphers {':'.join(v12)}"
        if v13:
            bind += f" ciphersuites {':'.join(v13)}"
        if tls.client_validation is not None:
            bind += f" ca-file {base / 'files' / ('ca-' + _file_slug(tls.client_validation.ca.ref) + '.pem')} verify required"
    return bind


def _tls_files(listener: Listener, secrets: Secrets, base: PurePosixPath, r: Rendered) -> bool:
    """Write the listener's certificate files; False (with a warning) if a secret is missing."""
    tls = listener.tls
    if tls is None or not tls.certificates:
        r.warnings.append(f"{listener.type} {listener.service}: no certificates; not served")
        return False
    crt_lines: list[str] = []
    for cert in tls.certificates:
        bundle = cert_bundle(secrets, cert.ref)
        if bundle is None:
            r.warnings.append(f"{listener.type} {listener.service}: secret {cert.ref} has no tls.crt/tls.key; not served")
            return False
        rel = f"files/cert-{_file_slug(cert.ref)}.pem"
        r.files[rel] = FileSpec(bundle)
        # HAProxy picks the certificate by SNI from each one's SAN/CN; the first is the default
        crt_lines.append(str(base / rel))
    if tls.client_validation is not None:
        ca = ca_bundle(secrets, tls.client_validation.ca.ref)
        if ca is None:
            r.warnings.append(f"{listener.type} {listener.service}: CA secret {tls.client_validation.ca.ref} missing; not served")
            return False
        r.files[f"files/ca-{_file_slug(tls.client_validation.ca.ref)}.pem"] = FileSpec(ca)
    r.files[f"files/crtlist-{_file_slug(listener.service)}.txt"] = FileSpec(("\n".join(crt_lines) + "\n").encode(), 0o600)
    return True


def _backend_tls_files(pool: BackendPool, secrets: Secrets, base: PurePosixPath, r: Rendered) -> bool:
    """The CA files a pool's backend TLS verifies against; False (warning) when one is missing:
    the pool is then not served rather than reached unverified."""
    for tls in (pool.tls, pool.health_check.tls if pool.health_check is not None else None):
        if tls is None or tls.ca is None:
            continue
        ca = ca_bundle(secrets, tls.ca.ref)
        if ca is None:
            r.warnings.append(f"backend pool {pool.name}: CA secret {tls.ca.ref} missing; not served")
            return False
        r.files[f"files/ca-{_file_slug(tls.ca.ref)}.pem"] = FileSpec(ca)
    return True


def _sha1_map(ref: str) -> str:
    return f"files/users-{_file_slug(ref)}.map"


def _userlist(listener: Listener, secrets: Secrets, r: Rendered) -> list[str] | None:
    """The userlist (crypt hashes) for users.cfg; {SHA} users go to a 0600 map file."""
    ref = listener.basic_auth.ref  # type: ignore[union-attr]
    data = secret_value(secrets, ref, "users")
    if not data:
        r.warnings.append(f"{listener.type} {listener.service}: basic-auth secret {ref} missing; not served")
        return None
    users = parse_htpasswd(data)
    check_users(users, ref)
    if users.rejected:
        r.warnings.append(
            f"basic-auth secret {ref}: users whose hash HAProxy cannot check ($apr1$, clear text) were left out: "
            + ", ".join(users.rejected)
        )
    if users.sha1:
        r.files[_sha1_map(ref)] = FileSpec("".join(f"{n} {h}\n" for n, h in users.sha1).encode())
    return [f"userlist {userlist_name(ref)}"] + [f"    user {n} password {h}" for n, h in users.entries]


def _auth_lines(listener: Listener, base: PurePosixPath, r: Rendered) -> list[str]:
    ref = listener.basic_auth.ref  # type: ignore[union-attr]
    ok = f"{{ http_auth({userlist_name(ref)}) }}"
    out = []
    if _sha1_map(ref) in r.files:
        # {SHA} htpasswd entries: compare base64(sha1(password)) with the user's map entry
        out += [
            "http-request set-var(txn.auth_want) " + _word(f"http_auth_user,map({_arg(str(base / _sha1_map(ref)))})"),
            "http-request set-var(txn.auth_have) http_auth_pass,sha1,base64",
            "acl auth_sha1 var(txn.auth_have),strcmp(txn.auth_want) eq 0",
        ]
        ok += " or auth_sha1"
    return out + [f"http-request auth realm {_slug(listener.service)} unless {ok}"]


def _frontend(listener: Listener, base: PurePosixPath, r: Rendered, mode: str,
              tables: list[list[str]] | None = None) -> list[str]:
    tables = [] if tables is None else tables
    out = [f"frontend {frontend_name(listener.service)}", f"    mode {mode}", "    " + _bind_line(listener, base, r)]
    tls = listener.tls
    sans = tls.client_validation.subject_alt_names if tls and tls.client_validation else ()
    if sans and listener.type in TLS_TERMINATING:
        r.warnings.append(
            f"{listener.service}: client subjectAlternativeNames are matched against the certificate's "
            "subject CN (HAProxy 2.6 has no SAN fetch)"
        )
    out += [f"    {x}" for x in _connection_policy(listener, mode, tables)]
    if mode == "http":
        out.append("    option forwardfor")
        if sans and listener.type in TLS_TERMINATING:
            out.append(f"    http-request deny deny_status 403 unless {{ ssl_c_s_dn(CN) -m str {' '.join(sans)} }}")
        # the Host header without its port; fetched inline (no per-request variable to set)
        fetch = "req.hdr(host),field(1,:),lower"
        acls, rules = _route_lines(listener, fetch)
        policy = _route_policy(listener, "http", fetch, tables)
        if policy:  # ACLs first: the policy rules use them, and run before authentication
            out += [f"    {a}" for a in acls] + [f"    {x}" for x in policy]
            acls = []
        if listener.basic_auth is not None:
            out += [f"    {x}" for x in _auth_lines(listener, base, r)]
        out += [f"    {a}" for a in acls] + [f"    {x}" for x in rules]
        out.append("    default_backend no_route")
        return out
    fetch = "req.ssl_sni,lower" if listener.type == "tlsPassthrough" else "ssl_fc_sni,lower"
    acls, rules = _route_lines(listener, fetch)
    policy = _route_policy(listener, "tcp", fetch, tables)
    if listener.type == "tlsPassthrough":
        out.append("    tcp-request inspect-delay 5s")
        out += [f"    {x}" for x in policy]  # before `accept`, which ends the content rules
        out.append("    tcp-request content accept if { req.ssl_hello_type 1 }")
    else:
        if sans and listener.type == "tlsProxy":
            out.append(f"    tcp-request content reject unless {{ ssl_c_s_dn(CN) -m str {' '.join(sans)} }}")
        out += [f"    {x}" for x in policy]
    if listener.type == "tcpProxy":
        if listener.routes:
            out.append(f"    default_backend {backend_name(listener.service, listener.routes[0].backend_pool)}")
        return out
    out += [f"    {x}" for x in rules]
    return out


# ---------------------------------------------------------------- rate limits and filtering
TOO_MANY = 'content-type text/plain string "too many requests\\n"'


def _table_name(service: str, route: int | None = None) -> str:
    return f"st_{_slug(service)}" + ("" if route is None else f".r{route}")


def _table(name: str, store: str, period: int) -> list[str]:
    """A stick table (its own backend section): per client address, the rate over `period`."""
    return [f"backend {name}", f"    stick-table type ipv6 size 100k expire {period}s store {store}({period}s)"]


def _connection_policy(listener: Listener, mode: str, tables: list[list[str]]) -> list[str]:
    """The application's connectionFiltering (source CIDRs) and rateLimits (connections per
    client): refused connections are closed; an HTTP client over its rate gets 429."""
    out: list[str] = []
    flt = listener.connection_filtering
    if flt is not None:
        cidrs = " ".join(sorted({x.source_cidr for x in flt.rules if x.source_cidr}))
        if flt.rule_type == "Deny" and cidrs:
            out.append(f"tcp-request connection reject if {{ src {cidrs} }}")
        elif flt.rule_type == "Allow":
            out.append(f"tcp-request connection reject unless {{ src {cidrs} }}" if cidrs else
                       "tcp-request connection reject")
    rl = listener.rate_limit
    if rl is not None:
        name = _table_name(listener.service)
        tables.append(_table(name, "conn_rate", rl.period_seconds))
        out.append(f"tcp-request connection track-sc0 src table {name}")
        over = f"{{ sc_conn_rate(0) gt {rl.limit} }}"
        if mode == "http":
            out.append(f"http-request return status 429 {TOO_MANY} hdr Retry-After {rl.period_seconds} if {over}")
        else:
            out.append(f"tcp-request connection reject if {over}")
    hv = listener.http_versions
    if mode == "http" and hv is not None and (hv.http11 or hv.http2):
        unsupported = 'status 505 content-type text/plain string "HTTP version not supported\\n"'
        if not hv.http2:
            out.append(f"http-request return {unsupported} if {{ req.ver 2.0 }}")
        if not hv.http11:
            out.append(f"http-request return {unsupported} unless {{ req.ver 2.0 }}")
    return out


def _rule_conds(rule, name: str, fetch: str, mode: str) -> tuple[list[str], list[str]]:
    """(named ACLs, conditions) of one filter rule: all of them must hold."""
    acls: list[str] = []
    conds: list[str] = []
    if rule.source_cidr is not None:
        conds.append(f"{{ src {rule.source_cidr} }}")
    if rule.host_name is not None:
        v = rule.host_name.value
        if rule.host_name.type == "exact":
            conds.append(f"{{ {fetch} -m str {v} }}")
        else:  # the suffix matches whole labels: acme.io matches acme.io and x.acme.io
            acls += [f"acl {name}_host {fetch} -m str {v.lstrip('.')}",
                     f"acl {name}_host {fetch} -m end .{v.lstrip('.')}"]
            conds.append(f"{name}_host")
    if rule.path is not None and mode == "http":
        acls += _path_acls(f"{name}_path", rule.path.type, rule.path.value)
        conds.append(f"{name}_path")
    for h in rule.headers if mode == "http" else ():
        how = {"exact": "str", "prefix": "beg", "regex": "reg"}[h.type]
        conds.append(f"{{ {_word(f'req.hdr({_arg(h.name)})')} -m {how} {_word(h.value)} }}")
    return acls, conds


def _route_policy(listener: Listener, mode: str, fetch: str, tables: list[list[str]]) -> list[str]:
    """Per route: filtering (HTTP 403 / connection closed) and rate limits (HTTP 429 with
    Retry-After / connection closed), keyed by the route the request takes (txn.route, set
    in routing order so the most specific route wins). Nothing when no route has either."""
    routes = listener.routes if mode == "http" or listener.type != "tcpProxy" else listener.routes[:1]
    if not any(x.rate_limit is not None or x.filtering is not None for x in routes):
        return []
    kw = "http-request" if mode == "http" else "tcp-request content"
    _, table = _route_table(listener, fetch)
    out = [f"{kw} set-var(txn.route) int({i}) if {' '.join(conds + ['!{ var(txn.route) -m found }'])}"
           for i, conds in table if i < len(routes)]
    for i, route in enumerate(routes):
        on = f"{{ var(txn.route) -m int {i} }}"
        flt = route.filtering
        if flt is not None:
            hit = f"txn.f{i}"
            for k, rule in enumerate(flt.rules):
                acls, conds = _rule_conds(rule, f"f{i}_{k}", fetch, mode)
                out += acls
                out.append(f"{kw} set-var({hit}) bool(1) if {' '.join([on] + conds)}")
            refuse = "http-request deny deny_status 403" if mode == "http" else "tcp-request content reject"
            found = f"{{ var({hit}) -m found }}"
            out.append(f"{refuse} if {on} {'!' if flt.rule_type == 'Allow' else ''}{found}")
        rl = route.rate_limit
        if rl is not None:
            name = _table_name(listener.service, i)
            store = "http_req_rate" if mode == "http" else "conn_rate"
            tables.append(_table(name, store, rl.period_seconds))
            out.append(f"{kw} track-sc1 src table {name} if {on}")
            over = f"{{ sc_{store}(1) gt {rl.limit} }}"
            if mode == "http":
                out.append(f"http-request return status 429 {TOO_MANY} hdr Retry-After {rl.period_seconds} if {on} {over}")
            else:
                out.append(f"tcp-request content reject if {on} {over}")
    return out


# the health endpoint's pages: HAProxy builds a `return` body in one buffer (tune.bufsize,
# 16 kB), so the per-service lines are split into pages well below it (the template, longer
# than what it expands to, is what is measured)
HEALTH_PAGE_BYTES = 8000
HEALTH_MAGIC = "cilium-lb-health v1"
_HEALTH_SAFE = re.compile(r"[a-z0-9][-a-z0-9./_:]*")  # ":" in a v1 Service port key (ns/name:port)


def health_pages(service_backends: dict[str, list[str]]) -> list[list[tuple[str, list[str]]]]:
    """The services in pages of at most HEALTH_PAGE_BYTES of template each (one page at least)."""
    pages: list[list[tuple[str, list[str]]]] = [[]]
    size = 0
    for svc, backends in sorted(service_backends.items()):
        line = len(svc) + sum(len(b) + 12 for b in backends) + 2
        if pages[-1] and size + line > HEALTH_PAGE_BYTES:
            pages.append([])
            size = 0
        pages[-1].append((svc, backends))
        size += line
    return pages


def _health_frontend(port: int, r: Rendered, addr: str | None = None) -> list[str]:
    """Tier 1 checks tier 2 here (lbcli/agent/health/). Bound on the node's underlay address
    (and loopback) when the plan gives one, else on every address.

        GET /health               200: HAProxy answers on this node
        GET /health/<ns>/<name>   200 when the service is served here and one of its backends
                                  has a usable server, 503 otherwise (404: not a service here)
        GET /health/services/<k>  page k: a first line "cilium-lb-health v1 page <k> of <n>",
                                  then one line per service: its name and nbsrv() of each of
                                  its backends (no number: nothing serves it here)

    HAProxy's own view is the truth: nbsrv() counts the servers its checks hold usable."""
    if addr is not None:
        _need_ip(addr, "health endpoint address")
    _need_int(port, "health endpoint port", 1, 65535)
    binds = [f"    bind {addr}:{port}", f"    bind 127.0.0.1:{port}"] if addr and addr != "127.0.0.1" else [f"    bind {addr or ''}:{port}"]
    out = [
        "frontend health",
        "    mode http",
        *binds,
        '    http-request return status 200 content-type text/plain string "ok\\n" if { path /health }',
    ]
    for svc, backends in r.service_backends.items():  # every value written below is held to a safe set
        for v in (svc, *backends):
            if not _HEALTH_SAFE.fullmatch(v):
                raise L7RenderError(f"health endpoint: {_show(v)} cannot be written into a path or log-format string")
    pages = health_pages(r.service_backends)
    for k, page in enumerate(pages):
        body = f"{HEALTH_MAGIC} page {k} of {len(pages)}\\n" + "".join(
            svc + "".join(f" %[nbsrv({be})]" for be in backends) + "\\n" for svc, backends in page)
        out.append(f'    http-request return status 200 content-type text/plain lf-string "{body}" '
                   f"if {{ path /health/services/{k} }}")
    for i, (svc, backends) in enumerate(sorted(r.service_backends.items())):
        out.append(f"    acl svc{i} path /health/{svc}")
        for be in backends:
            out.append(f"    acl svc{i}_up nbsrv({be}) gt 0")
        if backends:
            out.append(f'    http-request return status 200 content-type text/plain string "up\\n" if svc{i} svc{i}_up')
        out.append(f'    http-request return status 503 content-type text/plain string "down\\n" if svc{i}')
    out.append('    http-request return status 404 content-type text/plain string "unknown service\\n"')
    return out


def render(
    model: L7Model,
    secrets: Secrets,
    base: str | PurePosixPath,
    node: str,
    health_port: int = DEFAULT_HEALTH_PORT,
    health_addr: str | None = None,
) -> Rendered:
    """Render the node's HAProxy configuration; `base` is the directory the files live in;
    the health endpoint listens on `health_addr` (the node's underlay address) or everywhere."""
    base = PurePosixPath(base)
    check_model(model, node, base)
    r = Rendered(config="", users="")
    sections: list[list[str]] = []
    userlists: dict[str, list[str]] = {}
    resolvers: dict[str, list[str]] = {}
    for listener in model.listeners:
        if listener.type == "udpProxy" or listener.protocol.upper() == "UDP":
            r.warnings.append(
                f"udpProxy {listener.service}: HAProxy has no UDP proxying; not served on tier 2 "
                "(tier 1 alone may carry it)"
            )
            r.service_backends[listener.service] = []
            continue
        mode = "http" if listener.type in HTTP_TYPES else "tcp"
        if listener.type in TLS_TERMINATING and not _tls_files(listener, secrets, base, r):
            r.service_backends[listener.service] = []
            continue
        if listener.basic_auth is not None:
            if mode != "http":
                r.warnings.append(f"{listener.type} {listener.service}: basic auth needs HTTP; ignored")
                listener = _without_auth(listener)
            else:
                ul = _userlist(listener, secrets, r)
                if ul is None:
                    r.service_backends[listener.service] = []
                    continue
                userlists[listener.basic_auth.ref] = ul
        pools: dict[str, Persistence | None] = {}
        for route in listener.routes:
            if model.pool(route.backend_pool) is None:
                r.warnings.append(f"{listener.service}: backend pool {route.backend_pool} not in plan; route skipped")
                continue
            if not _backend_tls_files(model.pool(route.backend_pool), secrets, base, r):  # type: ignore[arg-type]
                continue
            first = pools.get(route.backend_pool)
            if first is not None and route.persistence is not None and route.persistence != first:
                r.warnings.append(
                    f"{listener.service}: routes to {route.backend_pool} ask for different persistence; the first wins"
                )
            pools[route.backend_pool] = first or route.persistence
        listener = _with_routes(listener, tuple(x for x in listener.routes if x.backend_pool in pools))
        tables: list[list[str]] = []
        sections.append(_frontend(listener, base, r, mode, tables))
        sections += tables
        r.service_backends[listener.service] = []
        for pool_name in sorted(pools):
            pool = model.pool(pool_name)
            assert pool is not None
            sections.append(_backend_section(listener, pool, pools[pool_name], mode, r, base))
            r.service_backends[listener.service].append(backend_name(listener.service, pool_name))
            if pool.backend_type == "Hostname":
                resolvers[pool.name] = _resolvers_section(pool)
    if any(l.type in HTTP_TYPES for l in model.listeners):
        sections.append(["backend no_route", "    mode http", '    http-request return status 404 content-type text/plain string "no route\\n"'])
    head = _global(base, node) + _defaults()
    body = [_health_frontend(health_port, r, health_addr)] + sections + [resolvers[k] for k in sorted(resolvers)]
    r.config = "\n".join(head + [line for s in body for line in s + [""]])
    r.users = "# basic-auth users (crypt hashes only)\n" + "".join(
        "\n".join(userlists[k]) + "\n" for k in sorted(userlists)
    )
    r.warnings = sorted(set(r.warnings))
    return r


def _with_routes(listener: Listener, routes: tuple[Route, ...]) -> Listener:
    from dataclasses import replace

    return replace(listener, routes=routes)


def _without_auth(listener: Listener) -> Listener:
    from dataclasses import replace

    return replace(listener, basic_auth=None)


def _resolvers_section(pool: BackendPool) -> list[str]:
    out = [f"resolvers {resolvers_name(pool.name)}"]
    if pool.resolvers:
        out += [f"    nameserver ns{i} {x.ip}:{x.port}" for i, x in enumerate(pool.resolvers)]
    else:
        out.append("    parse-resolv-conf")
    out += [
        "    accepted_payload_size 8192",
        "    resolve_retries 3",
        "    timeout resolve 1s",
        "    timeout retry 1s",
        "    hold valid 10s",
        "    hold obsolete 30s",
    ]
    return out


def _global(base: PurePosixPath, node: str) -> list[str]:
    return [
        f"# generated by cilium-lb for node {node}; do not edit",
        "global",
        "    master-worker",
        # expose-fd listeners: a reloaded worker takes over the listening sockets (no drops)
        f"    stats socket {base / 'stats.sock'} mode 600 level admin expose-fd listeners",
        "    stats timeout 30s",
        "    hard-stop-after 60s",
        "    tune.ssl.default-dh-param 2048",
        "",
    ]


def _defaults() -> list[str]:
    return [
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 30s",
        "    timeout tunnel 1h",
        "    timeout client-fin 5s",
        "",
    ]


_WEIGHT_RE = re.compile(r"^(\s+server \S+ \S+) weight \d+")


def skeleton(config: str) -> str:
    """The configuration with server weights blanked: equal skeletons mean the runtime API
    can carry the change (weights/drain) and no reload is needed."""
    return "\n".join(_WEIGHT_RE.sub(r"\1 weight _", line) for line in config.splitlines())
