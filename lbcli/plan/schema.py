"""schemas/plan.schema.json, generated from the plan types (lbcli/plan/types.py): one source.

    python -m lbcli.plan.schema           write the file
    python -m lbcli.plan.schema --check   exit 1 when the committed file differs (tests run it)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json"


def build() -> dict:
    from .types import NodePlan

    defs: dict = {}
    body = NodePlan.json_schema(defs)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": "https://cilium-lb.io/schemas/plan.schema.json", "title": "NodePlan", **body}
    schema["$defs"] = dict(sorted(defs.items()))
    return schema


def text() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    want = text()
    if "--check" in argv:
        have = PATH.read_text() if PATH.exists() else ""
        if have != want:
            sys.stderr.write(f"{PATH} is out of date: run python -m lbcli.plan.schema\n")
            return 1
        return 0
    PATH.write_text(want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
