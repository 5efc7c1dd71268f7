"""cilium-lb: a declarative toolchain for the two-tier Isovalent Load Balancer on Cilium."""

__version__ = "0.1.0"
