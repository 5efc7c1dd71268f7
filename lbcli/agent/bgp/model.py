"""Typed, checked BGP model built from a plan's `bgp` section (see docs/plan-format.md).

The plan is already validated by the compiler; this layer checks what BIRD's configuration
language needs on top (identifiers, community ranges, passwords it can quote) so the renderer
never emits a file `bird -p` would reject for a reason the user cannot see.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from lbcli import grammar as G
from lbcli.plan import types as T
from lbcli.model.bgp import CHANNELS, WELL_KNOWN_COMMUNITIES  # noqa: F401  (render imports CHANNELS)

SECRET_PASSWORD_KEY = "password"  # key of the auth Secret holding the TCP-MD5 password
_MAX_SYMBOL = 60  # BIRD symbols are at most 64 characters


class BgpModelError(ValueError):
    """The plan's bgp section cannot be carried out by BIRD; the message names the field."""


@dataclass(frozen=True)
class Timers:
    connect_retry: int = 120
    hold: int = 90
    keepalive: int = 30


@dataclass(frozen=True)
class GracefulRestart:
    enabled: bool = False
    restart_time: int = 120


@dataclass(frozen=True)
class Bfd:
    profile: str
    receive_ms: int = 300
    transmit_ms: int = 300
    multiplier: int = 3
    minimum_ttl: int = 255

    @property
    def detection_ms(self) -> int:
        return self.receive_ms * self.multiplier


