"""Run a node component's reconciler from a plan file, inside the namespace it is started in.

    ip netns exec NS python -m lbcli.lab.nodecmd apply --plan P --node N --state-dir S --bpf-root B
                     [--component datapath,receive]
    ... reset | observe | counters

Prints one JSON document (results per component); exit 0 when every component succeeded.
A lab tool: the engine's fold for one or two components, without the node lock or record
(`cilium-lb apply --plan` is the full path).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lbcli.agent.reconciler import NodeContext


def _reconcilers(ctx: NodeContext, names: list[str]) -> list:
    from lbcli.agent.datapath.reconciler import DatapathReconciler
    from lbcli.agent.network.reconciler import NetworkReconciler
    from lbcli.agent.receive import ReceiveReconciler

    table = {"datapath": DatapathReconciler, "receive": ReceiveReconciler, "network": NetworkReconciler}
    return [table[n](ctx) for n in names]


def _result(res) -> dict:
    return {
        "ok": res.ok, "changed": res.changed, "error": res.error,
        "results": [{"action": r.change.action, "object": r.change.object, "detail": r.change.detail,
                     "ok": r.ok, "error": r.error} for r in res.results],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lbcli.lab.nodecmd")
    ap.add_argument("command", choices=["apply", "reset", "diff", "counters"])
    ap.add_argument("--plan", type=Path)
    ap.add_argument("--node", required=True)
    ap.add_argument("--state-dir", type=Path, required=True)
    ap.add_argument("--bpf-root", type=Path, required=True)
    ap.add_argument("--component", default="datapath,receive")
    ap.add_argument("--datapath", choices=["tc", "xdp"], default="tc")
    args = ap.parse_args(argv)
    ctx = NodeContext(args.node, args.state_dir, args.bpf_root, datapath=args.datapath)
    if args.command == "counters":
        from lbcli.agent.datapath.reconciler import global_counters, service_counters

        print(json.dumps({"services": service_counters(ctx), "global": global_counters(ctx)}, sort_keys=True))
        return 0
    plan = None
    if args.plan:
        from lbcli.plan.read import read_plan

        plan = read_plan(args.plan)  # the typed plan, as `compile` wrote it
    out, ok = {}, True
    for rec in _reconcilers(ctx, args.component.split(",")):
        if args.command == "reset":
            res = rec.reset()
        elif args.command == "diff":
            from lbcli.agent.reconciler import ComponentResult

            try:
                changes = rec.diff(rec.desired(plan, None), rec.observe())
            except Exception as exc:  # a plan the node cannot carry: a result, not a traceback
                res = ComponentResult(rec.name, error=str(exc))
            else:
                out[rec.name] = [{"action": c.action, "object": c.object, "detail": c.detail} for c in changes]
                continue
        else:
            from lbcli.agent.engine import run_component

            _, res = run_component(rec, plan, {})
        out[rec.name] = _result(res)
        ok = ok and res.ok
    print(json.dumps(out, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
