"""What `cilium-lb validate` does once its options are parsed, without typer: main.py runs it
directly for the plain `cilium-lb validate PATH...` of a pre-commit hook, validate.py after
typer has parsed the options. Returns the exit code."""

from __future__ import annotations

from ..report.console import error


def run(paths: list[str], output: str | None = None, fail_level: str | None = None, config: str | None = None,
        no_config: bool = False, at: str | None = None, max_file_size: str | None = None,
        nodes: list[str] | None = None, kube: bool = False, kubeconfig: str | None = None,
        context: str | None = None) -> int:
    from ..lint.config import ConfigError, load_config
    from ..lint.engine import lint
    from ..lint.problem import Severity
    from ..manifest.loader import LoadError
    from ..report import render_lint
    from .sources import limits_for, load_any

    src = None
    if kube or kubeconfig or context:
        from .kube import source

        src = source(kube, kubeconfig, context, paths)
    if src is None and not paths:
        error("give manifests (PATH...) or --kube")
        return 2
    try:
        cfg = load_config(config, search=not no_config)
        now = _parse_time(at)
        loaded = load_any(paths, nodes, cfg, limits_for(cfg, max_file_size), src)
    except (ConfigError, LoadError, ValueError) as e:
        error(str(e))
        return 2
    report = lint(loaded, cfg, now=now)
    render_lint(output, report)
    level = Severity.parse(fail_level) if fail_level else (cfg.fail_level or Severity.ERROR)
    KEPT[:] = [report]  # see KEPT
    return 1 if report.count(level) else 0


# The last run's report, kept alive: freeing the parsed set object by object on return was ~4 %
# of a 10,000-resource run; main.py's plain validate path ends the process with os._exit right
# after, so nothing frees it (elsewhere the next run, or the exit, frees it).
KEPT: list = []


def _parse_time(at: str | None):
    if not at:
        return None
    from datetime import datetime, timezone

    try:
        t = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--at: not an ISO date or time: {at!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
