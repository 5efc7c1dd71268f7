"""The Python struct formats (lbcli/agent/datapath/layout.py) match the C structs, through the
BTF of the compiled object; and the Python flow hash matches the kernel's jhash spec."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from lbcli.agent.datapath import layout as L
from lbcli.agent.datapath.flowhash import jhash_3words


@pytest.fixture(scope="module")
def btf_structs(tmp_path_factory):
    if shutil.which("clang") is None or shutil.which("bpftool") is None:
        pytest.skip("needs clang and bpftool to compile the datapath and read its BTF")
    from lbcli.agent.datapath.build import object_path

    out = {}
    for main in ("lb_tc.c", "lb_xdp.c"):
        obj, _ = object_path(tmp_path_factory.mktemp("bpfcache"), main)
        dump = json.loads(subprocess.run(["bpftool", "-j", "btf", "dump", "file", str(obj)],
                                         capture_output=True, text=True, check=True).stdout)
        out[main] = {t["name"]: t for t in dump["types"] if t["kind"] == "STRUCT" and t.get("name")}
    return out


@pytest.mark.parametrize("lay,main", [(lay, "lb_tc.c") for lay in L.ALL + L.XDP_ALL] + [(lay, "lb_xdp.c") for lay in L.ALL + L.XDP_ALL if lay not in L.T1ONLY],
                         ids=lambda v: getattr(v, "c_name", v))
def test_struct_matches_btf(btf_structs, lay, main):
    st = btf_structs[main][lay.c_name]
    assert st["size"] == lay.size
    members = {m["name"]: m["bits_offset"] // 8 for m in st["members"]}
    assert members == lay.offsets()


def test_maps_in_object(btf_structs, tmp_path):
    from lbcli.agent.datapath.build import object_path

    for main, want in (("lb_tc.c", L.MAP_NAMES + L.ENCAP_MAP_NAMES), ("lb_xdp.c", L.XDP_MAP_NAMES)):
        obj, _ = object_path(tmp_path, main)
        out = subprocess.run(["bpftool", "-j", "btf", "dump", "file", str(obj)], capture_output=True, text=True,
                             check=True).stdout
        names = {t["name"] for t in json.loads(out)["types"] if t["kind"] == "VAR"}
        assert set(want) <= names


def test_python_flow_hash_matches_c(tmp_path):
    """Compile lb_jhash.h for the host and compare with the Python mirror on random inputs."""
    if shutil.which("clang") is None:
        pytest.skip("needs clang")
    import random

    from lbcli.agent.datapath.build import source_dir

    rng = random.Random(1)
    cases = [tuple(rng.getrandbits(32) for _ in range(4)) for _ in range(200)]
    src = tmp_path / "h.c"
    src.write_text(
        '#include <stdio.h>\n#include "lb_jhash.h"\nint main(void){unsigned int v[][4]={'
        + ",".join("{%du,%du,%du,%du}" % c for c in cases)
        + '};for(unsigned i=0;i<sizeof v/sizeof v[0];i++)'
        'printf("%u\\n",lb_jhash_3words(v[i][0],v[i][1],v[i][2],v[i][3]));return 0;}\n'
    )
    exe = tmp_path / "h"
    subprocess.run(["clang", "-O1", "-w", "-I", str(source_dir()), str(src), "-o", str(exe)], check=True)
    got = [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    assert got == [jhash_3words(*c) for c in cases]
