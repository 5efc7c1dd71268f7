"""The node's pin directory on a bpffs (state files: lbcli.agent.state)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def bpffs_mountpoint(path: Path) -> Path | None:
    """The bpffs mount that holds `path` (the longest mount point prefix must be of type bpf)."""
    path = Path(os.path.abspath(path))
    best, best_type = None, None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            mnt = Path(parts[4].replace("\\040", " "))
            fstype = parts[sep + 1]
            if path == mnt or mnt in path.parents:
                if best is None or len(str(mnt)) >= len(str(best)):
                    best, best_type = mnt, fstype
    return best if best_type == "bpf" else None


def ensure_bpffs(root: Path) -> None:
    """Mount a bpffs at `root` unless `root` already lies on one. Note: under `ip netns exec`
    a mount made here vanishes with the process, so long-lived roots are mounted beforehand."""
    if bpffs_mountpoint(root) is not None:
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "bpf", "bpf", str(root)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"cannot mount bpffs at {root}: {proc.stderr.strip()}")
