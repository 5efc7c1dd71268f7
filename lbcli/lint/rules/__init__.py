"""One module per rule. A rule module has `ID`, `SEVERITY`, optionally `PHASE` (0: decides
whether a resource is schema-valid; 1: semantic, the default) and `check(ctx)` yielding
Findings. Its docstring is its documentation."""
