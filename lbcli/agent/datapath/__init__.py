"""Tier-1 eBPF/tc datapath: C sources (bpf/), build cache, libbpf binding, maps, reconciler.

Import the submodules directly (`lbcli.agent.datapath.reconciler`); this package imports
nothing heavy so the CLI starts fast.
"""
