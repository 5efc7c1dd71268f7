"""The JSON contract tools outside the project read: {"problems": [...], "summary": {...}}.

Each problem has file, line, column (1-based), severity (error|warning|info), rule, message
(and resource when known). Keys are stable; new keys may be added, none removed.
"""

from __future__ import annotations

import json


def render(report) -> str:
    doc = {"problems": [p.to_dict() for p in report.problems], "summary": report.summary}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
