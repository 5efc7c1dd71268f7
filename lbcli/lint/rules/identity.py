"""Object names, namespaces and node names are safe to use as file and config names.

A resource's name becomes part of the names cilium-lb generates: a Node's name is its plan file
`<node>.json`, its state directory `<state-dir>/<node>/` and its pin directory
`<bpf-root>/<node>/`; `namespace/name` of services, pools and secrets name HAProxy frontends,
backends and user lists. So `metadata.name` must be a DNS subdomain name (lowercase letters,
digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters),
`metadata.namespace` a DNS label (the same without '.', at most 63), and a Node's name fit in a
file name (at most 250 characters, for `<node>.json`).

The `schema` rule says the same about names, but this rule cannot be switched off: neither a
suppression comment (`# cilium-lb: ignore-file=...`, even `all`) nor a severity in the config
file hides it, since a name such as `../../x` would otherwise make `compile -o DIR` write
outside DIR. Where both rules report the same name, only this rule's finding is shown.

Bad:

    kind: Node
    metadata:
      name: ../../x

Good:

    kind: Node
    metadata:
      name: lb-t1-1
"""

from __future__ import annotations

from typing import Iterator

from ...manifest.resource import CLUSTER_SCOPED
from ...grammar import K8S_NAME, K8S_NAMESPACE
from ...plan.names import MAX_NODE_NAME, name_problem, namespace_problem, node_name_problem
from ..finding import Context, Finding
from ..problem import Severity

ID = "identity"
SEVERITY = Severity.ERROR
PHASE = 0
UNSUPPRESSIBLE = True  # the engine applies neither suppressions nor config severities to it


def check(ctx: Context) -> Iterator[Finding]:
    # the common case is one grammar match each; anything else gets the full reading, which
    # says what is wrong. Namespaces repeat (a few per set): each is matched once.
    good_ns: set[str] = set()
    for res in ctx.index.resources:
        extra = res.extra
        if extra and (extra.get("unknown") or extra.get("foreign")):
            continue  # an unknown kind is never compiled (and is an error of its own)
        meta = res.body.get("metadata")
        if not isinstance(meta, dict):
            yield Finding(res, (), f"{res.kind} has no metadata.name: every object needs a name")
            continue
        name = meta.get("name")
        if K8S_NAME.match(name) and len(name) <= MAX_NODE_NAME:
            pass  # a valid name for every kind, nodes included (MAX_NODE_NAME < MAX_NAME)
        elif name is None:
            yield Finding(res, ("metadata",), f"{res.kind} has no metadata.name: every object needs a name", key=True)
        else:
            why = node_name_problem(name) if res.kind == "Node" else name_problem(name)
            if why is not None:
                what = "node name" if res.kind == "Node" else f"{res.kind} name"
                yield Finding(res, ("metadata", "name"), f"metadata.name: {what} {why}")
        if res.kind not in CLUSTER_SCOPED and "namespace" in meta:
            ns = meta["namespace"]
            if type(ns) is str and ns in good_ns:
                continue
            if K8S_NAMESPACE.match(ns):
                good_ns.add(ns)
                continue
            why = namespace_problem(ns)
            if why is not None:
                yield Finding(res, ("metadata", "namespace"), f"metadata.namespace: namespace {why}")
