"""The per-node plan as a file: the grammar of names that become file and config names, and the
one bounded, validating plan reader (no dependency on manifests, lint or compile: the node side
reads plans through it too)."""
