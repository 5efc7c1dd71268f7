"""nftables through its JSON API: `nft -j -f -` with a JSON document on stdin, `nft -j list`
read back as JSON (never the text syntax). One table belongs to cilium-lb; it is replaced in one
transaction (add + delete + add in a single document: the kernel applies all or nothing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

TIMEOUT = 30


class NftError(RuntimeError):
    pass


def _nft(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("nft")
    if exe is None:
        raise NftError("nft (nftables) is not installed: masquerade and bandwidth marking need it")
    return subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def run(commands: list[dict]) -> None:
    """Run a list of JSON commands as one transaction."""
    proc = _nft(["-j", "-f", "-"], json.dumps({"nftables": commands}))
    if proc.returncode != 0:
        raise NftError(f"nft: {proc.stderr.strip() or 'failed'}")


def list_table(family: str, name: str) -> list[dict] | None:
    """The objects of table `family name` as `nft -j` lists them (metainfo dropped); None when
    the table does not exist."""
    proc = _nft(["-j", "list", "table", family, name])
    if proc.returncode != 0:
        if "No such file" in proc.stderr or "does not exist" in proc.stderr:
            return None
        raise NftError(f"nft list table {family} {name}: {proc.stderr.strip()}")
    doc: Any = json.loads(proc.stdout or "{}")
    return [o for o in doc.get("nftables", []) if "metainfo" not in o]


def replace_table(family: str, name: str, chains: list[dict], rules: list[dict]) -> None:
    """Make the table hold exactly `chains` and `rules` (atomically)."""
    t = {"family": family, "name": name}
    cmds: list[dict] = [{"add": {"table": t}}, {"delete": {"table": t}}, {"add": {"table": t}}]
    cmds += [{"add": {"chain": {"family": family, "table": name, **c}}} for c in chains]
    cmds += [{"add": {"rule": {"family": family, "table": name, **r}}} for r in rules]
    run(cmds)


def delete_table(family: str, name: str) -> bool:
    """False when there was no such table."""
    if list_table(family, name) is None:
        return False
    run([{"delete": {"table": {"family": family, "name": name}}}])
    return True
