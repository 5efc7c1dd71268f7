"""Health of each (service, T2 node) pair, as HAProxy's rise/fall: a pair goes down after
`fall` failed probes in a row and up again after `rise` passes in a row; anything between
changes nothing (a flapping T2 stays where it is until it holds one state long enough).

Pairs start up: a tier-1 node serves with the plan's full table until a T2 proves otherwise
(the agent seeds the state it found on the host at start, so a restart does not flap).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

Pair = tuple[str, str]  # (service "ns/name", T2 node name)


@dataclass
class PairState:
    up: bool = True
    streak: int = 0            # probes in a row that disagree with `up`
    since: float = 0.0         # wall clock of the last transition (0: never)
    last_error: str | None = None
    transitions: int = 0


@dataclass
class Transition:
    service: str
    t2: str
    up: bool
    reason: str


@dataclass
class HealthState:
    rise: int
    fall: int
    pairs: dict[Pair, PairState] = field(default_factory=dict)

    def track(self, pairs: set[Pair], down: set[Pair] = frozenset()) -> None:
        """Follow exactly `pairs` (the plan's); new ones start up, or down when in `down`."""
        for p in list(self.pairs):
            if p not in pairs:
                del self.pairs[p]
        for p in pairs:
            if p not in self.pairs:
                self.pairs[p] = PairState(up=p not in down)

    def observe(self, pair: Pair, ok: bool, error: str | None = None, now: float | None = None) -> Transition | None:
        """One probe result; the transition it completes, if any."""
        st = self.pairs.get(pair)
        if st is None:
            return None
        st.last_error = None if ok else error
        if ok == st.up:
            st.streak = 0
            return None
        st.streak += 1
        if st.streak < (self.rise if ok else self.fall):
            return None
        st.up, st.streak, st.transitions = ok, 0, st.transitions + 1
        st.since = time.time() if now is None else now
        return Transition(pair[0], pair[1], ok, "passed" if ok else (error or "failed"))

    def down(self) -> dict[str, frozenset[str]]:
        """service -> the T2 nodes it must not send new flows to."""
        out: dict[str, set[str]] = {}
        for (svc, t2), st in self.pairs.items():
            if not st.up:
                out.setdefault(svc, set()).add(t2)
        return {k: frozenset(v) for k, v in sorted(out.items())}
