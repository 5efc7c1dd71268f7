"""Every LBService has exactly one application.

An LBService is one port on a VIP served by one proxy mode; with none there is nothing to
serve, with two the intent is ambiguous (which proxy owns the port?) and Isovalent rejects the
object. The schema rejects both shapes too (`minProperties`/`maxProperties`); this rule keeps
the check when the schema is relaxed and says what to do. Applications are httpProxy,
httpsProxy, tlsPassthrough, tlsProxy, tcpProxy and udpProxy; reported at `spec.applications`.

Example of a finding (two applications on one port):

    applications:
      tcpProxy: ...
      udpProxy: ...   # split into two LBServices, one per application
"""

from __future__ import annotations

from typing import Iterator

from ..finding import Context, Finding
from ..problem import Severity
from ._refs import APPLICATION_TYPES, applications

ID = "single-application"
SEVERITY = Severity.ERROR


def check(ctx: Context) -> Iterator[Finding]:
    for svc in ctx.index.valid("LBService"):
        apps = [t for t, _ in applications(svc)]
        if len(apps) == 1:
            continue
        path = ("spec", "applications") if "applications" in svc.spec else ("spec",)
        if not apps:
            yield Finding(svc, path, "LBService has no application; add exactly one of "
                                     + ", ".join(APPLICATION_TYPES), key=True)
        else:
            yield Finding(svc, path, f"LBService has {len(apps)} applications ({', '.join(apps)}); "
                                     "an LBService serves exactly one: use one LBService per "
                                     "application", key=True)
