"""Imports run one way (../shared/DESIGN.md, "Layout"): the CLI knows everything and nobody knows
the CLI; a node carries out plans and never reads manifests, lints or compiles; the manifest
layer stands alone; lint, compile, diff and status never reach into the node; renderers never
import the CLI. Every import counts, also the lazy ones inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "lbcli"

# package -> packages it must never import (agent is DESIGN's lbcli/node, report its lbcli/render)
FORBIDDEN: dict[str, set[str]] = {
    "manifest": {"model", "lint", "compile", "plan", "diff", "status", "agent", "report", "cli", "lab"},
    "model": {"lint", "compile", "diff", "status", "agent", "report", "cli", "lab"},
    "lint": {"compile", "diff", "status", "agent", "report", "cli", "lab"},
    "plan": {"lint", "compile", "diff", "status", "agent", "report", "cli", "lab"},
    "compile": {"lint", "diff", "status", "agent", "report", "cli", "lab"},
    "diff": {"lint", "compile", "status", "agent", "report", "cli", "lab"},
    "status": {"lint", "compile", "diff", "agent", "report", "cli", "lab"},
    "agent": {"manifest", "lint", "compile", "diff", "status", "report", "cli", "lab"},
    "report": {"compile", "agent", "cli", "lab"},
    # sources and editors of manifests: they read and lint, never compile or touch a node
    "kube": {"lint", "compile", "diff", "status", "agent", "report", "cli", "lab", "fix"},
    "fix": {"compile", "diff", "status", "agent", "report", "cli", "lab", "kube"},
}


# Known edges still to move, each with where it goes (the test fails when one disappears, so the
# list cannot go stale). None today.
KNOWN: set[tuple[str, str]] = set()


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "lbcli" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    pkg_parts = list(rel.parts[:-1])  # the package a relative import starts from
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[:len(pkg_parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
    return out


def violations() -> list[str]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        own = path.relative_to(ROOT).parts[0]
        banned = FORBIDDEN.get(own, set())
        for line, mod in _imports(path):
            target = _package(mod)
            if target in banned and (f"lbcli/{path.relative_to(ROOT)}", mod) not in KNOWN:
                out.append(f"lbcli/{path.relative_to(ROOT)}:{line}: {own} -> {target} ({mod})")
    return out


def test_imports_follow_the_layout():
    assert violations() == []


def test_known_backward_edges_still_exist():
    for file, mod in KNOWN:
        assert mod in {m for _, m in _imports(ROOT.parent / file)}, f"{file} no longer imports {mod}: drop it from KNOWN"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "lbcli" / "agent"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("def f():\n    from ..lint.problem import Problem\n")
    globals()["ROOT"], saved = tmp_path / "lbcli", ROOT
    try:
        assert violations() == ["lbcli/agent/x.py:2: agent -> lint (lbcli.lint.problem)"]
    finally:
        globals()["ROOT"] = saved
