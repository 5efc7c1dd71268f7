"""Build the datapath object from the C sources shipped in the package, cached by content.

Cache key: sha256 over the sources and `clang --version`. Cache directory: `cache_dir` if given
(the agent passes `<state-dir>/bpf-cache`), else `$XDG_CACHE_HOME/cilium-lb` or
`~/.cache/cilium-lb`. Writes are atomic (state.replacing: temp file, fsync, rename) so
concurrent builds are safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from lbcli.agent.state import replacing

SOURCES = ("lb_defs.h", "lb_encap.h", "lb_jhash.h", "lb_maps.h", "lb_lookup.h", "lb_xdp_maps.h", "lb_t1only.h", "lb_tc.c",
           "lb_xdp.c")
MAIN = "lb_tc.c"
XDP_MAIN = "lb_xdp.c"  # the XDP flavour (`--datapath xdp`)


class BuildError(RuntimeError):
    pass


def source_dir() -> Path:
    return Path(str(resources.files("lbcli.agent.datapath") / "bpf"))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cilium-lb"


def _clang() -> str:
    clang = shutil.which("clang")
    if clang is None:
        raise BuildError(
            "clang not found: the tier-1 datapath is compiled on first use "
            "(install it, e.g. `apt-get install clang`)"
        )
    return clang


def source_digest(clang_version: str = "") -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update(name.encode() + b"\0" + (source_dir() / name).read_bytes() + b"\0")
    h.update(clang_version.encode())
    return h.hexdigest()


_VERSIONS: dict[tuple[str, int, int], str] = {}


def _clang_version(clang: str) -> str:
    """`clang --version`, asked once per binary (path, inode, mtime) in a process: the agent
    checks the object on every run, and the subprocess was most of a targeted run's time."""
    try:
        st = Path(clang).resolve().stat()
        key = (clang, st.st_ino, st.st_mtime_ns)
    except OSError:
        key = (clang, 0, 0)
    if key not in _VERSIONS:
        _VERSIONS[key] = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False).stdout
    return _VERSIONS[key]


def object_path(cache_dir: Path | None = None, main: str = MAIN) -> tuple[Path, str]:
    """Path of the compiled object of `main` (building it if not cached) and its cache key."""
    clang = _clang()
    digest = source_digest(_clang_version(clang))
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    out = cache / f"{Path(main).stem}-{digest[:16]}.o"
    if out.exists():
        return out, digest
    with replacing(out, 0o644) as tmp:
        proc = subprocess.run(
            [clang, "-O2", "-g", "-target", "bpf", "-Wall", "-Werror=implicit-function-declaration", "-Wno-unused-function",
             "-I", str(source_dir()), "-c", str(source_dir() / main), "-o", str(tmp)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise BuildError(f"clang failed building the datapath:\n{proc.stderr.strip()}")
    return out, digest
