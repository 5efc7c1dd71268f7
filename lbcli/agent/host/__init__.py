"""What a node does to its host, in one place: netlink (links, addresses, routes, qdiscs, tc
bpf filters) through pyroute2, sysctls as files under /proc/sys, processes by pid.

Everything acts on the network namespace the process runs in (the agent is started inside
the node's namespace). Reconcilers call these typed helpers; none of them runs `ip`, `tc` or
`sysctl`, and none parses their text. pyroute2 is imported on first use only: the CLI starts
without it.
"""
