"""One structured log line per change (journald-friendly): `json` (one object per line) or
`text` (`time level node event key=value ...`). Pure: records come from an ApplyReport and the
run's trigger; the writer prints them. Details are the reconcilers' change details, which never
hold a secret (lbcli.agent.reconciler.Change)."""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, TextIO


def change_records(doc: dict, trigger: str) -> list[dict[str, Any]]:
    """One record per change of an ApplyReport's `to_dict()` (dry runs list none), one per
    failed component and one per prefix withheld from BGP."""
    out: list[dict[str, Any]] = []
    for comp in doc.get("components", []):
        for ch in comp.get("changes", []):
            rec = {"event": "change", "trigger": trigger, "component": comp["name"], "action": ch["action"],
                   "object": ch["object"], "detail": ch["detail"], "ok": ch["ok"]}
            if ch.get("error"):
                rec["error"] = ch["error"]
            out.append(rec)
        if comp.get("error"):
            out.append({"event": "component-failed", "trigger": trigger, "component": comp["name"],
                        "error": comp["error"]})
        if comp.get("degraded"):
            out.append({"event": "degraded", "trigger": trigger, "component": comp["name"],
                        "detail": comp["degraded"]})
    for w in doc.get("withheld", []):
        out.append({"event": "withheld", "trigger": trigger, "prefix": w["prefix"], "reason": w["reason"]})
    return out


class EventLog:
    def __init__(self, node: str, fmt: str, stream: TextIO) -> None:
        if fmt not in ("json", "text"):
            raise ValueError(f"log format {fmt!r}: json or text")
        self.node, self.fmt, self.stream = node, fmt, stream

    def emit(self, record: dict[str, Any], level: str | None = None) -> None:
        lvl = level or ("error" if record.get("error") or record.get("ok") is False else "info")
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        full = {"time": stamp, "level": lvl, "node": self.node, **record}
        if self.fmt == "json":
            line = json.dumps(full, sort_keys=False, separators=(",", ":"), default=str)
        else:
            rest = " ".join(f"{k}={_text(v)}" for k, v in record.items() if k != "event")
            line = f"{stamp} {lvl} {self.node} {record.get('event', '')} {rest}".rstrip()
        self.stream.write(line + "\n")
        self.stream.flush()

    def emit_all(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            self.emit(r)


def _text(v: Any) -> str:
    s = str(v).replace("\n", "\\n")  # one line per record, always
    return json.dumps(s) if (" " in s or "=" in s or not s) else s
