"""Every LBService's vipRef names an LBVIP in the same namespace.

An LBService is a port on a VIP; without its LBVIP there is no address to listen on, and
Isovalent's controller keeps the service at condition `lb.cilium.io/VIPExist=False`. The name
resolves in the LBService's own namespace (LBVIPs are namespaced; there is no cross-namespace
reference). A close name in the namespace is suggested.

Example of a finding:

    vip-service.yaml:7:11: error: LBVIP default/https-prxy does not exist (VIPExist=False);
    did you mean 'https-proxy'? [ref-vip]
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._refs import ref_name, similar

ID = "ref-vip"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for svc in ctx.index.valid("LBService"):
        name = ref_name(svc.spec, "vipRef", "name")
        if name is None or ctx.index.get("LBVIP", svc.namespace, name) is not None:
            continue
        hint = similar(ctx.index, "LBVIP", svc.namespace, name)
        yield Finding(svc, ("spec", "vipRef", "name"),
                      f"LBVIP {svc.namespace}/{name} does not exist (VIPExist=False){hint}")
