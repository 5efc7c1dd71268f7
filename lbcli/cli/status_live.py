"""`lb status --agent HOST:PORT...`: plans and facts read from running agents over HTTP
(/plan, /facts), merged as `--observed` files are; `--watch` redraws in place (rich Live)."""

from __future__ import annotations

import sys

import typer

from ..report.console import error

TIMEOUT = 3.0


def _get(agent: str, path: str) -> bytes:
    import urllib.error
    import urllib.request

    url = f"http://{agent}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as r:  # noqa: S310 (http to a given agent)
            return r.read(64 << 20)
    except urllib.error.HTTPError as e:
        raise OSError(f"agent {agent}: {path} answered {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise OSError(f"agent {agent}: {getattr(e, 'reason', e)}") from None


def snapshot(agents: list[str], plan_source: str | None):
    """(Status, unreachable agents). Plans from `plan_source` if given, else from the agents."""
    import orjson

    from ..diff.sources import read_plan_source
    from ..plan.read import check_plan, parse_plan
    from ..status import build_status
    from ..status.observed import merge

    plans, reports, down = {}, [], []
    if plan_source is not None:
        plans = read_plan_source(plan_source, strict=True)
    for a in agents:
        try:
            facts = orjson.loads(_get(a, "/facts"))
            merge([facts])  # checks the shape of this agent's facts on their own
            if plan_source is None:
                p = check_plan(parse_plan(_get(a, "/plan"), f"agent {a} /plan"), f"agent {a} /plan")
                plans[p.name] = p
        except (OSError, ValueError) as e:
            down.append(str(e))
            continue
        reports.append(facts)
    return build_status(plans, merge(reports) if reports else None), down


def run(agents: list[str], plan_source: str | None, fmt: str, watch: bool) -> None:
    from ..diff.sources import PlanSourceError

    for a in agents:
        host, sep, port = a.rpartition(":")
        if not sep or not host or not port.isdigit():
            error(f"--agent {a!r}: expected HOST:PORT")
            raise typer.Exit(2)
    try:
        st, down = snapshot(agents, plan_source)
    except PlanSourceError as e:
        error(str(e))
        raise typer.Exit(2)
    if not watch:
        for d in down:
            error(d)
        if len(down) == len(agents):
            raise typer.Exit(2)
        _print(st, fmt, down)
        raise typer.Exit(1 if down else 0)
    _watch(agents, plan_source, st, down)


def _print(st, fmt: str, down: list[str]) -> None:
    if fmt == "json":
        import json

        doc = st.to_json()
        doc["unreachable"] = down
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return
    from ..report.status_text import render

    render(st)


def _watch(agents, plan_source, st, down) -> None:
    import time

    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from ..report.status_text import plain

    def frame(st, down) -> Text:
        stamp = time.strftime("%H:%M:%S")
        head = f"cilium-lb lb status  {stamp}  agents: {len(agents) - len(down)}/{len(agents)} reachable\n"
        return Text(head + "".join(f"  unreachable: {d}\n" for d in down) + "\n" + plain(st))

    with Live(frame(st, down), console=Console(), refresh_per_second=4, screen=False) as live:
        try:
            while True:
                time.sleep(2.0)
                st, down = snapshot(agents, plan_source)
                live.update(frame(st, down))
        except KeyboardInterrupt:
            return
