"""Programming the pinned datapath maps (the layouts are in layout.py / bpf/lb_maps.h).

Maglev tables are double-buffered: logical table `k` owns the inner maps lb_maglev[2k] and
lb_maglev[2k+1] (mmap()able arrays) and lb_tstate[k].active says which one packets read. An
update writes the changed slots of the standby buffer, flips `active` (one word), then brings the
other buffer level, so a packet never sees a half-written table and both buffers hold the same
content at rest. lb_tmeta[k] records the table's identity and the CRC-32C of its content; it is
cleared before a write and set after, so a crash leaves it empty, and an observe trusts it only
while the buffer packets read has that check (every slot read in place, nothing hashed).
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import zlib
from array import array
from functools import lru_cache
from typing import NamedTuple
from itertools import compress
from pathlib import Path

from lbcli.agent.datapath import layout as L
from lbcli.agent.datapath import libbpf as bpf

ZERO_DIGEST = bytes(16)
SvcKey = tuple[str, int, str]  # (vip, port, protocol name)


@lru_cache(maxsize=1)
def possible_cpus() -> int:
    text = Path("/sys/devices/system/cpu/possible").read_text().strip()
    n = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def svc_key_bytes(key: SvcKey) -> bytes:
    vip, port, proto = key
    return L.SVC_KEY.pack(socket.inet_aton(vip), struct.pack(">H", port), L.PROTOCOLS[proto], 0)


def svc_key_from_bytes(raw: bytes) -> SvcKey:
    vip, port, proto, _ = L.SVC_KEY.unpack(raw)
    return socket.inet_ntoa(vip), struct.unpack(">H", port)[0], L.PROTOCOL_NAMES.get(proto, str(proto))


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _buffer_bytes(size: int) -> int:
    return ((size + 1) // 2) * 8


def _crc32c():
    try:
        from lbcli.model._maglev import crc32c
    except ImportError:
        return None
    return crc32c


_CRC32C = _crc32c()


def content_check(buf, length: int | None = None) -> int:
    """The check lb_tmeta records for a table's content and observe verifies the live buffers
    against, read in place (an mmap, no copy): CRC-32C in the C accelerator (GIL released), else
    zlib's CRC-32. Either changes with any change confined to 32 contiguous bits (one slot). A
    table written under one and read under the other fails the check and is rewritten."""
    n = len(buf) if length is None else length
    if _CRC32C is not None:
        return _CRC32C(buf, n)
    with memoryview(buf) as mv:
        return zlib.crc32(mv[:n])


class TableState(NamedTuple):  # (a tuple: a thousand are made on every observe)
    size: int
    active: int
    # the identity lb_tmeta records, or None when the live content is not what it was recorded
    # for: a buffer's check differs from the recorded one (a slot changed behind the agent's
    # back, a write interrupted, or pinned by a version that recorded no check)
    digest: bytes | None
    buffers: tuple[int, int]  # inner map ids (0 = missing)


class TableReader:
    """Reads Maglev buffers back from the kernel, kept across observes (the agent observes
    every period and after every event). Every observe reads every slot of the buffer packets
    read: a CRC-32C, in place through a kept mapping (no copy), against the check lb_tmeta
    records with the table's identity at write time; the identity holds only when they agree. The mappings are keyed by (inner map id, size): a map id names one map while it
    lives, and the open mapping keeps that map alive until keep() or close() lets it go."""

    def __init__(self) -> None:
        self._mm: dict[tuple[int, int], mmap.mmap] = {}

    def _map(self, map_id: int, size: int) -> mmap.mmap:
        mm = self._mm.get((map_id, size))
        if mm is None:
            fd = bpf.map_fd_by_id(map_id)
            try:
                mm = mmap.mmap(fd, _buffer_bytes(size))
            finally:
                os.close(fd)
            self._mm[(map_id, size)] = mm
        return mm

    def content(self, map_id: int, size: int) -> bytes:
        return self._map(map_id, size)[: 4 * size]

    def verified(self, buffer: int, size: int, identity: bytes | None, check: int) -> bytes | None:
        """`identity` when the buffer packets read has content with lb_tmeta's `check`, else
        None. The standby buffer is not checked: packets never read it, and an update writes
        every slot in which it differs from the new content (_write_changed compares the live
        slots), so a changed standby slot is repaired before the flip without being drift."""
        if identity is None:
            return None
        m = self._mm.get((buffer, size)) or self._map(buffer, size)
        return identity if content_check(m, 4 * size) == check else None

    def adopt(self, map_id: int, size: int, mm: mmap.mmap) -> None:
        """A buffer just created through mapping `mm` (kept, not reopened)."""
        old = self._mm.pop((map_id, size), None)
        if old is not None:
            old.close()
        self._mm[(map_id, size)] = mm

    def drop(self, map_ids: set[int]) -> None:
        """Close the mappings of these buffers (their tables were deleted)."""
        for key in [k for k in self._mm if k[0] in map_ids]:
            self._mm.pop(key).close()

    def keep(self, buffers: set[tuple[int, int]]) -> None:
        """Let go of every mapping but these (buffers of tables deleted or replaced)."""
        for key in [k for k in self._mm if k not in buffers]:
            self._mm.pop(key).close()

    def close(self) -> None:
        self.keep(set())


class PinnedMaps:
    """File descriptors of the pinned maps under one node's pin directory."""

    def __init__(self, pin_dir: Path):
        self.pin_dir = Path(pin_dir)
        self.fd: dict[str, int] = {}
        self.reader: TableReader | None = None  # told of the buffers this object writes
        try:
            for name in L.MAP_NAMES:
                self.fd[name] = bpf.obj_get(str(self.pin_dir / name))
        except bpf.BPFError:
            self.close()
            raise

    def close(self) -> None:
        for fd in self.fd.values():
            os.close(fd)
        self.fd = {}

    def __enter__(self) -> PinnedMaps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- config ---------------------------------------------------------------------------
    def read_cfg(self) -> dict:
        raw = bpf.lookup(self.fd["lb_cfg"], struct.pack("<I", 0), L.CFG.size)
        ifindex, vni, seed, mac, _ = L.CFG.unpack(raw)
        return {"tun_ifindex": ifindex, "vni": vni, "hash_seed": seed, "src_mac": mac_str(mac)}

    def write_cfg(self, ifindex: int, vni: int, seed: int, src_mac: str) -> None:
        bpf.update(self.fd["lb_cfg"], struct.pack("<I", 0),
                   L.CFG.pack(ifindex, vni, seed, mac_bytes(src_mac), 0))

    # -- T2 nodes -------------------------------------------------------------------------
    def read_t2(self) -> dict[str, str]:
        fd, out = self.fd["lb_t2"], {}
        for k in bpf.keys(fd, 4):
            raw = bpf.lookup(fd, k, L.T2.size)
            if raw is not None:
                out[socket.inet_ntoa(k)] = mac_str(L.T2.unpack(raw)[0])
        return out

    def set_t2(self, ip: str, mac: str) -> None:
        bpf.update(self.fd["lb_t2"], socket.inet_aton(ip), L.T2.pack(mac_bytes(mac), 0))

    def delete_t2(self, ip: str) -> None:
        bpf.delete(self.fd["lb_t2"], socket.inet_aton(ip))

    # -- services -------------------------------------------------------------------------
    def read_services(self) -> dict[SvcKey, tuple[int, int]]:
        """{(vip, port, proto): (table, counter id)}"""
        return {k: (t, i) for k, (t, i, _) in self.read_service_entries().items()}

    def read_service_entries(self) -> dict[SvcKey, tuple[int, int, int]]:
        """{(vip, port, proto): (table, counter id, flags)} in one dump of lb_svc."""
        raw = bpf.dump_hash(self.fd["lb_svc"], L.SVC_KEY.size, L.SVC.size, L.MAX_SERVICES)
        return {svc_key_from_bytes(k): L.SVC.unpack(v)[:3] for k, v in raw}

    def put_services(self, entries: list[tuple[SvcKey, int, int]], flags: dict[SvcKey, int] | None = None) -> None:
        """Create or repoint services in one batch: (key, table, counter id); `flags` by key
        (L.SVC_F_*, 0 when absent: a two-tier service)."""
        flags = flags or {}
        keys = b"".join(svc_key_bytes(k) for k, _, _ in entries)
        vals = b"".join(L.SVC.pack(t, i, flags.get(k, 0), 0) for k, t, i in entries)
        bpf.update_batch(self.fd["lb_svc"], keys, vals, len(entries))

    # -- t1-only services (bpf/lb_t1only.h) -------------------------------------------------
    def read_backends(self) -> dict[int, tuple[str, int]]:
        out = {}
        for k, raw in bpf.dump_hash(self.fd["lb_be"], 4, L.BE.size, L.MAX_BACKENDS):
            addr, port, _ = L.BE.unpack(raw)
            out[struct.unpack("=I", k)[0]] = (socket.inet_ntoa(addr), struct.unpack(">H", port)[0])
        return out

    def put_backends(self, entries: list[tuple[int, str, int]]) -> None:
        keys = array("I", [i for i, _, _ in entries]).tobytes()
        vals = b"".join(L.BE.pack(socket.inet_aton(ip), struct.pack(">H", port), 0) for _, ip, port in entries)
        bpf.update_batch(self.fd["lb_be"], keys, vals, len(entries))

    def delete_backend(self, bid: int) -> None:
        bpf.delete(self.fd["lb_be"], struct.pack("=I", bid))

    def read_natcfg(self) -> tuple[str, int, int]:
        raw = bpf.lookup(self.fd["lb_natcfg"], struct.pack("<I", 0), L.NATCFG.size)
        ip, lo, count = L.NATCFG.unpack(raw)
        return socket.inet_ntoa(ip), lo, count

    def write_natcfg(self, ip: str, port_min: int, port_count: int) -> None:
        bpf.update(self.fd["lb_natcfg"], struct.pack("<I", 0), L.NATCFG.pack(socket.inet_aton(ip), port_min, port_count))

    def delete_service(self, key: SvcKey) -> None:
        bpf.delete(self.fd["lb_svc"], svc_key_bytes(key))

    def zero_counters(self, ids: list[int]) -> None:
        zero = bytes(L.COUNTER.size * possible_cpus())
        bpf.update_batch(self.fd["lb_stats"], array("I", ids).tobytes(), zero * len(ids), len(ids))

    def read_counter(self, sid: int) -> tuple[int, int]:
        n = possible_cpus()
        raw = bpf.lookup(self.fd["lb_stats"], struct.pack("<I", sid), L.COUNTER.size * n) or b""
        packets = bytes_ = 0
        for c in range(len(raw) // L.COUNTER.size):
            p, b = L.COUNTER.unpack(raw[c * L.COUNTER.size:(c + 1) * L.COUNTER.size])
            packets, bytes_ = packets + p, bytes_ + b
        return packets, bytes_

    def read_gstats(self) -> dict[str, int]:
        """Datapath-wide counters: lb_gstats, then the t1-only path's lb_natstats."""
        n, out = possible_cpus(), {}
        for m, names in (("lb_gstats", list(enumerate(L.GSTATS)) + list(L.XDP_GSTATS.items())),
                         ("lb_natstats", list(enumerate(L.NAT_STATS)))):
            for i, name in names:
                raw = bpf.lookup(self.fd[m], struct.pack("<I", i), 8 * n) or b""
                out[name] = sum(struct.unpack(f"<{len(raw) // 8}Q", raw))
        return out

    # -- Maglev tables --------------------------------------------------------------------
    def _buffer_id(self, idx: int) -> int:
        raw = bpf.lookup(self.fd["lb_maglev"], struct.pack("<I", idx), 4)
        return struct.unpack("<I", raw)[0] if raw else 0

    def _buffer_ids(self, ks: list[int]) -> dict[int, int]:
        """Inner map ids of both buffers of tables `ks`: one batch per run of consecutive
        tables, one lookup per slot where a run has a hole."""
        out: dict[int, int] = {}
        i = 0
        while i < len(ks):
            j = i
            while j + 1 < len(ks) and ks[j + 1] == ks[j] + 1:
                j += 1
            first, count = 2 * ks[i], 2 * (ks[j] - ks[i] + 1)
            raw = bpf.array_range(self.fd["lb_maglev"], first, count, 4)
            if raw is not None:
                out.update(zip(range(first, first + count), array("I", raw)))
            else:
                out.update((s, self._buffer_id(s)) for s in range(first, first + count))
            i = j + 1
        return out

    def read_tables(self, reader: TableReader | None = None) -> dict[int, TableState]:
        """Logical tables in use (lb_tstate size > 0). The identity is lb_tmeta's only while
        the live content of the buffer packets read has the check recorded with it (TableReader.verified):
        a slot changed behind the agent's back is drift (identity None), which the reconciler
        repairs by rewriting the differing slots.
        `reader`: one kept across observes (the mappings stay open); without one, a reader for
        this call only."""
        out: dict[int, TableState] = {}
        states = bpf.dump_array(self.fd["lb_tstate"], L.TSTATE.size, L.MAX_TABLES)
        tstates = list(L.TSTATE.iter_unpack(states))
        used = [k for k, (_, size) in enumerate(tstates) if size]
        if not used:
            if reader is not None:
                reader.keep(set())
            return out
        metas = bpf.dump_array(self.fd["lb_tmeta"], L.TMETA.size, L.MAX_TABLES)
        ids = self._buffer_ids(used)
        own = reader is None
        reader = reader or TableReader()
        tmetas = list(L.TMETA.iter_unpack(metas))
        try:
            for k in used:  # (a free table's buffers, left by an interrupted create, are overwritten on reuse)
                active, size = tstates[k]
                mdigest, msize, mcheck = tmetas[k]
                b0, b1 = ids[2 * k], ids[2 * k + 1]
                recorded = mdigest if msize == size and mdigest != ZERO_DIGEST and b0 and b1 else None
                live = (b0, b1)[active & 1]
                out[k] = TableState(size, active & 1, reader.verified(live, size, recorded, mcheck), (b0, b1))
            reader.keep({(ts.buffers[ts.active], ts.size) for ts in out.values()})
        finally:
            if own:
                reader.close()
        return out

    @staticmethod
    def read_buffer(map_id: int, size: int) -> bytes:
        fd = bpf.map_fd_by_id(map_id)
        try:
            with mmap.mmap(fd, _buffer_bytes(size)) as mm:
                return mm[: 4 * size]
        finally:
            os.close(fd)

    def read_table(self, k: int) -> bytes | None:
        ts = bpf.lookup(self.fd["lb_tstate"], struct.pack("<I", k), L.TSTATE.size)
        if not ts:
            return None
        active, size = L.TSTATE.unpack(ts)
        bid = self._buffer_id(2 * k + (active & 1))
        return self.read_buffer(bid, size) if size and bid else None

    def create_tables(self, tables: list[tuple[int, bytes]], digests: list[bytes]) -> None:
        """New logical tables (k, content) with their identities: both buffers written in full,
        then one batch each for lb_maglev, lb_tmeta (identity and check) and lb_tstate (last:
        the table becomes usable)."""
        if not tables:
            return
        checks = [content_check(c) for _, c in tables]
        fds: list[int] = []
        mms: dict[int, tuple[int, mmap.mmap]] = {}  # outer slot -> (size, mapping)
        try:
            outer_keys, outer_vals = array("I"), array("I")
            for k, content in tables:
                size = len(content) // 4
                for b in (0, 1):
                    fd = bpf.map_create(f"lb_mg{k}_{b}", 4, 8, (size + 1) // 2,
                                        bpf.BPF_F_INNER_MAP | bpf.BPF_F_MMAPABLE)
                    fds.append(fd)
                    mm = mmap.mmap(fd, _buffer_bytes(size))
                    mms[2 * k + b] = (size, mm)
                    mm[: len(content)] = content
                    outer_keys.append(2 * k + b)
                    outer_vals.append(fd)
            bpf.update_batch(self.fd["lb_maglev"], outer_keys.tobytes(), outer_vals.tobytes(), len(outer_keys))
            if self.reader is not None:  # the next observe checks them through these mappings
                ids = self._buffer_ids(sorted(k for k, _ in tables))  # (a batch read, not a syscall per map)
                for slot, (size, mm) in mms.items():
                    self.reader.adopt(ids[slot], size, mm)
                mms = {}
        finally:
            for _, mm in mms.values():
                mm.close()
            for fd in fds:
                os.close(fd)
        ks = array("I", [k for k, _ in tables]).tobytes()
        metas = b"".join(L.TMETA.pack(d, len(c) // 4, x) for (_, c), d, x in zip(tables, digests, checks))
        states = b"".join(L.TSTATE.pack(0, len(c) // 4) for _, c in tables)
        bpf.update_batch(self.fd["lb_tmeta"], ks, metas, len(tables))
        bpf.update_batch(self.fd["lb_tstate"], ks, states, len(tables))

    def update_table(self, k: int, content: bytes, digest: bytes) -> int:
        """Bring table k to `content` through the standby buffer; returns the slots written to
        the standby buffer (the same number again levels the other one afterwards)."""
        size = len(content) // 4
        key = struct.pack("<I", k)
        raw = bpf.lookup(self.fd["lb_tstate"], key, L.TSTATE.size)
        active, cur_size = L.TSTATE.unpack(raw) if raw else (0, 0)
        if cur_size not in (0, size):
            raise ValueError(f"table {k}: size {cur_size} != {size}; create a new table instead")
        active &= 1
        ids = (self._buffer_id(2 * k), self._buffer_id(2 * k + 1))
        if not all(ids):
            raise ValueError(f"table {k}: buffers missing")
        bpf.update(self.fd["lb_tmeta"], key, L.TMETA.pack(ZERO_DIGEST, size, 0))
        standby = 1 - active
        written = _write_changed(ids[standby], content)
        bpf.update(self.fd["lb_tstate"], key, L.TSTATE.pack(standby, size))
        _write_changed(ids[active], content)
        bpf.update(self.fd["lb_tmeta"], key, L.TMETA.pack(digest, size, content_check(content)))
        return written

    def delete_tables(self, ks: list[int]) -> None:
        """Free logical tables: state and meta cleared, then both buffers replaced in one batch by
        a one-element placeholder (dropping the old buffers). Every map-in-map syscall waits for
        an RCU grace period and array-of-maps has no batch delete, so a batch update it is."""
        if not ks:
            return
        old = set(self._buffer_ids(sorted(ks)).values()) if self.reader is not None else set()
        keys = array("I", ks).tobytes()
        bpf.update_batch(self.fd["lb_tstate"], keys, L.TSTATE.pack(0, 0) * len(ks), len(ks))
        bpf.update_batch(self.fd["lb_tmeta"], keys, L.TMETA.pack(ZERO_DIGEST, 0, 0) * len(ks), len(ks))
        slots = array("I", [2 * k + b for k in ks for b in (0, 1)])
        fd = bpf.map_create("lb_mg_free", 4, 8, 1, bpf.BPF_F_INNER_MAP | bpf.BPF_F_MMAPABLE)
        try:
            fds = array("I", [fd] * len(slots))
            bpf.update_batch(self.fd["lb_maglev"], slots.tobytes(), fds.tobytes(), len(slots))
        finally:
            os.close(fd)
        if old:
            self.reader.drop(old)  # the last references to the old buffers: they are freed now


def changed_slots(old: bytes, new: bytes) -> list[int]:
    """Slot numbers where two u32 tables of equal length differ: XOR as one big integer, then
    the non-zero words picked by itertools.compress (all at C speed)."""
    if len(old) != len(new):
        raise ValueError(f"tables differ in length: {len(old)} != {len(new)} bytes")
    if old == new:
        return []
    diff = (int.from_bytes(old, "little") ^ int.from_bytes(new, "little")).to_bytes(len(new), "little")
    words = array("I", diff)
    return list(compress(range(len(words)), words))


def _changed_slots_fn():
    try:
        from lbcli.model._maglev import changed
    except ImportError:
        return changed_slots
    return lambda old, new: changed(memoryview(old).cast("I"), memoryview(new).cast("I"))


def _write_changed(map_id: int, content: bytes) -> int:
    size = len(content) // 4
    fd = bpf.map_fd_by_id(map_id)
    try:
        with mmap.mmap(fd, _buffer_bytes(size)) as mm:
            slots = _CHANGED(mm[: 4 * size], content)
            if slots:
                view = memoryview(mm).cast("I")
                new = memoryview(content).cast("I")
                try:
                    for s in slots:
                        view[s] = new[s]
                finally:
                    view.release()
                    new.release()
            return len(slots)
    finally:
        os.close(fd)


_CHANGED = _changed_slots_fn()  # the C accelerator's loop when built
