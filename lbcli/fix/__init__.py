"""`cilium-lb fix`: repair, in place, the findings a rule knows how to repair.

Rules decide *what* to change (`fix(finding, doc) -> Edit | None` next to their `check`);
this package decides *how*: the text is parsed with ruamel.yaml's round-trip composer only to
locate nodes (exact character offsets), and each Edit is a splice of the original text. A
dump of ruamel's round-trip tree would re-render the whole document (indentation of
sequences, flow spacing, line folding, CRLF); splices keep every other byte as it was.
"""
