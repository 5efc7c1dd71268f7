"""No value reaches a generated configuration unchecked — twice.

1. Through the front door: every string field of every kind's schema (walked from the
   generated schemas) gets hostile values (line breaks, NUL, quotes, backslash, space, `#`,
   `)`, `{`, an ANSI escape, 10 kB) in a manifest set that reaches every renderer feature
   (tests/injection_base.py). Either validation fails with an error at that value, or the set
   compiles and renders into haproxy.cfg / bird.conf that the real daemons accept
   (`haproxy -c`, `bird -p`) with exactly the directives of the unmodified set: no extra
   server, ACL, http-request rule, redirect, protocol or filter.
2. Around it: the same values fed straight into the plan (no validation) and into the
   renderers' typed models (no plan reader) are refused with a named field, or written so
   the daemons read them back as the same directives.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from .lintkit import compiled_json
from lbcli.agent.bgp import daemon
from lbcli.agent.bgp.model import BgpModel, BgpModelError
from lbcli.agent.bgp.model import model_from_plan as bgp_model
from lbcli.agent.bgp.render import render_bird_conf
from lbcli.agent.l7.model import L7Model
from lbcli.agent.l7.model import model_from_plan as l7_model
from lbcli.agent.l7.render import L7RenderError, render
from lbcli.compile.plan import compile_plans
from lbcli.lint.problem import Severity
from lbcli.manifest.kinds import schemas
from tests.injection_base import base_docs, clone, dump, dump_doc
from tests.lintkit import lint_texts

HAPROXY = shutil.which("haproxy")
BIRD = daemon.find_bird()


def needs_daemons(fn):
    return pytest.mark.daemons(pytest.mark.skipif(HAPROXY is None or BIRD is None,
                                                  reason="needs haproxy and bird")(fn))

T2, T1 = "lb-t2-1", "lb-t1-1"
FILE = "base.yaml"
HOSTILE = ["\n", "\r", "\0", '"', "'", "\\", " ", "#", ")", "{", "\x1b[31m", "x" * 10240]
INJECT = {"\n": "\nserver evil 6.6.6.6:80 weight 256", "\r": "\r\nacl evil always_true",
          "#": "# }", ")": ") if TRUE", "{": "{ protocol evil {", '"': '"; protocol evil {'}


def hostile_values(original: str) -> list[str]:
    """Each hostile value alone, and appended to the valid value (so a value that must start
    with '/' or be a DNS name still reaches the part of the grammar that matters)."""
    return HOSTILE + [original + INJECT.get(h, h) for h in HOSTILE]


# ---------------------------------------------------------------- schema walk
def _string_paths(schema: dict, root: dict, path: tuple, out: set, depth: int = 0) -> None:
    if not isinstance(schema, dict) or depth > 40:
        return
    if "$ref" in schema:
        _string_paths(root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root, path, out, depth + 1)
    t = schema.get("type")
    if t == "string" or (isinstance(t, list) and "string" in t):
        out.add(path)
    for k in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(k, []):
            _string_paths(sub, root, path, out, depth + 1)
    for k in ("then", "else"):
        if k in schema:
            _string_paths(schema[k], root, path, out, depth + 1)
    for name, sub in (schema.get("properties") or {}).items():
        _string_paths(sub, root, path + (name,), out, depth + 1)
    if isinstance(schema.get("additionalProperties"), dict):
        _string_paths(schema["additionalProperties"], root, path + ("*",), out, depth + 1)
    if isinstance(schema.get("items"), dict):
        _string_paths(schema["items"], root, path + ("[]",), out, depth + 1)


@functools.lru_cache(maxsize=None)
def string_fields() -> tuple[tuple[str, tuple], ...]:
    """(kind, path) of every string a schema accepts; "[]" is any item, "*" any map value."""
    out: set[tuple[str, tuple]] = set()
    for (_, kind), schema in schemas().items():
        paths: set = set()
        _string_paths(schema, schema, (), paths)
        out |= {(kind, p) for p in paths}
    return tuple(sorted(out))


def field_id(kind: str, path: tuple) -> str:
    return kind + ":" + ".".join(path)


# Fields the base set does not hold, and why no renderer reads them (the compiler never copies
# them into a plan). A new schema field fails test_every_string_field_is_exercised until it is
# put into tests/injection_base.py or listed here with its reason.
NOT_RENDERED = [
    (r":status\.", "status is written by controllers and never compiled"),
    (r":metadata\.(uid|resourceVersion|generateName|creationTimestamp|deletionTimestamp|selfLink"
     r"|finalizers|ownerReferences|managedFields)", "object bookkeeping, never compiled"),
    (r":metadata\.(labels|annotations)\.\*$", "label values are matched by selectors, never written"),
    (r"\.(requestFiltering|connectionFiltering|rateLimits|jwt)\.", "not compiled into plans"),
    (r"\.(httpConfig|proxyProtocolConfig|tlsConfig\.allowed(ECDHCurves|SignatureAlgorithms))",
     "not compiled into plans"),
    (r"LBBackendPool:spec\.(tlsConfig|healthCheck\.tlsConfig)\.", "backend TLS is not compiled"),
    (r"LBBackendPool:spec\.healthCheck\.(http|tcp)\.(send|receive)", "payload checks are not compiled"),
    (r"LBBackendPool:spec\.healthCheck\.http\.method", "an enum; compiled and checked by the renderer"),
    (r"LBBackendPool:spec\.backends\.\[\]\.(k8sServiceRef|status)",
     "k8sServiceRef names a Service (its endpoints' addresses are written); status is an enum"),
    (r"EndpointSlice:(endpoints\.\[\]\.(hostname|zone|nodeName)|ports\.\[\]\.appProtocol)",
     "topology and hints: never read"),
    (r"Endpoints:subsets\.\[\]\.(addresses|notReadyAddresses)\.\[\]\.(hostname|nodeName)", "never read"),
    (r"Endpoints:subsets\.\[\]\.notReadyAddresses\.", "not ready: never read"),
    (r"Endpoints:subsets\.\[\]\.ports\.\[\]\.(appProtocol|name|protocol)",
     "matched against the Service port (name, protocol enum), never written"),
    (r"LBService:spec\.applications\.(udpProxy|tcpProxy)\.forceDeploymentMode", "an enum that only picks tiers"),
    (r"LBService:spec\.applications\.udpProxy\.", "UDP is not served by tier 2; tier 1 reads the port only"),
    (r"LBDeployment:", "selectors only pick nodes (label keys/values, never written)"),
    (r"\.matchExpressions\.\[\]\.(values\.\[\]|operator|key)$", "selectors are matched, never written"),
    (r"IsovalentBGPPeerConfig:spec\.families\.\[\]\.advertisements\.", "a selector, never written"),
    (r"IsovalentBGPClusterConfig:spec\.nodeSelector\.", "a selector, never written"),
    (r"CiliumLoadBalancerIPPool:spec\.(serviceSelector\.|blocks\.\[\]\.(start|stop)$)",
     "a selector, and addresses parsed by ipaddress before use"),
    (r"Node:status\.addresses", "only InternalIP is read, parsed by ipaddress"),
    (r"Node:spec\.podCIDR$", "podCIDRs is read (and parsed) instead"),
    (r"Service:spec\.(clusterIP|clusterIPs|loadBalancerClass|externalTrafficPolicy|internalTrafficPolicy"
     r"|ipFamilies|ipFamilyPolicy|loadBalancerIP|ports\.\[\]\.appProtocol)", "Kubernetes fields cilium-lb does not read"),
    (r"Service:metadata\.annotations\.service\.cilium\.io/no-advertisement", "an enum"),
    (r"Service:spec\.sessionAffinity$", "an enum: picks the balance algorithm, never written"),
    (r"Secret:(binaryData|immutable)|ConfigMap:binaryData", "not read"),
    (r"IsovalentBGPAdvertisement:spec\.advertisements\.\[\]\.(advertisementType|service\.addresses)",
     "enums"),
    (r"IsovalentBGPAdvertisement:spec\.advertisements\.\[\]\.selector\.", "a selector, never written"),
    (r"^(CiliumLoadBalancerIPPool|IsovalentBFDProfile|IsovalentBGP\w+|Node):metadata\.namespace$",
     "cluster-scoped kinds: a namespace is not read"),
    (r"CiliumLoadBalancerIPPool:spec\.allowFirstLastIPs|IsovalentBFDProfile:spec\.echoFunction\.directions",
     "enums, not written"),
    # the Cilium OSS BGP kinds share the Isovalent kinds' builders and compile path
    (r"CiliumBGPPeerConfig:spec\.families\.\[\]\.advertisements\.", "a selector, never written"),
    (r"CiliumBGPClusterConfig:spec\.nodeSelector\.", "a selector, never written"),
    (r"CiliumBGPAdvertisement:spec\.advertisements\.\[\]\.(advertisementType|service\.addresses)", "enums"),
    (r"CiliumBGPAdvertisement:spec\.advertisements\.\[\]\.selector\.", "a selector, never written"),
    (r"^(CiliumBGP\w+):metadata\.namespace$", "cluster-scoped kinds: a namespace is not read"),
    (r"BGP\w+:.*\.(autoDiscovery|peerInterface|localAddress|sourceInterface|importPolicyRef|vrfs|routeReflector"
     r"|interface|maintenance)\b", "refused by the not-implemented rule, never compiled"),
    (r"BGPAdvertisement:spec\.advertisements\.\[\]\.attributes\.communities\.wellKnown", "an enum"),
    (r"BGPNodeConfigOverride:spec\.bgpInstances\.\[\]\.peers\.\[\]\.name$",
     "only names the peer a refused per-peer override is for; matched, never written"),
    (r"Pod:spec\.nodeName$", "compared with Node names, never written"),
    (r"Pod:metadata\.(name|namespace)$", "reaches only nftables' JSON API as a rule comment, JSON-encoded "
     "and checked against the plan's namespace/name pattern (tests/test_network_desired.py)"),
]


def _not_rendered(fid: str) -> str | None:
    return next((why for pat, why in NOT_RENDERED if re.search(pat, fid)), None)


def instances(docs: list[dict], kind: str, path: tuple) -> Iterator[tuple[int, tuple]]:
    """(document index, concrete path) of every string value at `path` in documents of `kind`."""
    def walk(node: Any, rest: tuple, done: tuple) -> Iterator[tuple]:
        if not rest:
            if isinstance(node, str):
                yield done
            return
        head, tail = rest[0], rest[1:]
        if head == "[]" and isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, tail, done + (i,))
        elif head == "*" and isinstance(node, dict):
            for k in sorted(node):
                yield from walk(node[k], tail, done + (k,))
        elif isinstance(node, dict) and head in node:
            yield from walk(node[head], tail, done + (head,))

    for i, d in enumerate(docs):
        if d.get("kind") == kind:
            for p in walk(d, path, ()):
                yield i, p


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


def _set(doc: dict, path: tuple, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


# ---------------------------------------------------------------- render and check
@dataclasses.dataclass
class Output:
    haproxy: str
    users: str
    files: dict[str, bytes]
    bird: str

    def shape(self) -> dict:
        """What must not change: the directive sequence of each file (first word per line),
        and how many certificate lines each crt-list and users each map holds."""
        def words(text: str) -> list[str]:
            return [ln.split()[0] for ln in text.splitlines() if ln.strip()]
        return {"haproxy": words(self.haproxy), "users": words(self.users), "bird": words(self.bird),
                "files": {k: (v.count(b"\n") if k.endswith((".txt", ".map")) else 1)
                          for k, v in sorted(self.files.items())}}


def render_plans(plans: dict, secrets: dict, base: str) -> Output:
    r = render(l7_model(plans[T2]), secrets.get(T2, {}), base, T2)
    model = bgp_model(plans[T1], secrets.get(T1, {}))
    bird = render_bird_conf(model, log_file=f"{base}/bird.log") if model else ""
    return Output(r.config, r.users, {k: v.content for k, v in r.files.items()}, bird)


def daemons_accept(out: Output, base: str) -> None:
    """haproxy -c and bird -p on the files as the agent writes them under `base`."""
    root = Path(base)
    for rel, content in out.files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    (root / "haproxy.cfg").write_text(out.haproxy)
    (root / "users.cfg").write_text(out.users)
    p = subprocess.run([HAPROXY, "-c", "-q", "-f", str(root / "haproxy.cfg"), "-f", str(root / "users.cfg")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    (root / "bird.conf").write_text(out.bird)
    p = subprocess.run([BIRD, "-p", "-c", str(root / "bird.conf")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


@functools.lru_cache(maxsize=None)
def base_dir() -> str:
    return tempfile.mkdtemp(prefix="cilium-lb-injection-")


@functools.lru_cache(maxsize=None)
def base_output() -> tuple[Output, dict, dict]:
    report = lint_texts({FILE: dump(base_docs())})
    # the v1 LoadBalancer Services are served (tier 1, a tcpProxy listener, the pool of their
    # endpoints): their strings reach every section of the plan
    assert [p for p in report.problems if p.severity >= Severity.ERROR] == []
    compiled = compiled_json(report.index)
    return render_plans(compiled.plans, compiled.secrets, base_dir()), compiled.plans, compiled.secrets


def assert_safe(out: Output) -> None:
    """Same directives as the base rendering; when the text differs, the daemons accept it."""
    base, _, _ = base_output()
    assert out.shape() == base.shape(), "directives changed"
    if (out.haproxy, out.users, out.files, out.bird) != (base.haproxy, base.users, base.files, base.bird):
        shutil.rmtree(base_dir(), ignore_errors=True)  # the rendering names files under it
        Path(base_dir()).mkdir()
        daemons_accept(out, base_dir())


def _line_of(docs: list[dict], doc: int, path: tuple) -> int:
    marked = clone(docs)
    sentinel = "sentinel-value-0000"
    _set(marked[doc], path, sentinel)
    return next(i for i, ln in enumerate(dump(marked).splitlines(), start=1) if sentinel in ln)


# ---------------------------------------------------------------- tests
def test_base_set_is_clean_and_reaches_every_renderer_feature():
    out, plans, _ = base_output()
    cfg = out.haproxy
    for needle in ("balance hdr(sticky)", "req.cook(session)", "path -m str /exact", "path -m beg /api/",
                   "hdr host api.internal", "uri /ready?full=1", "ssl_c_s_dn(CN) -m str client.acme.io",
                   "ciphers ECDHE-ECDSA-AES128-GCM-SHA256", "resolvers rs_default_ext", "-m end .example.org",
                   "req.ssl_sni,lower -m str deathstar.empire.galaxy", "http_auth(ul_default_base-users)"):
        assert needle in cfg, needle
    assert 'password "md5-Injection-pw";' in out.bird
    assert "bgp_large_community.add((64512,1,2));" in out.bird and "bgp_local_pref = 200;" in out.bird
    assert 'description "instance0/peer0";' in out.bird


def test_every_string_field_is_exercised_or_known_not_to_reach_a_renderer():
    docs = base_docs()
    missing, stale = [], set(pat for pat, _ in NOT_RENDERED)
    for kind, path in string_fields():
        fid = field_id(kind, path)
        for pat, _ in NOT_RENDERED:
            if re.search(pat, fid):
                stale.discard(pat)
        if next(instances(docs, kind, path), None) is None and _not_rendered(fid) is None:
            missing.append(fid)
    assert not missing, "string fields neither in tests/injection_base.py nor in NOT_RENDERED:\n" + "\n".join(missing)
    assert not stale, f"NOT_RENDERED entries that match no field: {sorted(stale)}"


def _exercised() -> list[tuple[str, tuple]]:
    docs = base_docs()
    return [(k, p) for k, p in string_fields() if next(instances(docs, k, p), None) is not None]


# what rules check where a Secret is used (they point at the reference, not at the Secret)
AT_REFERENCE = re.compile(r"^Secret:((data|stringData)\.\*|type)$")


@needs_daemons
@pytest.mark.parametrize("kind, path", _exercised(), ids=[field_id(k, p) for k, p in _exercised()])
def test_hostile_value_fails_validation_or_renders_safely(kind, path):
    fid = field_id(kind, path)
    docs = base_docs()
    cache = [dump_doc(d) for d in docs]
    doc, where = next(instances(docs, kind, path))
    line = _line_of(docs, doc, where)
    original = _get(docs[doc], where)
    for value in hostile_values(original):
        mutated = clone(docs)
        _set(mutated[doc], where, value)
        report = lint_texts({FILE: dump(mutated, cache, doc)})
        errors = [p for p in report.problems if p.severity >= Severity.ERROR]
        if errors:
            if not AT_REFERENCE.match(fid):
                assert any(p.line == line for p in errors), (
                    f"{fid} = {value[:40]!r}: errors, but none at line {line}: "
                    + "; ".join(f"{p.line}:{p.rule}:{p.message[:80]}" for p in errors))
            continue
        compiled = compiled_json(report.index)
        try:
            out = render_plans(compiled.plans, compiled.secrets, base_dir())
        except (L7RenderError, BgpModelError) as e:  # pragma: no cover - the schema/rules missed it
            pytest.fail(f"{fid} = {value[:40]!r} validated but the renderer refused it: {e}")
        try:
            assert_safe(out)
        except AssertionError as e:
            raise AssertionError(f"{fid} = {value[:40]!r}: {e}") from None


# ---------------------------------------------------------------- behind validation
def _plan_strings(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, str):
        yield path
    elif isinstance(node, dict):
        for k in sorted(node):
            yield from _plan_strings(node[k], path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _plan_strings(v, path + (i,))


def _plan_fields() -> list[tuple[str, tuple]]:
    _, plans, _ = base_output()
    out = set()
    for node, section in ((T2, "tier2"), (T1, "bgp"), (T2, "node"), (T1, "node")):
        out |= {(node, (section,) + p) for p in _plan_strings(plans[node][section])}
    return sorted(out, key=str)


def _refused_or_safe(make_output) -> None:
    try:
        out = make_output()
    except (L7RenderError, BgpModelError):
        return
    assert_safe(out)


@needs_daemons
@pytest.mark.parametrize("node, path", _plan_fields(),
                         ids=[f"{n}:" + "/".join(map(str, p)) for n, p in _plan_fields()])
def test_renderers_refuse_or_escape_hostile_plan_values(node, path):
    """A plan edited by hand (or by a compiler bug): no validation ran."""
    fid = f"{node}:{path}"
    _, plans, secrets = base_output()
    for value in hostile_values(_get(plans[node], path)):
        mutated = copy.deepcopy(plans)
        _set(mutated[node], path, value)
        try:
            _refused_or_safe(lambda: render_plans(mutated, secrets, base_dir()))
        except (KeyError, ValueError, TypeError) as e:
            if isinstance(e, (L7RenderError, BgpModelError)):
                raise
            # the plan reader refused the shape (e.g. a non-numeric port): refused, not written
            continue
        except AssertionError as e:
            raise AssertionError(f"{fid} = {value[:40]!r}: {e}") from None


def _model_strings(obj: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(obj, str):
        yield path
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            if f.name != "passwords":
                yield from _model_strings(getattr(obj, f.name), path + (f.name,))
    elif isinstance(obj, tuple):
        for i, v in enumerate(obj):
            yield from _model_strings(v, path + (i,))


def _replace(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, tuple):
        return obj[:head] + (_replace(obj[head], rest, value),) + obj[head + 1:]
    return dataclasses.replace(obj, **{head: _replace(getattr(obj, head), rest, value)})


def _models() -> tuple[L7Model, BgpModel]:
    _, plans, secrets = base_output()
    return l7_model(plans[T2]), bgp_model(plans[T1], secrets[T1])


def _model_fields() -> list[str]:
    l7, bgp = _models()
    return ([f"l7:{'/'.join(map(str, p))}" for p in _model_strings(l7)]
            + [f"bgp:{'/'.join(map(str, p))}" for p in _model_strings(bgp)] + ["bgp:password"])


@needs_daemons
@pytest.mark.parametrize("fid", _model_fields())
def test_renderers_refuse_or_escape_hostile_model_values(fid):
    """The typed models built by hand: the renderers are the last line."""
    which, _, dotted = fid.partition(":")
    path = tuple(int(p) if p.isdigit() else p for p in dotted.split("/"))
    l7, bgp = _models()
    base, _, secrets = base_output()
    for value in hostile_values("md5-Injection-pw" if fid == "bgp:password" else
                                _get_attr(l7 if which == "l7" else bgp, path)):
        def make() -> Output:
            m7, mb = l7, bgp
            if which == "l7":
                m7 = _replace(l7, path, value)
            elif fid == "bgp:password":
                mb = dataclasses.replace(bgp, passwords={k: value for k in bgp.passwords})
            else:
                mb = _replace(bgp, path, value)
            r = render(m7, secrets[T2], base_dir(), T2)
            return Output(r.config, r.users, {k: v.content for k, v in r.files.items()},
                          render_bird_conf(mb, log_file=f"{base_dir()}/bird.log"))
        try:
            _refused_or_safe(make)
        except AssertionError as e:
            raise AssertionError(f"{fid} = {value[:40]!r}: {e}") from None


def _get_attr(obj: Any, path: tuple) -> Any:
    for p in path:
        obj = obj[p] if isinstance(obj, tuple) else getattr(obj, p)
    return obj


# ---------------------------------------------------------------- the escaping itself
@pytest.mark.daemons
@pytest.mark.skipif(HAPROXY is None, reason="needs haproxy")
def test_haproxy_reads_escaped_names_back_as_written(tmp_path):
    """Header and cookie names with the token characters HAProxy's parser treats specially
    (`#`, `'`, `$`) reach the fetch intact: a running HAProxy echoes what it extracted."""
    import socket

    from lbcli.agent.l7.render import _arg, _word

    cookie, header, path = "a'b#c$d", "x#y'z", "/it's$here"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "h.cfg"
    cfg.write_text("\n".join([
        "defaults", "    mode http", "    timeout connect 5s", "    timeout client 5s", "    timeout server 5s",
        "frontend f", f"    bind 127.0.0.1:{port}",
        "    http-request set-var(txn.c) " + _word(f"req.cook({_arg(cookie)})"),
        "    http-request set-var(txn.h) " + _word(f"req.hdr({_arg(header)})"),
        f"    acl p path -m str {_word(path)}",
        '    http-request return status 200 content-type text/plain lf-string "%[var(txn.c)]|%[var(txn.h)]" if p',
        "    http-request return status 404", ""]))
    proc = subprocess.Popen([HAPROXY, "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        import time

        deadline = time.monotonic() + 10
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "haproxy did not start"
                time.sleep(0.05)
        with conn:
            conn.sendall(f"GET {path} HTTP/1.0\r\nCookie: {cookie}=C1\r\n{header}: H1\r\n\r\n".encode())
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"C1|H1"), reply
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_word_refuses_control_characters_and_escapes_the_rest():
    from lbcli.agent.l7.render import _word

    assert _word("/plain/path") == "/plain/path"
    assert _word("/a b#c'd\"e\\f") == "/a\\ b\\#c\\'d\\\"e\\\\f"
    for bad in ("\n", "\r", "\0", "\x1b", "\x7f"):
        with pytest.raises(L7RenderError):
            _word("/a" + bad)


def test_grammar_findings_name_the_problem_not_the_value():
    from lbcli import grammar as G

    assert G.HEADER_NAME.problem("sticky\nserver evil") == (
        f"must be {G.HEADER_NAME.noun}; it has a line break at character 7 (18 characters)")
    assert "10240 characters long" in G.URL_PATH.problem("/" + "x" * 10239)
    secret = G.BGP_PASSWORD.problem('Zq"Zq', secret=True)
    assert "double quote" in secret and "Zq" not in secret and "character 3" not in secret
    assert collections.Counter(g.id for g in G.GRAMMARS.values()).most_common(1)[0][1] == 1
