"""Inline suppressions: `# cilium-lb: ignore=RULE[,RULE]` on the finding's line (or alone on the
line above it), `# cilium-lb: ignore-document=RULE` anywhere in a document and
`# cilium-lb: ignore-file=RULE` anywhere in a file. `all` stands for every rule."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"#\s*cilium-lb:\s*(ignore|ignore-document|ignore-file)=([\w,\-* ]+)")


@dataclass
class Suppressions:
    lines: dict[int, set[str]] = field(default_factory=dict)
    file: set[str] = field(default_factory=set)
    # (first line, last line) of a document -> rules
    documents: list[tuple[int, int, set[str]]] = field(default_factory=list)

    def hides(self, line: int, rule: str) -> bool:
        for rules in (self.lines.get(line), self.file):
            if rules and (rule in rules or "all" in rules):
                return True
        for first, last, rules in self.documents:
            if first <= line <= last and (rule in rules or "all" in rules):
                return True
        return False


def scan(text: str) -> Suppressions:
    s = Suppressions()
    if "cilium-lb:" not in text:
        return s
    lines = text.splitlines()
    doc_start = 1
    pending_doc: list[set[str]] = []
    pending_line: set[str] | None = None
    for i, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if raw.startswith("---") or raw.startswith("..."):
            for rules in pending_doc:
                s.documents.append((doc_start, i - 1, rules))
            pending_doc, doc_start = [], i + 1
        m = _DIRECTIVE.search(raw)
        if m:
            rules = {r.strip() for r in m.group(2).split(",") if r.strip()}
            kind = m.group(1)
            if kind == "ignore-file":
                s.file |= rules
            elif kind == "ignore-document":
                pending_doc.append(rules)
            elif stripped.startswith("#"):
                pending_line = (pending_line or set()) | rules
                continue
            else:
                s.lines.setdefault(i, set()).update(rules)
        if pending_line and stripped and not stripped.startswith("#"):
            s.lines.setdefault(i, set()).update(pending_line)
            pending_line = None
    for rules in pending_doc:
        s.documents.append((doc_start, len(lines), rules))
    return s
