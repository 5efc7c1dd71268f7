"""Where a command's manifests come from (files, or a cluster) and the loader's limits: no typer
here, so the plain validate run of main.py can use it (lbcli/cli/loading.py re-exports it)."""

from __future__ import annotations

MAX_FILE_SIZE_HELP = ("Largest manifest file read, e.g. 32M (default), 512K, 0 = no limit; "
                      "also max-file-size in .cilium-lb.yaml.")


def limits_for(cfg, max_file_size: str | None = None):
    """The loader's limits: `--max-file-size` over the config's `max-file-size` over the
    default. ValueError on a malformed size."""
    from ..manifest.limits import Limits, parse_size

    size = cfg.max_file_size
    if max_file_size is not None:
        try:
            size = parse_size(max_file_size)
        except ValueError as e:
            raise ValueError(f"--max-file-size: {e}") from None
    return Limits(max_file_size=size)


def load_any(paths, extra, cfg, limits, kube=None):
    """The LoadResult of files, or of the cluster (plus `extra` files such as --nodes)."""
    from ..manifest.loader import load, load_file

    ignore = cfg.is_ignored if cfg.ignore else None
    if kube is None:
        return load(list(paths) + list(extra or []), ignore=ignore, limits=limits)
    loaded = kube.read()
    if extra:
        for path in load(list(extra), ignore=ignore, limits=limits).files:
            load_file(path, loaded, limits=limits)
    return loaded
