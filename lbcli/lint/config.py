"""`.cilium-lb.yaml`: per-rule severities and options, ignored paths, the fail level.

Searched upwards from the working directory (like yamllint's `.yamllint`), or named with
`--config`. Example:

    rules:
      cert-expiry: {severity: warning, days: 30}
      selector-match: off          # or: error | warning | info
    ignore:                        # glob patterns of files not to lint
      - "vendor/**"
    fail-level: error
    max-file-size: 32M             # larger manifest files are a finding, not read (0 = no limit)
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..manifest.limits import DEFAULT_MAX_FILE_SIZE as _DEFAULT_MAX_FILE_SIZE
from .problem import Severity

CONFIG_NAMES = (".cilium-lb.yaml", ".cilium-lb.yml")


class ConfigError(Exception):
    """The config file is unreadable or wrong (exit code 2)."""


@dataclass
class LintConfig:
    path: str | None = None
    severities: dict[str, Severity | None] = field(default_factory=dict)  # None = off
    options: dict[str, dict] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)
    fail_level: Severity | None = None
    base: Path = field(default_factory=Path.cwd)
    max_file_size: int | None = _DEFAULT_MAX_FILE_SIZE  # bytes; None = no limit

    def is_ignored(self, path: str) -> bool:
        p = Path(path)
        try:
            rel = p.resolve().relative_to(self.base.resolve()).as_posix()
        except ValueError:
            rel = p.as_posix()
        for pat in self.ignore:
            pat = pat.rstrip("/")
            if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + "/*") or rel.startswith(pat + "/"):
                return True
        return False


def find_config(start: Path | None = None) -> Path | None:
    d = (start or Path.cwd()).resolve()
    for parent in (d, *d.parents):
        for name in CONFIG_NAMES:
            if (parent / name).is_file():
                return parent / name
    return None


def load_config(path: str | None = None, search: bool = True) -> LintConfig:
    from .registry import all_rule_info

    file = Path(path) if path else (find_config() if search else None)
    if file is None:
        return LintConfig()
    import yaml

    from ..manifest.limits import check_text

    try:
        text = file.read_text()
        issue = check_text(text)  # PyYAML builds what it reads recursively, aliases expanded
        if issue is not None:
            raise ConfigError(f"{file}:{issue.line + 1}:{issue.column + 1}: {issue.message}")
        data = yaml.safe_load(text) or {}
    except OSError as e:
        raise ConfigError(f"{file}: {e.strerror or e}") from None
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark
        where = f"{file}:{m.line + 1}:{m.column + 1}" if m else str(file)
        raise ConfigError(f"{where}: {e.problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping with rules/ignore/fail-level")
    cfg = LintConfig(path=str(file), base=file.parent)
    unknown = set(data) - {"rules", "ignore", "fail-level", "max-file-size"}
    if unknown:
        raise ConfigError(f"{file}: unknown key(s) {', '.join(sorted(unknown))} "
                          "(expected rules, ignore, fail-level, max-file-size)")
    known = sorted(all_rule_info())
    for rid, value in (data.get("rules") or {}).items():
        if rid not in known:
            import difflib

            hint = difflib.get_close_matches(rid, known, 1)
            raise ConfigError(f"{file}: unknown rule '{rid}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
        opts = {}
        if isinstance(value, dict):
            opts = dict(value)
            value = opts.pop("severity", None)
        if value is False or value == "off":
            cfg.severities[rid] = None
        elif value is not None:
            try:
                cfg.severities[rid] = Severity.parse(str(value))
            except ValueError as e:
                raise ConfigError(f"{file}: rules.{rid}: {e}") from None
        if opts:
            from .options import check_options

            declared = getattr(all_rule_info()[rid].module, "OPTIONS", {})
            problems = check_options(rid, declared, opts)
            if problems:
                raise ConfigError(f"{file}: " + "; ".join(problems))
            cfg.options[rid] = opts
    ignore = data.get("ignore") or []
    if isinstance(ignore, str):
        ignore = ignore.splitlines()
    cfg.ignore = [str(p).strip() for p in ignore if str(p).strip()]
    if data.get("fail-level") is not None:
        try:
            cfg.fail_level = Severity.parse(str(data["fail-level"]))
        except ValueError as e:
            raise ConfigError(f"{file}: fail-level: {e}") from None
    if data.get("max-file-size") is not None:
        from ..manifest.limits import parse_size

        try:
            cfg.max_file_size = parse_size(data["max-file-size"])
        except ValueError as e:
            raise ConfigError(f"{file}: max-file-size: {e}") from None
    return cfg


def relpath(p: str) -> str:
    return os.path.relpath(p) if os.path.isabs(p) else p
