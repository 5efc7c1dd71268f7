"""What the e2e tests that run the real daemons (BIRD, HAProxy, FRR) and agents share: the
skip when this machine cannot run them, and a bounded wait."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest


def need_daemons() -> None:
    """Skip unless root with curl, BIRD, HAProxy, clang and FRR's bgpd."""
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, BPF, daemons")
    for t in ("curl", "bird", "haproxy", "clang"):
        if shutil.which(t) is None:
            pytest.skip(f"needs {t}")
    if not Path("/usr/lib/frr/bgpd").exists():
        pytest.skip("needs FRR")


def until(what: str, cond, timeout: float) -> None:
    """Poll `cond` every 0.1 s for at most `timeout` seconds; AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")
