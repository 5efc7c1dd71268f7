"""Rule discovery: every module in lbcli.lint.rules with ID, SEVERITY and check() is a rule;
one that also has `fix(finding, doc) -> Edit | None` can repair some of its findings
(`cilium-lb fix`).

Each rule's module docstring is its documentation (as in yamllint): the first line is the
short description used in SARIF and `cilium-lb rules`, the rest is the help text.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

from .problem import Severity

# Findings the loader makes itself; listed so config, SARIF and docs know them.
LOADER_RULES = {
    "yaml-syntax": (Severity.ERROR, "The file is valid YAML or JSON text (syntax, tabs, duplicate keys, encoding)."),
    "document-type": (Severity.ERROR, "Every document is a mapping with apiVersion and kind."),
    "empty-file": (Severity.WARNING, "A manifest file holds at least one document."),
    "internal-error": (Severity.ERROR, "A rule failed on this input; please report it (the rest of the run is unaffected)."),
}


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: Severity
    summary: str
    doc: str
    module: ModuleType | None
    phase: int = 1

    @property
    def fixes(self) -> bool:
        return self.module is not None and callable(getattr(self.module, "fix", None))


@functools.lru_cache(maxsize=None)
def rules() -> tuple[RuleInfo, ...]:
    from . import rules as pkg

    found: list[RuleInfo] = []
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{mod.name}")
        if not hasattr(module, "ID") or not hasattr(module, "check"):
            continue
        doc = (module.__doc__ or "").strip()
        summary = doc.splitlines()[0] if doc else module.ID
        found.append(RuleInfo(module.ID, module.SEVERITY, summary, doc, module, getattr(module, "PHASE", 1)))
    found.sort(key=lambda r: (r.phase, r.id))
    return tuple(found)


@functools.lru_cache(maxsize=None)
def all_rule_info() -> dict[str, RuleInfo]:
    out = {rid: RuleInfo(rid, sev, text, text, None, 0) for rid, (sev, text) in LOADER_RULES.items()}
    for r in rules():
        out[r.id] = r
    return out
