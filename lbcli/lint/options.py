"""Options a lint rule takes in `.cilium-lb.yaml` (`rules: {cert-expiry: {days: 30}}`): each rule
declares them (`OPTIONS = {"days": IntOption(30, minimum=0)}`) and the config loader checks
every option given against that declaration, so a misspelt or ill-typed option is a config
error naming the option and the rule, never silently ignored."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class IntOption:
    default: int
    minimum: int = 0
    doc: str = ""

    def check(self, value: object) -> str | None:
        """Why `value` is not acceptable, or None."""
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected an integer, got {type(value).__name__} {value!r}"
        if value < self.minimum:
            return f"expected an integer >= {self.minimum}, got {value}"
        return None


def check_options(rule: str, declared: dict, given: dict) -> list[str]:
    """The problems of `given` for `rule`, each naming the option and the rule."""
    out = []
    for name, value in given.items():
        if name not in declared:
            takes = ", ".join(sorted(declared)) or "no options besides severity"
            hint = difflib.get_close_matches(str(name), list(declared), 1)
            out.append(f"rules.{rule}: unknown option '{name}' for rule {rule} (it takes: {takes})"
                       + (f"; did you mean '{hint[0]}'?" if hint else ""))
            continue
        why = declared[name].check(value)
        if why is not None:
            out.append(f"rules.{rule}.{name}: {why}")
    return out


def option(opts: dict, declared: dict, name: str):
    """The option's value, or its declared default (values were checked on load)."""
    return opts.get(name, declared[name].default)
