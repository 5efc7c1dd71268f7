"""Thin ctypes binding to libbpf.so.1 (present on a fresh machine as the `libbpf1` package).

Only what the datapath needs: open/load an object with pinned maps, pin the program, and the
low-level map syscalls (single and batch), map creation for inner Maglev buffers, and
map/program info. Errors raise :class:`BPFError` carrying errno and the operation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno as _errno
import os
import struct
from functools import lru_cache

BPF_MAP_TYPE_ARRAY = 2
BPF_F_MMAPABLE = 1 << 10
BPF_F_INNER_MAP = 1 << 12
BPF_ANY = 0


class BPFError(OSError):
    pass


class MapCreateOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("btf_fd", ctypes.c_uint32),
        ("btf_key_type_id", ctypes.c_uint32),
        ("btf_value_type_id", ctypes.c_uint32),
        ("btf_vmlinux_value_type_id", ctypes.c_uint32),
        ("inner_map_fd", ctypes.c_uint32),
        ("map_flags", ctypes.c_uint32),
        ("map_extra", ctypes.c_uint64),
        ("numa_node", ctypes.c_uint32),
        ("map_ifindex", ctypes.c_uint32),
    ]


class ProgInfo(ctypes.Structure):  # prefix of struct bpf_prog_info (UAPI), up to the name
    _fields_ = [
        ("type", ctypes.c_uint32), ("id", ctypes.c_uint32), ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", ctypes.c_uint32), ("xlated_prog_len", ctypes.c_uint32),
        ("jited_prog_insns", ctypes.c_uint64), ("xlated_prog_insns", ctypes.c_uint64),
        ("load_time", ctypes.c_uint64), ("created_by_uid", ctypes.c_uint32),
        ("nr_map_ids", ctypes.c_uint32), ("map_ids", ctypes.c_uint64), ("name", ctypes.c_char * 16),
    ]


class TestRunOpts(ctypes.Structure):  # struct bpf_test_run_opts (libbpf)
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p), ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32), ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p), ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32), ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32), ("repeat", ctypes.c_int), ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32), ("cpu", ctypes.c_uint32), ("batch_size", ctypes.c_uint32),
    ]


_vp, _int, _u32, _u64, _cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_char_p
_SIGNATURES = {
    "bpf_object__open_file": (_vp, [_cp, _vp]),
    "bpf_object__load": (_int, [_vp]),
    "bpf_object__close": (None, [_vp]),
    "bpf_object__find_map_by_name": (_vp, [_vp, _cp]),
    "bpf_object__find_program_by_name": (_vp, [_vp, _cp]),
    "bpf_map__set_pin_path": (_int, [_vp, _cp]),
    "bpf_program__pin": (_int, [_vp, _cp]),
    "bpf_program__fd": (_int, [_vp]),
    "bpf_program__set_log_buf": (_int, [_vp, _vp, ctypes.c_size_t]),
    "bpf_obj_get": (_int, [_cp]),
    "bpf_map_create": (_int, [_int, _cp, _u32, _u32, _u32, ctypes.POINTER(MapCreateOpts)]),
    "bpf_map_update_elem": (_int, [_int, _vp, _vp, _u64]),
    "bpf_map_lookup_elem": (_int, [_int, _vp, _vp]),
    "bpf_map_delete_elem": (_int, [_int, _vp]),
    "bpf_map_get_next_key": (_int, [_int, _vp, _vp]),
    "bpf_map_update_batch": (_int, [_int, _vp, _vp, ctypes.POINTER(_u32), _vp]),
    "bpf_map_lookup_batch": (_int, [_int, _vp, _vp, _vp, _vp, ctypes.POINTER(_u32), _vp]),
    "bpf_map_get_fd_by_id": (_int, [_u32]),
    "bpf_prog_get_fd_by_id": (_int, [_u32]),
    "bpf_obj_get_info_by_fd": (_int, [_int, _vp, ctypes.POINTER(_u32)]),
    "libbpf_set_print": (_vp, [_vp]),
    "bpf_prog_test_run_opts": (_int, [_int, ctypes.POINTER(TestRunOpts)]),
}


@lru_cache(maxsize=1)
def lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("bpf") or "libbpf.so.1"
    try:
        handle = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError:
        try:
            handle = ctypes.CDLL(name, use_errno=True)
        except OSError as exc:
            raise BPFError(_errno.ENOENT, "libbpf.so.1 not found (install the libbpf1 package)") from exc
    for fn, (res, args) in _SIGNATURES.items():
        f = getattr(handle, fn)
        f.restype, f.argtypes = res, args
    handle.libbpf_set_print(None)  # libbpf would print to stderr; errors are reported as values
    return handle


def _check(rc: int, what: str) -> int:
    if rc < 0:
        err = -rc if rc != -1 else (ctypes.get_errno() or _errno.EIO)
        raise BPFError(err, f"{what}: {os.strerror(err)}")
    return rc


def _buf(data: bytes | bytearray) -> ctypes.Array:
    return (ctypes.c_char * len(data)).from_buffer_copy(data) if data else (ctypes.c_char * 1)()


def obj_get(path: str) -> int:
    return _check(lib().bpf_obj_get(path.encode()), f"bpf_obj_get {path}")


def map_create(name: str, key_size: int, value_size: int, max_entries: int, flags: int) -> int:
    opts = MapCreateOpts(sz=ctypes.sizeof(MapCreateOpts), map_flags=flags)
    return _check(
        lib().bpf_map_create(BPF_MAP_TYPE_ARRAY, name.encode(), key_size, value_size, max_entries,
                             ctypes.byref(opts)),
        f"bpf_map_create {name}",
    )


def update(fd: int, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
    _check(lib().bpf_map_update_elem(fd, _buf(key), _buf(value), flags), "bpf_map_update_elem")


def lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    out = ctypes.create_string_buffer(value_size)
    rc = lib().bpf_map_lookup_elem(fd, _buf(key), out)
    if rc < 0:
        err = -rc if rc != -1 else ctypes.get_errno()
        if err == _errno.ENOENT:
            return None
        _check(rc, "bpf_map_lookup_elem")
    return out.raw


def delete(fd: int, key: bytes) -> bool:
    """Delete `key`; False when it was not there (which is success for a reconciler)."""
    rc = lib().bpf_map_delete_elem(fd, _buf(key))
    if rc < 0:
        err = -rc if rc != -1 else ctypes.get_errno()
        if err == _errno.ENOENT:
            return False
        _check(rc, "bpf_map_delete_elem")
    return True


def keys(fd: int, key_size: int) -> list[bytes]:
    out: list[bytes] = []
    cur = None
    nxt = ctypes.create_string_buffer(key_size)
    for _ in range(1 << 24):  # bounded: no map here holds more entries
        rc = lib().bpf_map_get_next_key(fd, cur, nxt)
        if rc < 0:
            err = -rc if rc != -1 else ctypes.get_errno()
            if err == _errno.ENOENT:
                break
            _check(rc, "bpf_map_get_next_key")
        out.append(nxt.raw)
        cur = _buf(nxt.raw)
    return out


def update_batch(fd: int, keys_blob: bytes, values_blob: bytes, count: int) -> None:
    if count == 0:
        return
    n = ctypes.c_uint32(count)
    _check(lib().bpf_map_update_batch(fd, _buf(keys_blob), _buf(values_blob), ctypes.byref(n), None),
           "bpf_map_update_batch")
    if n.value != count:
        raise BPFError(_errno.EIO, f"bpf_map_update_batch wrote {n.value} of {count}")


def dump_hash(fd: int, key_size: int, value_size: int, max_entries: int) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of a hash map in as few lookup_batch syscalls as possible."""
    chunk = max(1, min(max_entries, 4096))
    keys_buf = (ctypes.c_char * (key_size * chunk))()
    vals_buf = (ctypes.c_char * (value_size * chunk))()
    in_b, out_b = ctypes.c_uint32(0), ctypes.c_uint32(0)
    out: list[tuple[bytes, bytes]] = []
    first = True
    for _ in range(max_entries // chunk + 2 + max_entries):  # bounded
        n = ctypes.c_uint32(chunk)
        rc = lib().bpf_map_lookup_batch(fd, None if first else ctypes.byref(in_b), ctypes.byref(out_b),
                                        keys_buf, vals_buf, ctypes.byref(n), None)
        err = 0
        if rc < 0:
            err = -rc if rc != -1 else ctypes.get_errno()
            if err != _errno.ENOENT:
                _check(rc, "bpf_map_lookup_batch")
        kb, vb = bytes(keys_buf), bytes(vals_buf)
        out.extend((kb[i * key_size:(i + 1) * key_size], vb[i * value_size:(i + 1) * value_size])
                   for i in range(n.value))
        if err == _errno.ENOENT:
            break
        in_b.value, first = out_b.value, False
    return out


def dump_array(fd: int, value_size: int, max_entries: int) -> bytes:
    """All values of an ARRAY map (index order) in one lookup_batch syscall."""
    keys_buf = (ctypes.c_char * (4 * max_entries))()
    vals_buf = (ctypes.c_char * (value_size * max_entries))()
    out_batch = ctypes.c_uint32(0)
    n = ctypes.c_uint32(max_entries)
    rc = lib().bpf_map_lookup_batch(fd, None, ctypes.byref(out_batch), keys_buf, vals_buf,
                                    ctypes.byref(n), None)
    if rc < 0:
        err = -rc if rc != -1 else ctypes.get_errno()
        if err != _errno.ENOENT:  # ENOENT: the batch reached the end of the map
            _check(rc, "bpf_map_lookup_batch")
    if n.value != max_entries:
        raise BPFError(_errno.EIO, f"bpf_map_lookup_batch returned {n.value} of {max_entries}")
    return bytes(vals_buf)


def array_range(fd: int, first: int, count: int, value_size: int) -> bytes | None:
    """Values of keys first..first+count-1 of an array map in one lookup_batch syscall; None
    when some slot in the range is empty (an array of maps can have holes: the batch stops)."""
    keys_buf = (ctypes.c_char * (4 * count))()
    vals_buf = (ctypes.c_char * (value_size * count))()
    in_b, out_b = ctypes.c_uint32(first - 1), ctypes.c_uint32(0)  # the batch starts after in_batch
    n = ctypes.c_uint32(count)
    # a hole ends the batch early (ENOENT, or EINTR after retries): the caller falls back to
    # single lookups, which also report any other error
    lib().bpf_map_lookup_batch(fd, ctypes.byref(in_b) if first else None, ctypes.byref(out_b),
                               keys_buf, vals_buf, ctypes.byref(n), None)
    if n.value != count or bytes(keys_buf) != struct.pack(f"<{count}I", *range(first, first + count)):
        return None
    return bytes(vals_buf)


def prog_test_run(fd: int, packet: bytes, repeat: int = 1, out_size: int = 0) -> tuple[int, bytes, int]:
    """Run a loaded program on `packet` `repeat` times (BPF_PROG_TEST_RUN): (return value, the
    packet as the program left it, mean ns per run as the kernel measured it)."""
    data_in = _buf(packet)
    out = ctypes.create_string_buffer(out_size or len(packet) + 256)
    opts = TestRunOpts(sz=ctypes.sizeof(TestRunOpts), data_in=ctypes.cast(data_in, ctypes.c_void_p),
                       data_out=ctypes.cast(out, ctypes.c_void_p), data_size_in=len(packet),
                       data_size_out=len(out), repeat=max(1, repeat))
    _check(lib().bpf_prog_test_run_opts(fd, ctypes.byref(opts)), "bpf_prog_test_run")
    return opts.retval, out.raw[:opts.data_size_out], opts.duration


BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1


def xdp_live_frames(fd: int, frame: bytes, repeat: int, batch: int = 0) -> None:
    """Run an XDP program `repeat` times on page-pool frames made from `frame`, carrying out
    what it returns (XDP_REDIRECT transmits): BPF_PROG_TEST_RUN with live frames (Linux >=
    5.18); `batch` frames per page-pool batch (0: the kernel's default)."""
    data_in = _buf(frame)
    opts = TestRunOpts(sz=ctypes.sizeof(TestRunOpts), data_in=ctypes.cast(data_in, ctypes.c_void_p),
                       data_size_in=len(frame), repeat=repeat, flags=BPF_F_TEST_XDP_LIVE_FRAMES,
                       batch_size=batch)
    _check(lib().bpf_prog_test_run_opts(fd, ctypes.byref(opts)), "bpf_prog_test_run (live frames)")


def map_fd_by_id(map_id: int) -> int:
    return _check(lib().bpf_map_get_fd_by_id(map_id), f"bpf_map_get_fd_by_id {map_id}")


def prog_info(fd: int) -> ProgInfo:
    info = ProgInfo()
    n = ctypes.c_uint32(ctypes.sizeof(info))
    _check(lib().bpf_obj_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(n)), "prog info")
    return info


