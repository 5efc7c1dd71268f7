"""L7 drift is read from the running HAProxy, not only from the files it was given: frontends
and backends from `show stat` (its CSV), servers' addresses and states from `show servers
state`. Each kind of difference gets the least disruptive repair (runtime API, else a seamless
reload). The real daemon is exercised in tests/e2e/test_agent.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lbcli.agent.l7.reconciler import (FrontendEnable, Install, L7Observed, L7Reconciler, ServerAddr,
                                       ServerReady)
from lbcli.agent.l7.runtime import ADMIN_FORCED_MAINT, parse_stat_rows
from lbcli.agent.reconciler import NodeContext
from tests.test_l7_render import fake_secrets, plan_for

STAT = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,"
    "act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type\n"
    "fe_x,FRONTEND,,,0,0,9985,0,0,0,0,0,0,,,,,PAUSED,,,,,,,,,1,2,0,,,,0\n"
    "bk_x,s1,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,3,1,0,,,1,,,1,3,1,,0,,2\n"
    "bk_x,BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,3,1,0,,0,1,0,,1,3,0,,0,,1\n"
)


def test_show_stat_rows_by_type():
    rows = parse_stat_rows(STAT)
    assert [(r.kind, r.proxy, r.name, r.status) for r in rows] == [
        ("backend", "bk_x", "BACKEND", "UP"), ("frontend", "fe_x", "FRONTEND", "PAUSED"),
        ("server", "bk_x", "s1", "no check")]


def _converged(tmp_path: Path):
    rec = L7Reconciler(NodeContext("t2-a", tmp_path, tmp_path / "bpf"))
    plan = plan_for("http")
    d = rec.desired(plan, fake_secrets())
    r = d.rendered
    from lbcli.agent.l7.reconciler import _names

    obs = L7Observed(
        running=True, master_pid=1, config=r.config, users_sha256=hashlib.sha256(r.users.encode()).hexdigest(),
        files={k: hashlib.sha256(v.content).hexdigest() for k, v in r.files.items()},
        servers={k: (w, 0) for k, w in r.weights.items()},
        frontends={f: "OPEN" for f in _names(r.config, "frontend")},
        backends=frozenset(_names(r.config, "backend")),
        addresses=dict(r.addresses))
    return rec, d, obs


def test_a_converged_process_needs_nothing(tmp_path):
    rec, d, obs = _converged(tmp_path)
    assert d.rendered.addresses  # the case has IP servers whose address is compared
    assert rec.diff(d, obs) == []


def test_a_paused_frontend_is_enabled_through_the_socket(tmp_path):
    rec, d, obs = _converged(tmp_path)
    fe = sorted(f for f in obs.frontends if f != "health")[0]
    obs.frontends[fe] = "PAUSED"
    (ch,) = rec.diff(d, obs)
    assert ch.spec == FrontendEnable(fe) and ch.object == f"frontend {fe}"


def test_a_stopped_or_missing_frontend_takes_a_seamless_reload(tmp_path):
    rec, d, obs = _converged(tmp_path)
    fe = sorted(f for f in obs.frontends if f != "health")[0]
    obs.frontends[fe] = "STOP"
    (ch,) = rec.diff(d, obs)
    assert isinstance(ch.spec, Install) and not ch.spec.start and f"frontend {fe} STOP" in ch.detail
    del obs.frontends[fe]
    (ch,) = rec.diff(d, obs)
    assert f"running process lacks frontend {fe}" in ch.detail


def test_servers_moved_missing_or_in_maint(tmp_path):
    rec, d, obs = _converged(tmp_path)
    (be, srv), (addr, port) = sorted(obs.addresses.items())[0]
    obs.addresses[(be, srv)] = ("10.9.9.9", 1)
    obs.servers[(be, srv)] = (obs.servers[(be, srv)][0], ADMIN_FORCED_MAINT)
    changes = rec.diff(d, obs)
    assert {type(c.spec) for c in changes} == {ServerReady, ServerAddr}
    moved = next(c for c in changes if isinstance(c.spec, ServerAddr))
    assert moved.spec == ServerAddr(be, srv, addr, port) and "10.9.9.9:1 ->" in moved.detail
    del obs.addresses[(be, srv)]
    (ch,) = rec.diff(d, obs)
    assert isinstance(ch.spec, Install) and f"lacks server {be}/{srv}" in ch.detail


def test_a_missing_backend_takes_a_reload(tmp_path):
    rec, d, obs = _converged(tmp_path)
    be = sorted(obs.backends)[0]
    obs.backends = obs.backends - {be}
    (ch,) = rec.diff(d, obs)
    assert isinstance(ch.spec, Install) and f"lacks backend {be}" in ch.detail
