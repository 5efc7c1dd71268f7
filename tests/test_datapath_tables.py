"""Plan Maglev tables into the u32 T2 addresses the datapath holds: the C accelerator's one-pass
decode (lbcli.model._maglev.table_addrs) and the Python path give the same bytes, and every
input the C pass does not take (non-canonical base64, wrong length, index out of range) gets
the Python path's answer, error included."""

from __future__ import annotations

import base64
import dataclasses
import random

import pytest

from lbcli.agent.datapath import reconciler as R
from lbcli.lab import DEFAULT
from lbcli.lab.plans import LabService, node_plans
from lbcli.plan.types import NodePlan

pytestmark = pytest.mark.skipif(R._table_addrs is None, reason="C extension _maglev not built")


@pytest.fixture(scope="module")
def table():
    plan = NodePlan.from_json(node_plans(DEFAULT, [LabService("default/echo", "100.64.0.101", 80)])["t1-a"])
    tbl = plan.tier1.maglev_tables[0]
    return tbl, {n.name: n.ip for n in plan.tier1.t2_nodes}


def _both(monkeypatch, tbl, t2_ips):
    out = []
    for accel in (R._table_addrs, None):
        with monkeypatch.context() as m:
            m.setattr(R, "_table_addrs", accel)
            try:
                out.append(R.table_content(tbl, t2_ips))
            except Exception as exc:  # noqa: BLE001 - compared, not swallowed
                out.append(f"{type(exc).__name__}: {exc}")
    return out


def test_same_bytes_as_python(monkeypatch, table):
    tbl, ips = table
    c, py = _both(monkeypatch, tbl, ips)
    assert isinstance(c, bytes) and c == py and len(c) == 4 * tbl.size
    rng = random.Random(3)
    for size in (1, 2, 3, 4, 5, 7, 11, 13, 251):  # every padding case
        for n in (1, len(tbl.t2_nodes)):
            raw = b"".join(rng.randrange(n).to_bytes(2, "little") for _ in range(size))
            t = dataclasses.replace(tbl, table=base64.b64encode(raw).decode(), size=size, t2_nodes=tbl.t2_nodes[:n])
            c, py = _both(monkeypatch, t, ips)
            assert isinstance(c, bytes) and c == py, (size, n)


def test_inputs_the_c_pass_leaves_to_python(monkeypatch, table):
    tbl, ips = table
    text = tbl.table
    raw = bytearray(base64.b64decode(text))
    raw[2 * 7] = 200  # slot 7: an index past the T2 list
    cases = [text[:-4], text + "AAAA", " " + text[1:], text[:8] + "\n" + text[9:], text[:-2] + "==",
             text.replace("A", "=", 1), base64.b64encode(bytes(raw)).decode()]
    for bad in cases:
        c, py = _both(monkeypatch, dataclasses.replace(tbl, table=bad), ips)
        assert c == py, bad[:20]
    assert "index out of range" in c