def prog_name(prog_id: int) -> str | None:
    """The name a loaded program was given (truncated to 15 bytes), or None when it is gone."""
    fd = lib().bpf_prog_get_fd_by_id(prog_id)
    if fd < 0:
        return None
    try:
        return prog_info(fd).name.decode(errors="replace")
    finally:
        os.close(fd)


def load_object(path: str, map_pins: dict[str, str], program: str, prog_pin: str) -> None:
    """Open and load `path`, reusing (or creating and pinning) each map at its pin path, and pin
    `program` at `prog_pin`. Raises BPFError with the verifier log tail on failure."""
    lb = lib()
    obj = lb.bpf_object__open_file(path.encode(), None)
    if not obj:
        raise BPFError(ctypes.get_errno() or _errno.EINVAL, f"cannot open BPF object {path}")
    log = ctypes.create_string_buffer(1 << 20)
    try:
        for name, pin in map_pins.items():
            m = lb.bpf_object__find_map_by_name(obj, name.encode())
            if not m:
                raise BPFError(_errno.ENOENT, f"map {name} not in {path}")
            _check(lb.bpf_map__set_pin_path(m, pin.encode()), f"pin path {name}")
        prog = lb.bpf_object__find_program_by_name(obj, program.encode())
        if not prog:
            raise BPFError(_errno.ENOENT, f"program {program} not in {path}")
        lb.bpf_program__set_log_buf(prog, log, len(log))
        rc = lb.bpf_object__load(obj)
        if rc < 0:
            tail = log.value.decode(errors="replace").strip().splitlines()[-8:]
            err = -rc if rc != -1 else ctypes.get_errno()
            msg = f"loading {path} failed: {os.strerror(err)}"
            if err == _errno.EINVAL and not tail:
                msg += " (pinned maps of an older layout? `reset` the datapath, then apply)"
            raise BPFError(err, msg + ("\n" + "\n".join(tail) if tail else ""))
        _check(lb.bpf_program__pin(prog, prog_pin.encode()), f"pin {prog_pin}")
    finally:
        lb.bpf_object__close(obj)
