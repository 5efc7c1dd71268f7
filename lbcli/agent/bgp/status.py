"""Observed BGP state, parsed from BIRD's control socket replies, and the summaries that
`diff --live` and `lb status` show ("1/1 established", "3 routes").

The parsers take the text lines of a reply (what `birdc` prints without its codes), so they
are tested on captured output without a daemon. Times are epoch seconds because the rendered
config sets `timeformat ... "%s.%3f"`.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field

from lbcli.agent.bgp.model import BgpModel, net_key


@dataclass(frozen=True)
class PeerStatus:
    protocol: str
    description: str  # "instance/peer" as rendered
    address: str | None
    asn: int | None
    state: str  # BIRD protocol state: up, start, down, ...
    bgp_state: str  # Idle, Connect, Active, OpenSent, OpenConfirm, Established
    since: float | None  # epoch seconds of the last state change
    info: str
    last_error: str | None
    imported: int = 0
    exported: int = 0
    hold_time: int | None = None  # negotiated, once established
    keepalive_time: int | None = None
    tables: tuple[str, ...] = ()

    @property
    def established(self) -> bool:
        return self.bgp_state == "Established"

    def uptime(self, now: float | None = None) -> float | None:
        if not self.established or self.since is None:
            return None
        return (time.time() if now is None else now) - self.since


@dataclass(frozen=True)
class BfdSession:
    address: str
    interface: str
    state: str  # Up, Down, Init, AdminDown
    since: float | None
    interval: float | None  # seconds, the current transmit interval
    timeout: float | None  # seconds, the current detection time

    @property
    def up(self) -> bool:
        return self.state == "Up"


@dataclass(frozen=True)
class DaemonState:
    running: bool
    pid: int | None = None
    version: str | None = None
    error: str | None = None  # why the daemon could not be queried


@dataclass(frozen=True)
class BgpObserved:
    daemon: DaemonState
    config_sha256: str | None = None  # of bird.conf on disk (BIRD loads it on every apply)
    applied: dict | None = None  # secret-free summary written with it
    peers: tuple[PeerStatus, ...] = ()
    bfd: tuple[BfdSession, ...] = ()
    exported: dict[str, tuple[str, ...]] = field(default_factory=dict)  # protocol -> prefixes
    # every protocol of the running BIRD -> its state (up, start, down, ...); None: not read
    protocols: dict[str, str] | None = None

    def peer(self, protocol: str) -> PeerStatus | None:
        return next((p for p in self.peers if p.protocol == protocol), None)

    def bfd_for(self, address: str) -> BfdSession | None:
        return next((b for b in self.bfd if b.address == address), None)


_INT = re.compile(r"(\d+)")

# BIRD's reply codes (doc/reply_codes in its source): table rows and completions acted upon
CODE_PROTOCOL_ROW = 1002  # a row of `show protocols [all]`: Name Proto Table State Since Info


def protocol_states(lines: list[tuple[int, str]]) -> dict[str, str]:
    """Protocol name -> state from the 1002 rows of a `show protocols [all]` reply."""
    out: dict[str, str] = {}
    for code, text in lines:
        if code == CODE_PROTOCOL_ROW:
            parts = text.split()
            if len(parts) >= 4:
                out[parts[0]] = parts[3]
    return out


def parse_protocols_all(lines: list[str]) -> list[PeerStatus]:
    """BGP protocols of `show protocols all`; other protocol kinds are skipped."""
    out: list[PeerStatus] = []
    cur: dict | None = None

    def flush() -> None:
        if cur is not None and cur["kind"] == "BGP":
            out.append(PeerStatus(
                protocol=cur["name"], description=cur.get("Description", ""),
                address=cur.get("Neighbor address"),
                asn=int(cur["Neighbor AS"]) if cur.get("Neighbor AS", "").isdigit() else None,
                state=cur["state"], bgp_state=cur.get("BGP state", cur["info"].split(" ")[0] or cur["state"]),
                since=_float(cur["since"]), info=cur["info"], last_error=cur.get("Last error"),
                imported=cur.get("imported", 0), exported=cur.get("exported", 0),
                hold_time=_timer(cur.get("Hold timer")), keepalive_time=_timer(cur.get("Keepalive timer")),
                tables=tuple(cur.get("tables", ())),
            ))

    for line in lines:
        if not line.strip() or line.startswith("Name "):
            continue
        if not line.startswith(" "):
            flush()
            parts = line.split(None, 5)
            if len(parts) < 5:
                cur = None
                continue
            cur = {"name": parts[0], "kind": parts[1], "state": parts[3], "since": parts[4],
                   "info": parts[5].strip() if len(parts) > 5 else ""}
            continue
        if cur is None or ":" not in line:
            continue
        key, _, value = line.strip().partition(":")
        value = value.strip()
        if key == "Routes":  # "2 imported, 1 exported, 0 preferred", summed over channels
            nums = dict((w, int(n)) for n, w in re.findall(r"(\d+) (\w+)", value))
            cur["imported"] = cur.get("imported", 0) + nums.get("imported", 0)
            cur["exported"] = cur.get("exported", 0) + nums.get("exported", 0)
        elif key == "Table":
            cur.setdefault("tables", []).append(value)
        elif key not in cur:  # first occurrence wins (channel blocks repeat keys)
            cur[key] = value
    flush()
    return out


def parse_bfd_sessions(lines: list[str]) -> list[BfdSession]:
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[0] == "IP":
            continue
        try:
            ipaddress.ip_address(parts[0])
        except ValueError:
            continue
        out.append(BfdSession(address=parts[0], interface=parts[1], state=parts[2],
                              since=_float(parts[3]), interval=_float(parts[4]),
                              timeout=_float(parts[5])))
    return sorted(out, key=lambda b: (b.address, b.interface))


def parse_route_prefixes(lines: list[str]) -> list[str]:
    """Networks listed by `show route ...` (first column), each once."""
    seen: set[str] = set()
    for line in lines:
        if not line or line.startswith(" ") or line.startswith("Table "):
            continue
        token = line.split(None, 1)[0]
        try:
            seen.add(str(ipaddress.ip_network(token)))
        except ValueError:
            continue
    return sorted(seen, key=net_key)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _timer(text: str | None) -> int | None:
    """"6.379/9" -> 9 (the negotiated value after the slash)."""
    if not text or "/" not in text:
        return None
    m = _INT.fullmatch(text.rsplit("/", 1)[1].strip())
    return int(m[1]) if m else None


# ---- summaries for `lb status` and `diff --live`


def peers_column(observed: BgpObserved, model: BgpModel | None = None) -> str:
    """"1/2 established"; counts the model's peers when given (a missing protocol is down)."""
    if model is not None:
        total = len(model.peers)
        up = sum(1 for p in model.peers if (s := observed.peer(p.protocol)) and s.established)
    else:
        total = len(observed.peers)
        up = sum(1 for p in observed.peers if p.established)
    if total == 0:
        return "-"
    if not observed.daemon.running:
        return f"0/{total} established (bird not running)"
    return f"{up}/{total} established"