@dataclass(frozen=True)
class Advertisement:
    prefix: str  # normalised network, e.g. "100.64.0.101/32"
    services: tuple[str, ...]  # the plan's "namespace/name" of each service behind the prefix
    communities: tuple[tuple[int, int], ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
    local_preference: int | None = None

    @property
    def version(self) -> int:
        return ipaddress.ip_network(self.prefix).version

    @property
    def attributes(self) -> tuple:
        """What the export filter sets; prefixes sharing it share one filter branch."""
        return (self.communities, self.large_communities, self.local_preference)


@dataclass(frozen=True)
class Peer:
    instance: str
    name: str
    protocol: str  # BIRD protocol name, unique on the node
    address: str
    asn: int
    port: int
    local_asn: int
    local_port: int
    router_id: str
    timers: Timers
    graceful_restart: GracefulRestart
    ebgp_multihop: int | None
    auth_ref: str | None
    auth_sha256: str | None
    bfd: Bfd | None
    channels: tuple[str, ...]
    advertisements: tuple[Advertisement, ...]

    @property
    def ibgp(self) -> bool:
        return self.asn == self.local_asn

    @property
    def key(self) -> str:
        return f"{self.instance}/{self.name}"

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(a.prefix for a in self.advertisements)

    def summary(self) -> dict[str, Any]:
        """A secret-free description, stored as last-applied and compared by diff()."""
        return {
            "address": self.address, "asn": self.asn, "port": self.port,
            "localASN": self.local_asn, "localPort": self.local_port, "routerId": self.router_id,
            "timers": [self.timers.connect_retry, self.timers.hold, self.timers.keepalive],
            "gracefulRestart": [self.graceful_restart.enabled, self.graceful_restart.restart_time],
            "ebgpMultihop": self.ebgp_multihop,
            "auth": None if self.auth_ref is None else [self.auth_ref, self.auth_sha256],
            "bfd": None if self.bfd is None else [self.bfd.profile, self.bfd.receive_ms,
                                                  self.bfd.transmit_ms, self.bfd.multiplier,
                                                  self.bfd.minimum_ttl],
            "channels": list(self.channels),
            "prefixes": {a.prefix: [list(a.services), [f"{x}:{y}" for x, y in a.communities],
                                    [f"{x}:{y}:{z}" for x, y, z in a.large_communities],
                                    a.local_preference] for a in self.advertisements},
        }


@dataclass(frozen=True)
class BgpModel:
    node: str
    local_address: str | None
    router_id: str
    peers: tuple[Peer, ...]  # sorted by (instance, peer name)
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Every prefix announced to some peer, sorted by address."""
        nets = {a.prefix for p in self.peers for a in p.advertisements}
        return tuple(sorted(nets, key=net_key))

    def summary(self) -> dict[str, Any]:
        return {"node": self.node, "routerId": self.router_id, "localAddress": self.local_address,
                "peers": {p.key: p.summary() for p in self.peers}}


def net_key(prefix: str) -> tuple:
    net = ipaddress.ip_network(prefix)
    return (net.version, int(net.network_address), net.prefixlen)


def _symbol(*parts: str, taken: set[str]) -> str:
    base = "bgp_" + "_".join(re.sub(r"[^A-Za-z0-9_]", "_", p) for p in parts)
    base = base[:_MAX_SYMBOL]
    name, i = base, 2
    while name in taken:  # two peers whose names differ only in punctuation
        suffix = f"_{i}"
        name, i = base[: _MAX_SYMBOL - len(suffix)] + suffix, i + 1
    taken.add(name)
    return name


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BgpModelError(f"{what}: expected an integer in {lo}..{hi}, got {value!r}")
    return value


def _address(value: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as e:
        raise BgpModelError(f"{what}: {e}") from None


def _community(text: Any, what: str) -> tuple[int, int]:
    if isinstance(text, str) and text in WELL_KNOWN_COMMUNITIES:
        return WELL_KNOWN_COMMUNITIES[text]
    m = re.fullmatch(r"(\d+):(\d+)", str(text))
    if m and all(int(g) <= 0xFFFF for g in m.groups()):
        return int(m[1]), int(m[2])
    if re.fullmatch(r"\d{1,10}", str(text)) and int(text) <= 0xFFFFFFFF:  # RFC 1997's 32-bit form
        return int(text) >> 16, int(text) & 0xFFFF
    raise BgpModelError(f"{what}: {text!r} is not a standard community (0-65535:0-65535 or a 32-bit number)")


def _large_community(text: Any, what: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"(\d+):(\d+):(\d+)", str(text))
    if not m or any(int(g) > 0xFFFFFFFF for g in m.groups()):
        raise BgpModelError(f"{what}: {text!r} is not a large community (three 32-bit numbers)")
    return int(m[1]), int(m[2]), int(m[3])


def _password(ref: str, secrets: Mapping[str, Mapping[str, Any]], what: str) -> str:
    material = secrets.get(ref)
    if material is None or SECRET_PASSWORD_KEY not in material:
        raise BgpModelError(f"{what}: secret {ref!r} with key {SECRET_PASSWORD_KEY!r} was not "
                            "handed to the agent")
    raw = material[SECRET_PASSWORD_KEY]
    try:
        pw = raw.decode() if isinstance(raw, (bytes, bytearray)) else str(raw)
    except UnicodeDecodeError:
        raise BgpModelError(f"{what}: password in secret {ref!r} is not UTF-8") from None
    # BIRD strings have no escapes; the kernel caps TCP-MD5 keys at 80 bytes
    problem = G.BGP_PASSWORD.problem(pw, secret=True)
    if problem:
        raise BgpModelError(f"{what}: password in secret {ref!r} {problem}")
    return pw


def _name(value: Any, what: str) -> str:
    """An instance or peer name: it names BIRD protocols and appears in descriptions."""
    problem = G.BGP_NAME.problem(value)
    if problem:
        raise BgpModelError(f"{what}.name: {problem}")
    return value


def _advertisement(raw: T.Prefix, what: str) -> Advertisement:
    try:
        net = ipaddress.ip_network(raw.prefix, strict=True)
    except ValueError as e:
        raise BgpModelError(f"{what}.prefix: {e}") from None
    lp = raw.local_preference
    return Advertisement(
        prefix=str(net),
        services=tuple(str(x) for x in raw.services),
        communities=tuple(sorted({_community(c, f"{what}.communities") for c in raw.communities})),
        large_communities=tuple(sorted({_large_community(c, f"{what}.largeCommunities")
                                        for c in raw.large_communities})),
        local_preference=None if lp is None else _int(lp, f"{what}.localPreference", 0, 2**32 - 1),
    )


def model_from_plan(plan: T.NodePlan | Mapping[str, Any], secrets: Mapping[str, Mapping[str, Any]] | None = None
                    ) -> BgpModel | None:
    """The node's BGP model from the typed plan, or None when the plan has no bgp section
    (nothing to announce). A plan in its JSON form is read through the plan types first
    (PlanFormatError when it is not a plan); the values BIRD gets are checked again here."""
    if not isinstance(plan, T.NodePlan):
        plan = T.NodePlan.from_json(plan)
    bgp = plan.bgp
    if bgp is None:
        return None
    secrets = secrets or {}
    node_name = str(plan.node.name)
    if not G.K8S_NAME.match(node_name):
        raise BgpModelError(f"node.name: {G.K8S_NAME.problem(node_name)}")
    local_address = plan.node.internal_ip
    if local_address is not None:
        local_address = _address(local_address, "node.internalIP")
    peers: list[Peer] = []
    passwords: dict[str, str] = {}
    taken: set[str] = set()
    instances = sorted(bgp.instances, key=lambda i: str(i.name))
    for inst in instances:
        iw = f"bgp.instances[{inst.name}]" if G.BGP_NAME.match(inst.name) else f"bgp.instances[{inst.name!r}]"
        _name(inst.name, iw)
        local_asn = _int(inst.local_asn, f"{iw}.localASN", 1, 2**32 - 1)
        router_id = _address(inst.router_id or local_address, f"{iw}.routerId")
        local_port = _int(inst.local_port, f"{iw}.localPort", 1, 65535)
        for raw in sorted(inst.peers, key=lambda p: str(p.name)):
            pw_ = f"{iw}.peers[{raw.name}]" if G.BGP_NAME.match(raw.name) else f"{iw}.peers[{raw.name!r}]"
            _name(raw.name, pw_)
            t = raw.timers
            timers = Timers(
                connect_retry=_int(t.connect_retry_seconds, f"{pw_}.timers.connectRetrySeconds", 1, 65535),
                hold=_int(t.hold_time_seconds, f"{pw_}.timers.holdTimeSeconds", 3, 65535),
                keepalive=_int(t.keep_alive_seconds, f"{pw_}.timers.keepAliveSeconds", 1, 65535),
            )
            if timers.keepalive > timers.hold:
                raise BgpModelError(f"{pw_}.timers: keepAlive {timers.keepalive}s exceeds holdTime {timers.hold}s")
            g = raw.graceful_restart
            gr = GracefulRestart(bool(g.enabled),
                                 _int(g.restart_time_seconds, f"{pw_}.gracefulRestart.restartTimeSeconds", 1, 4095))
            mh = raw.ebgp_multihop
            mh = None if mh is None else _int(mh, f"{pw_}.ebgpMultihop", 1, 255)
            auth_ref = auth_sha = None
            if raw.auth is not None:
                auth_ref, auth_sha = str(raw.auth.secret_ref), raw.auth.sha256
                passwords[auth_ref] = _password(auth_ref, secrets, f"{pw_}.auth")
            b = raw.bfd
            bfd = None
            if b is not None:
                profile = str(b.profile or "default")
                if not G.K8S_NAME.match(profile):
                    raise BgpModelError(f"{pw_}.bfd.profile: {G.K8S_NAME.problem(profile)}")
                bfd = Bfd(profile=profile,
                          receive_ms=_int(b.receive_interval_ms, f"{pw_}.bfd.receiveIntervalMs", 10, 60000),
                          transmit_ms=_int(b.transmit_interval_ms, f"{pw_}.bfd.transmitIntervalMs", 10, 60000),
                          multiplier=_int(b.detect_multiplier, f"{pw_}.bfd.detectMultiplier", 2, 255),
                          minimum_ttl=_int(b.minimum_ttl, f"{pw_}.bfd.minimumTTL", 1, 255))
            channels = set()
            for fam in raw.families or (T.Family(afi="ipv4", safi="unicast"),):
                ch = CHANNELS.get((str(fam.afi), str(fam.safi)))
                if ch is None:
                    raise BgpModelError(f"{pw_}.families: {fam.afi}/{fam.safi} is not "
                                        "supported (ipv4/unicast, ipv6/unicast)")
                channels.add(ch)
            ads: dict[str, Advertisement] = {}
            for j, a in enumerate(raw.prefixes):
                ad = _advertisement(a, f"{pw_}.prefixes[{j}]")
                if ad.prefix in ads and ads[ad.prefix] != ad:
                    raise BgpModelError(f"{pw_}.prefixes: {ad.prefix} listed twice with different attributes")
                ads[ad.prefix] = ad
            peers.append(Peer(
                instance=str(inst.name), name=str(raw.name),
                protocol=_symbol(str(inst.name), str(raw.name), taken=taken),
                address=_address(raw.address, f"{pw_}.address"),
                asn=_int(raw.asn, f"{pw_}.asn", 0, 2**32 - 1),
                port=_int(raw.port, f"{pw_}.port", 1, 65535),
                local_asn=local_asn, local_port=local_port, router_id=router_id,
                timers=timers, graceful_restart=gr, ebgp_multihop=mh,
                auth_ref=auth_ref, auth_sha256=auth_sha, bfd=bfd,
                channels=tuple(sorted(channels)),
                advertisements=tuple(sorted(ads.values(), key=lambda a: net_key(a.prefix))),
            ))
    router_id = peers[0].router_id if peers else _address(
        (instances[0].router_id if instances else None) or local_address or "0.0.0.0", "routerId")
    return BgpModel(node=node_name, local_address=local_address, router_id=router_id,
                    peers=tuple(peers), passwords=passwords)
