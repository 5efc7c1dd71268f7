"""BFD profiles detect failures fast but not falsely, and fit the sessions that use them.

The schema bounds each field; this rule checks what the fields mean together:

- detection time, taken as `detectMultiplier` x max(receive, transmit interval) (what both ends
  negotiate when the peer runs the same profile): below 30 ms it is unstable (a busy node or
  a scheduling hiccup drops the session and withdraws every VIP); at or above the BGP hold
  time of a peer config using the profile BFD is pointless (BGP notices first);
- echo function (directions set): a Receive direction with echo receive interval 0 (which
  tells the peer not to send echo packets); for Transmit, an echo detection time
  (`detectMultiplier` x echo transmit interval) below 30 ms, or an echo transmit interval not
  below the control transmit interval (echo then adds nothing); echo on a multi-hop session
  (RFC 5883: echo is single-hop only);
- `minimumTTL` below 255 on a single-hop session (RFC 5881 expects TTL 255, which protects the
  session against spoofed packets from further away). A session is multi-hop when its peer
  config sets `ebgpMultihop` above 1 and no iBGP peer uses it (cilium-lb runs iBGP BFD directly
  connected).

Example (warning: 10 ms x 2 = 20 ms detection):

    spec:
      receiveIntervalMilliseconds: 10
      transmitIntervalMilliseconds: 10
      detectMultiplier: 2
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import Resource, get_in
from ..finding import Context, Finding
from ..problem import Severity
from ._refs import as_list, ref_name

ID = "bfd-profile"
SEVERITY = Severity.WARNING

MIN_DETECT_MS = 30
DEFAULT_INTERVAL_MS = 300
DEFAULT_MULTIPLIER = 3
DEFAULT_HOLD_S = 90


def check(ctx: Context) -> Iterator[Finding]:
    ibgp = _ibgp_peer_configs(ctx)
    users: dict[str, list[Resource]] = {}
    for pc in ctx.index.valid("IsovalentBGPPeerConfig"):
        name = pc.spec.get("bfdProfileRef")
        if isinstance(name, str):
            users.setdefault(name, []).append(pc)
    for prof in ctx.index.valid("IsovalentBFDProfile"):
        used_by = users.get(prof.name, [])
        multi = [pc for pc in used_by if _hops(pc) > 1 and pc.name not in ibgp]
        single = [pc for pc in used_by if pc not in multi]
        yield from _detection(prof, used_by)
        yield from _echo(prof, multi)
        ttl = prof.spec.get("minimumTTL", 255)
        if isinstance(ttl, int) and ttl < 255 and single:
            yield Finding(prof, ("spec", "minimumTTL"),
                          f"minimumTTL {ttl} on the single-hop session of IsovalentBGPPeerConfig "
                          f"{_names(single)}: single-hop BFD expects TTL 255 (RFC 5881) and this "
                          f"accepts packets from {255 - ttl} hop(s) further away")


def _detection(prof: Resource, used_by: list[Resource]) -> Iterator[Finding]:
    s = prof.spec
    rx, tx = _intervals(s)
    mult = _int(s, "detectMultiplier", DEFAULT_MULTIPLIER)
    detect = mult * max(rx, tx)
    path = _first_present(s, ("detectMultiplier", "receiveIntervalMilliseconds", "transmitIntervalMilliseconds"))
    what = f"detection time {mult} x {max(rx, tx)} ms = {detect} ms"
    if detect < MIN_DETECT_MS:
        yield Finding(prof, path, f"{what} is below {MIN_DETECT_MS} ms: sessions flap on any hiccup "
                                  "and withdraw every VIP")
        return
    slow = []
    for pc in used_by:
        hold = get_in(pc.spec, ("timers", "holdTimeSeconds"), DEFAULT_HOLD_S)
        if isinstance(hold, int) and hold > 0 and detect >= hold * 1000:
            slow.append(f"{pc.name} ({hold} s)")
    if slow:
        yield Finding(prof, path, f"{what} is not shorter than the BGP hold time of "
                                  f"IsovalentBGPPeerConfig {', '.join(slow)}: BGP detects the failure first")


def _echo(prof: Resource, multi: list[Resource]) -> Iterator[Finding]:
    echo = prof.spec.get("echoFunction")
    if not isinstance(echo, dict) or not echo.get("directions"):
        return
    s, base = prof.spec, ("spec", "echoFunction")
    dirs = set(d for d in as_list(echo.get("directions")) if isinstance(d, str))
    if multi:
        yield Finding(prof, base + ("directions",),
                      f"echo on the multi-hop session of IsovalentBGPPeerConfig {_names(multi)}: "
                      "echo is single-hop only (RFC 5883)", key=True)
    e_rx, e_tx = _intervals(echo)
    mult = _int(s, "detectMultiplier", DEFAULT_MULTIPLIER)
    if "Receive" in dirs and e_rx == 0:
        path = base + ("receiveIntervalMilliseconds",) if "receiveIntervalMilliseconds" in echo else base
        yield Finding(prof, path, "echo direction Receive with echo receiveIntervalMilliseconds 0, "
                                  "which tells the peer not to send echo packets")
    if "Transmit" in dirs:
        path = base + ("transmitIntervalMilliseconds",) if "transmitIntervalMilliseconds" in echo else base
        tx = _int(s, "transmitIntervalMilliseconds", DEFAULT_INTERVAL_MS)
        if mult * e_tx < MIN_DETECT_MS:
            yield Finding(prof, path, f"echo detection time {mult} x {e_tx} ms = {mult * e_tx} ms is below "
                                      f"{MIN_DETECT_MS} ms: sessions flap on any hiccup")
        elif e_tx >= tx:
            yield Finding(prof, path, f"echo transmit interval {e_tx} ms is not below the control transmit "
                                      f"interval {tx} ms: echo adds nothing")


def _ibgp_peer_configs(ctx: Context) -> set[str]:
    """Names of peer configs used by at least one iBGP peer (peerASN = localASN)."""
    out = set()
    for cfg in ctx.index.valid("IsovalentBGPClusterConfig"):
        for inst in as_list(cfg.spec.get("bgpInstances")):
            if not isinstance(inst, dict):
                continue
            local = inst.get("localASN")
            for peer in as_list(inst.get("peers")):
                if isinstance(peer, dict) and local is not None and peer.get("peerASN") == local:
                    name = ref_name(peer, "peerConfigRef", "name")
                    if name:
                        out.add(name)
    return out


def _hops(pc: Resource) -> int:
    hops = pc.spec.get("ebgpMultihop", 1)
    return hops if isinstance(hops, int) else 1


def _intervals(obj: dict) -> tuple[int, int]:
    """(receive, transmit) interval in ms of the profile or of its echo function."""
    return (_int(obj, "receiveIntervalMilliseconds", DEFAULT_INTERVAL_MS),
            _int(obj, "transmitIntervalMilliseconds", DEFAULT_INTERVAL_MS))


def _int(obj: dict, key: str, default: int) -> int:
    v = obj.get(key, default)
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _first_present(spec: dict, keys: tuple[str, ...]) -> tuple:
    for k in keys:
        if k in spec:
            return ("spec", k)
    return ("spec",)


def _names(pcs: list[Resource]) -> str:
    return ", ".join(sorted(pc.name for pc in pcs))