def advertised_prefixes(observed: BgpObserved) -> list[str]:
    """Prefixes exported to at least one established peer."""
    nets = {pfx for proto, pfxs in observed.exported.items()
            if (s := observed.peer(proto)) and s.established for pfx in pfxs}
    return sorted(nets, key=net_key)


def routes_column(observed: BgpObserved) -> str:
    n = len(advertised_prefixes(observed))
    return f"{n} route" if n == 1 else f"{n} routes"


def advertised_to(observed: BgpObserved, prefix: str) -> list[str]:
    """Protocols (peers) that currently get `prefix`: the per-VIP BGP column."""
    return sorted(proto for proto, pfxs in observed.exported.items()
                  if prefix in pfxs and (s := observed.peer(proto)) and s.established)


@dataclass(frozen=True)
class LiveFinding:
    object: str  # "bgp peer instance0/peer0 192.168.121.201"
    detail: str


def live_findings(model: BgpModel | None, observed: BgpObserved) -> list[LiveFinding]:
    """Where the live daemon differs from what the plan wants: peers not established, BFD
    down, prefixes not (or wrongly) exported. Informational: a reload would not fix these."""
    out: list[LiveFinding] = []
    if model is None:
        if observed.daemon.running:
            out.append(LiveFinding("bird daemon", "running although the plan has no bgp section"))
        return out
    if not observed.daemon.running:
        return [LiveFinding("bird daemon", observed.daemon.error or "not running")]
    for peer in model.peers:
        obj = f"bgp peer {peer.key} {peer.address}"
        s = observed.peer(peer.protocol)
        if s is None:
            out.append(LiveFinding(obj, "not configured in the running BIRD"))
            continue
        if not s.established:
            out.append(LiveFinding(obj, session_problem(s)))
            continue
        if peer.bfd:
            b = observed.bfd_for(peer.address)
            if b is None or not b.up:
                out.append(LiveFinding(obj, f"BFD session {b.state if b else 'missing'}"))
        want, have = set(peer.prefixes), set(observed.exported.get(peer.protocol, ()))
        if want - have:
            out.append(LiveFinding(obj, "not exported: " + ", ".join(sorted(want - have, key=net_key))))
        if have - want:
            out.append(LiveFinding(obj, "exported but not in plan: " + ", ".join(sorted(have - want, key=net_key))))
    return out


def session_problem(s: PeerStatus) -> str:
    """A clear reason for a session that is not established."""
    text = f"session {s.bgp_state}"
    if s.last_error and s.last_error.startswith("Received: "):
        text += f": rejected by the peer ({s.last_error.removeprefix('Received: ')})"
    elif s.last_error:
        text += f": {s.last_error}"
    elif s.bgp_state in ("Connect", "Active", "Idle"):
        text += (": no BGP answer from the peer (check reachability, that the router has this "
                 "node as a neighbor, AS numbers and the TCP-MD5 password)")
    return text
