"""Pod networking between nodes, carried out from the plan's `network` section (see reconciler)."""
