"""The one meaning of each resource, used by lint, compile and the node alike.

Each module answers one question once (which application an LBService has, which labels a
pool's serviceSelector sees, how a Secret value decodes, which htpasswd lines HAProxy can
check, which BGP families and communities a node speaks, ...), so lint and compile cannot
disagree about it. Depends on `lbcli.manifest` only; the modules a node imports (`apps`,
`htpasswd`, `tls`, `tunnel`, `maglev`, `bgp`) depend on nothing but `lbcli.grammar`,
a plain module. This file imports nothing on purpose.
"""
