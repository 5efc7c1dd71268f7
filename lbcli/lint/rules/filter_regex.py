"""Header `regex` matches of request filters compile.

Tier 2 writes each `requestFiltering` header regex into haproxy.cfg (`-m reg`); a pattern the
regex engine refuses would make HAProxy refuse the node's whole configuration, so it is
reported where it is written. Patterns are compiled with PCRE2, the engine HAProxy matches
them with (lbcli/model/regex.py; the renderer checks again before anything is written).

Example (error: unterminated group):

    requestFiltering:
      ruleType: Deny
      rules:
        - headers: [{name: X-Env, value: {regex: "^(dev"}}]
"""

from __future__ import annotations

from typing import Iterator

from ...model.apps import applications
from ...model.regex import compile_error
from ..finding import Context, Finding
from ..problem import Severity
from ._refs import as_list

ID = "filter-regex"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for svc in ctx.index.valid("LBService"):
        for kind, app in applications(svc):
            for i, route in enumerate(as_list(app.get("routes"))):
                flt = route.get("requestFiltering") if isinstance(route, dict) else None
                if not isinstance(flt, dict):
                    continue
                for j, rule in enumerate(as_list(flt.get("rules"))):
                    for k, h in enumerate(as_list(rule.get("headers") if isinstance(rule, dict) else None)):
                        value = h.get("value") if isinstance(h, dict) else None
                        pattern = value.get("regex") if isinstance(value, dict) else None
                        if not isinstance(pattern, str):
                            continue
                        error = compile_error(pattern)
                        if error is not None:
                            yield Finding(svc, ("spec", "applications", kind, "routes", i, "requestFiltering", "rules",
                                                j, "headers", k, "value", "regex"),
                                          f"header regex does not compile: {error}")
