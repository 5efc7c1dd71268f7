"""A namespace testbed for the two-tier load balancer: client, router, node segment, nodes.

Used by the end-to-end tests, the benchmarks and (later) a `cilium-lb lab` command.
"""

from lbcli.lab.testbed import CLIENT, ROUTER, SEGMENT, Lab, LabError, cleanup, namespaces
from lbcli.lab.topology import DEFAULT, LabNode, Topology

__all__ = ["CLIENT", "DEFAULT", "ROUTER", "SEGMENT", "Lab", "LabError", "LabNode", "Topology", "cleanup",
           "namespaces"]
