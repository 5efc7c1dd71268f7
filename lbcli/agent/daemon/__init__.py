"""`cilium-lb agent`: the node apply, run continuously.

    events.py  what a run changed, as one structured log line per change (json or text)
    watch.py   the sources (manifests or plans, Secrets) watched with watchfiles, debounced
    monitor.py event-driven drift detection: netlink (links, addresses, routes, tc) and the
               daemons' exits (pidfd), debounced into targeted runs
    loop.py    the loop: reconcile at start, on a source change, on SIGHUP, on drift events,
               every period (the full run, the safety net)
    server.py  the local HTTP endpoint: /status, /facts, /plan (JSON) and /metrics (Prometheus)

The agent carries out plans only through `lbcli.agent.engine.apply_plan` (the same observe/diff/
apply a one-shot `apply` runs), so a run with nothing to do changes nothing: starting the agent
on a node a one-shot apply or an earlier agent programmed adopts what runs, and stopping it
leaves the datapath, BIRD and HAProxy serving.
"""
