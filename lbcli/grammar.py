"""The grammar of every string that reaches a generated configuration, defined once.

The schema generator turns each `Grammar` into a JSON Schema `pattern` + `maxLength` + the
custom keyword `x-grammar` (its noun phrase, for findings in the user's words); lint rules
check what a schema cannot see (decoded Secret content) with `problem()`; the renderers check
every value again with `match()` before interpolating it (defence in depth: a renderer never
assumes the schema ran).

Patterns are anchored (`^...$`) and written in the common subset of ECMA-262, Python `re` and
Rust `regex`, so one text serves JSON Schema validators and this module. Python's `$` also
matches before a final newline; `match()` uses `re.fullmatch`, which does not.

Plain module: it imports nothing from lint, compile or agent, so a node may use it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Grammar", "GRAMMARS", "describe_problem"]


@dataclass(frozen=True)
class Grammar:
    """A named string grammar: what a value must look like, and how to say so."""

    id: str
    pattern: str  # anchored, ECMA-262 compatible
    noun: str  # completes "must be ...", e.g. "an HTTP header name (RFC 9110 token)"
    max_len: int
    min_len: int = 1

    def __post_init__(self) -> None:
        assert self.pattern.startswith("^") and self.pattern.endswith("$"), self.id

    @functools.cached_property
    def _re(self) -> re.Pattern:
        # compiled on first use: every CLI start imports this module, few runs match every grammar
        return re.compile(self.pattern[1:-1])

    def match(self, value: object) -> bool:
        return (isinstance(value, str) and self.min_len <= len(value) <= self.max_len
                and self._re.fullmatch(value) is not None)

    def problem(self, value: object, *, secret: bool = False) -> str | None:
        """None when `value` is in the grammar, else "must be <noun>" and what is wrong; a
        secret value is described by its length and the kind of character only."""
        if self.match(value):
            return None
        return f"must be {self.noun}; {describe_problem(value, self, secret=secret)}"

    def schema(self) -> dict:
        """The JSON Schema keywords for a string in this grammar."""
        s: dict = {"pattern": self.pattern}
        if self.min_len:
            s["minLength"] = self.min_len
        s["maxLength"] = self.max_len
        s["x-grammar"] = self.noun
        return s


_NAMED = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\0": "a NUL byte",
          " ": "a space", '"': "a double quote", "'": "a single quote", "\\": "a backslash",
          "\x1b": "an escape character (ANSI sequence)"}


def _char_name(c: str) -> str:
    if c in _NAMED:
        return _NAMED[c]
    if ord(c) < 0x20 or ord(c) == 0x7F or 0x80 <= ord(c) < 0xA0:
        return f"a control character (U+{ord(c):04X})"
    if ord(c) > 0x7E:
        return f"a non-ASCII character (U+{ord(c):04X})"
    return f"'{c}'"


def describe_problem(value: object, grammar: Grammar, *, secret: bool = False) -> str:
    """Why `value` is outside `grammar`, without quoting it: its length, or the first
    character the grammar never accepts (with its position unless the value is secret)."""
    if not isinstance(value, str):
        return f"got {type(value).__name__}"
    n = len(value)
    if n < grammar.min_len:
        return "it is empty"
    if n > grammar.max_len:
        return f"it is {n} characters long (at most {grammar.max_len})"
    for i, c in enumerate(value):
        if not _accepts_char(grammar, c):
            where = "" if secret else f" at character {i + 1}"
            return f"it has {_char_name(c)}{where} ({n} characters)"
    return f"its form is wrong ({n} characters)"


_PROBES = ("{}", "a{}a", "a{}", "/{}", "/a{}a", "a.a{}a", "0{}0", "$a{}a", "0:0{}")


def _accepts_char(grammar: Grammar, c: str) -> bool:
    """Whether `c` occurs in some value of the grammar (probed in a few contexts)."""
    return any(grammar._re.fullmatch(p.format(c)) for p in _PROBES)


# ---------------------------------------------------------------- building blocks
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4_RE = rf"{_OCTET}(\.{_OCTET}){{3}}"
# Loose on purpose (no IPv4-mapped forms); exact parsing happens in lint rules / ipaddress.
IPV6_RE = r"[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}"
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_HOST_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"  # RFC 1123, any case
U16_RE = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)"
_TCHAR = r"[-!#$%&'*+.^_`|~0-9A-Za-z]"  # RFC 9110 5.6.2
_PCHAR = r"([-A-Za-z0-9._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"  # RFC 3986 pchar


def _g(id_: str, pattern: str, noun: str, max_len: int, min_len: int = 1) -> Grammar:
    return Grammar(id_, f"^{pattern}$", noun, max_len, min_len)


# ---------------------------------------------------------------- the grammars
K8S_NAME = _g("k8s-name", rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*",
              "a Kubernetes name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.')", 253)
K8S_NAMESPACE = _g("k8s-namespace", _DNS1123_LABEL,
                   "a Kubernetes namespace (DNS-1123 label: lowercase letters, digits and '-')", 63)
DNS_LABEL = _g("dns-label", _DNS1123_LABEL, "a DNS-1123 label (lowercase letters, digits and '-')", 63)
PORT_NAME = _g("port-name", _DNS1123_LABEL, "a port name (DNS-1123 label, at most 15 characters)", 15)
# backend host names (Hostname pools): what HAProxy resolves
DNS_NAME = _g("dns-name", rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*",
              "a DNS name (lowercase letters, digits, '-' and '.')", 253)
# route host names: exact, "*.suffix" or the lone "*" (matched against Host / SNI, lowercased)
ROUTE_HOST = _g("route-host", rf"(\*|(\*\.)?{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*)",
                'a host name (lowercase DNS name, "*.suffix" or "*")', 253)
# a Host header value for health checks: a DNS name or IPv4 address, optionally ":port"
HTTP_HOST = _g("http-host", rf"{_HOST_LABEL}(\.{_HOST_LABEL})*(:{U16_RE})?",
               "a host name (DNS name or IPv4 address, optionally :port)", 253)
# a subject alternative name of a client certificate: a DNS name, "*." only as its first label
SAN_DNS = _g("san-dns", rf"(\*\.)?{_HOST_LABEL}(\.{_HOST_LABEL})*",
             'a DNS name (letters, digits, \'-\' and \'.\'; a leading "*." allowed)', 253)
# a host name suffix for request filtering: "example.com" or ".example.com"
DNS_SUFFIX = _g("dns-suffix", rf"\.?{_HOST_LABEL}(\.{_HOST_LABEL})*",
                "a DNS name suffix (e.g. example.com or .example.com)", 253)
HEADER_NAME = _g("header-name", f"{_TCHAR}+",
                 "an HTTP header name (RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~)", 256)
COOKIE_NAME = _g("cookie-name", f"{_TCHAR}+",
                 "a cookie name (RFC 6265 token: letters, digits and !#$%&'*+-.^_`|~)", 256)
URL_PATH = _g("url-path", f"/({_PCHAR}|/)*",
              "a URL path (RFC 3986: starts with '/'; no spaces, '\"', '#', '?' or control "
              "characters; %XX escapes allowed)", 2048)
# a request target for health checks: a path and an optional query
URL_PATH_QUERY = _g("url-path-query", rf"/({_PCHAR}|/)*(\?({_PCHAR}|[/?])*)?",
                    "a URL path with an optional ?query (RFC 3986: starts with '/'; no spaces, "
                    "'\"', '#' or control characters)", 2048)
TLS_NAME = _g("tls-name", r"[A-Za-z0-9_.+-]+",
              "an OpenSSL name (letters, digits and _.+-, e.g. ECDHE-ECDSA-AES128-GCM-SHA256)", 128)
IPV4 = _g("ipv4", IPV4_RE, "an IPv4 address", 15)
IPV6 = _g("ipv6", IPV6_RE, "an IPv6 address", 39)
IPV4_CIDR = _g("ipv4-cidr", rf"{IPV4_RE}/(3[0-2]|[12]?[0-9])", "an IPv4 prefix (CIDR)", 18)
IPV6_CIDR = _g("ipv6-cidr", rf"{IPV6_RE}/(12[0-8]|1[01][0-9]|[1-9]?[0-9])", "an IPv6 prefix (CIDR)", 43)
IP_NOUN = "an IP address (IPv4 or IPv6)"
CIDR_NOUN = "an IP prefix in CIDR notation (e.g. 10.0.0.0/24)"
LBIPAM_IPS = _g("lbipam-ips", rf"\s*({IPV4_RE}|{IPV6_RE})(\s*,\s*({IPV4_RE}|{IPV6_RE}))*\s*",
                "a comma-separated list of IP addresses", 4096)
STANDARD_COMMUNITY = _g("standard-community", rf"([0-9]{{1,10}}|{U16_RE}:{U16_RE})",
                        'a BGP community ("65000:100" or a 32-bit number)', 11)
LARGE_COMMUNITY = _g("large-community", r"[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}",
                     'a BGP large community ("a:b:c", three 32-bit numbers)', 32)
# BGP instance/peer names (upstream takes any string): they name BIRD protocols (mapped to
# symbols) and appear quoted in descriptions; spaces inside are fine ("ipv6 65000" in Cilium's
# own examples), quotes, braces, '#' and the like are refused
BGP_NAME = _g("bgp-name", r"[A-Za-z0-9]([-A-Za-z0-9_. ]*[A-Za-z0-9])?",
              "a name (letters, digits, spaces, '-', '_' and '.'; starts and ends with a letter or digit)",
              255)
# TCP-MD5 (RFC 2385) password: BIRD strings have no escapes, the kernel takes 80 bytes at most
BGP_PASSWORD = _g("bgp-password", r"[ !#-&(-\[\]-~]+",
                  "a BGP password (1-80 printable ASCII characters without quotes or backslashes)", 80)
# htpasswd user names HAProxy userlists can hold
HTPASSWD_USER = _g("htpasswd-user", r"[A-Za-z0-9._@+-]+",
                   "a user name (letters, digits and ._@+-)", 256)
# crypt(3) hashes as HAProxy userlists hold them ($id$[params$]salt$hash)
CRYPT_HASH = _g("crypt-hash", r"\$[A-Za-z0-9./$=,*+-]+", "a crypt(3) password hash", 1024)
QUALIFIED_KEY = _g("label-key",
                   rf"({_DNS1123_LABEL}(\.{_DNS1123_LABEL})*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?",
                   "a label key (optional DNS prefix and '/', then letters, digits, '-', '_' and '.')",
                   316)
LABEL_VALUE = _g("label-value", r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
                 "a label value (at most 63 letters, digits, '-', '_' and '.')", 63, 0)
SECRET_KEY = _g("secret-key", r"[-._a-zA-Z0-9]+", "a Secret key (letters, digits, '-', '_' and '.')", 253)
# Go's base64 decoder (what the API server uses for Secret.data) skips CR/LF.
BASE64 = _g("base64", r"[A-Za-z0-9+/\r\n]*=?=?[\r\n]*", "base64 text", 1 << 22, 0)
HEX_BYTES = _g("hex-bytes", r"([0-9A-Fa-f]{2})+", "hex-encoded bytes (pairs of hex digits)", 8192)
OID = _g("oid", r"[0-9]+(\.[0-9]+)+", "an object identifier (dotted numbers, e.g. 1.3.6.1.4.1.311)", 256)
HTTP_URI = _g("http-uri", r"https?://[!#-~]+", "an http:// or https:// URI without spaces", 2048)
# anything else a person writes (descriptions, match values, issuers): one line, printable
TEXT = _g("text", r"[^\x00-\x1f\x7f]+", "text without control characters or line breaks", 1024)

GRAMMARS: dict[str, Grammar] = {g.id: g for g in (
    K8S_NAME, K8S_NAMESPACE, DNS_LABEL, PORT_NAME, DNS_NAME, ROUTE_HOST, HTTP_HOST, SAN_DNS, DNS_SUFFIX,
    HEADER_NAME, COOKIE_NAME, URL_PATH, URL_PATH_QUERY, TLS_NAME, IPV4, IPV6, IPV4_CIDR, IPV6_CIDR,
    LBIPAM_IPS, STANDARD_COMMUNITY, LARGE_COMMUNITY, BGP_NAME, BGP_PASSWORD, HTPASSWD_USER,
    CRYPT_HASH, QUALIFIED_KEY, LABEL_VALUE, SECRET_KEY, BASE64, HEX_BYTES, OID, HTTP_URI, TEXT,
)}


def object_ref_problem(ref: object) -> str | None:
    """A plan's "namespace/name" reference: None when both parts are in their grammars."""
    if not isinstance(ref, str) or ref.count("/") != 1:
        return 'must be "namespace/name"'
    ns, name = ref.split("/")
    return K8S_NAMESPACE.problem(ns) or K8S_NAME.problem(name)


def service_ref_problem(ref: object) -> str | None:
    """A plan's service or pool key: "namespace/name" (an LBService, an LBBackendPool) or
    "namespace/name:port" (one TCP port of a v1 Service of type LoadBalancer; Kubernetes names
    hold no ':', so the two never collide)."""
    if isinstance(ref, str) and ":" in ref:
        ref, _, port = ref.rpartition(":")
        if not (port.isdigit() and port[0] != "0" and 1 <= int(port) <= 65535 and port.isascii()):
            return 'must be "namespace/name" or "namespace/name:port"'
    return object_ref_problem(ref)
