"""The per-node plan as a file: the names that become file and config names, and the one
bounded, validating plan reader. Nothing here depends on lint or compile (names take their
grammar from the plain module lbcli/grammar.py), so the node side reads plans through it."""
