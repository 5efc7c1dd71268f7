"""Maglev lookup tables: paper algorithm, weights, determinism, disruption, C == Python."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from array import array
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbcli.compile import maglev
from lbcli.compile.maglev import (
    DEFAULT_TABLE_SIZE,
    HASH_PERSON,
    MAX_WEIGHT,
    SUPPORTED_SIZES,
    build_table,
    build_table_reference,
    changed_slots,
    is_prime,
    permutation_params,
    sorted_backends,
)

REPO = Path(__file__).resolve().parents[1]
SMALL_SIZES = (251, 509, 1021)
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

needs_accel = pytest.mark.skipif(not maglev.accelerated(), reason="C extension _maglev not built")


def _keys(n: int, rng: random.Random) -> list[str]:
    keys: set[str] = set()
    while len(keys) < n:
        keys.add(f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}:{rng.randrange(1, 65536)}")
    return sorted(keys)


keys_st = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=24),
    min_size=1, max_size=12, unique=True,
)


@st.composite
def backends_st(draw, max_weight: int = 1):
    keys = draw(keys_st)
    weights = draw(st.lists(st.integers(1, max_weight), min_size=len(keys), max_size=len(keys)))
    return list(zip(keys, weights))


# ---------------------------------------------------------------- independent transcriptions

def paper_populate(keys: list[str], m: int) -> list[int]:
    """Pseudocode 1 of the NSDI'16 paper, transcribed literally (full permutation lists)."""
    permutation = []
    for key in keys:
        offset, skip = permutation_params(key, m)
        permutation.append([(offset + j * skip) % m for j in range(m)])
    n = len(keys)
    nxt = [0] * n
    entry = [-1] * m
    filled = 0
    while True:
        for i in range(n):
            c = permutation[i][nxt[i]]
            while entry[c] >= 0:
                nxt[i] += 1
                c = permutation[i][nxt[i]]
            entry[c] = i
            nxt[i] += 1
            filled += 1
            if filled == m:
                return entry


def weighted_populate(backends: list[tuple[str, int]], m: int) -> list[int]:
    """The documented weight scheme stated differently: in round r backend i takes a turn
    when floor(r * w_i / max_w) grows."""
    max_w = max(w for _, w in backends)
    perms = []
    for key, _ in backends:
        offset, skip = permutation_params(key, m)
        perms.append([(offset + j * skip) % m for j in range(m)])
    nxt = [0] * len(backends)
    entry = [-1] * m
    filled = 0
    r = 0
    while True:
        r += 1
        for i, (_, w) in enumerate(backends):
            if (r * w) // max_w == ((r - 1) * w) // max_w:
                continue
            while entry[perms[i][nxt[i]]] >= 0:
                nxt[i] += 1
            entry[perms[i][nxt[i]]] = i
            nxt[i] += 1
            filled += 1
            if filled == m:
                return entry


# ---------------------------------------------------------------- sizes and primes

def test_is_prime_matches_sieve():
    limit = 70000
    sieve = bytearray([1]) * limit
    sieve[0] = sieve[1] = 0
    for p in range(2, int(limit**0.5) + 1):
        if sieve[p]:
            sieve[p * p::p] = bytearray(len(sieve[p * p::p]))
    assert [n for n in range(limit) if is_prime(n)] == [n for n in range(limit) if sieve[n]]


def test_is_prime_large_and_pseudoprimes():
    assert is_prime(2**31 - 1) and is_prime(2**61 - 1)
    # Carmichael numbers and strong pseudoprimes to several small bases are composite.
    for n in (561, 1105, 1729, 2047, 3215031751, 2152302898747, 3474749660383, 341550071728321):
        assert not is_prime(n), n
    assert not is_prime(-7) and not is_prime(0) and not is_prime(1)


def test_supported_sizes():
    assert DEFAULT_TABLE_SIZE == 65537
    assert set(SUPPORTED_SIZES) == {251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 65537}
    assert list(SUPPORTED_SIZES) == sorted(SUPPORTED_SIZES)
    assert all(is_prime(m) for m in SUPPORTED_SIZES)


@pytest.mark.parametrize("m", [0, 1, 4, 1000, 65536, 65535, 2**31 + 11, True, 251.0, "251"])
def test_non_prime_or_bad_size_refused(m):
    with pytest.raises(ValueError):
        build_table([("a", 1)], m)
    with pytest.raises(ValueError):
        build_table_reference([("a", 1)], m)


@pytest.mark.parametrize(
    "backends, message",
    [
        ([], "without backends"),
        ([("a", 0)], "outside"),
        ([("a", -1)], "outside"),
        ([("a", MAX_WEIGHT + 1)], "outside"),
        ([("a", True)], "integer"),
        ([("a", 1.5)], "integer"),
        ([("", 1)], "non-empty"),
        ([(b"a", 1)], "non-empty string"),
        ([("a", 1), ("b", 2), ("a", 3)], "duplicate"),
    ],
)
def test_bad_backends_refused(backends, message):
    for build in (build_table, build_table_reference):
        with pytest.raises(ValueError, match=message):
            build(backends, 251)


def test_more_backends_than_slots_refused():
    with pytest.raises(ValueError, match="do not fit"):
        build_table([(str(i), 1) for i in range(252)], 251)


# ---------------------------------------------------------------- hashing and ordering

def test_hash_is_the_documented_blake2b():
    for key in ("172.18.0.7:8080", "t2-node-a", "nöde-ü"):
        d = hashlib.blake2b(key.encode("utf-8"), digest_size=16, person=HASH_PERSON).digest()
        h1, h2 = int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")
        for m in (251, 65537):
            assert permutation_params(key, m) == (h1 % m, h2 % (m - 1) + 1)


def test_sorted_backends_orders_by_key():
    got = sorted_backends([("b", 2), ("a", 1), ("10.0.0.2:80", 3), ("10.0.0.10:80", 1)])
    assert got == [("10.0.0.10:80", 1), ("10.0.0.2:80", 3), ("a", 1), ("b", 2)]


@PROPS
@given(backends=backends_st(max_weight=5), m=st.sampled_from(SMALL_SIZES), data=st.data())
def test_input_order_independent(backends, m, data):
    shuffled = data.draw(st.permutations(backends))
    assert build_table(shuffled, m) == build_table(backends, m)
    assert build_table_reference(shuffled, m) == build_table_reference(backends, m)
    assert sorted_backends(shuffled) == sorted(backends)


def test_identical_across_processes():
    """Children with other PYTHONHASHSEEDs, with and without the C extension, build the same
    bytes as this process."""
    rng = random.Random(11)
    backends = [(k, rng.randint(1, 4)) for k in _keys(50, rng)]
    mine = hashlib.sha256(build_table(backends, DEFAULT_TABLE_SIZE).tobytes()).hexdigest()
    code = (
        "import sys, json, hashlib\n"
        "if sys.argv[1] == 'no-accel':\n"
        "    sys.modules['lbcli.model._maglev'] = None  # import fails: pure-Python fallback\n"
        "from lbcli.compile import maglev\n"
        "assert sys.argv[1] == 'accel' or not maglev.accelerated()\n"
        "b = [tuple(x) for x in json.loads(sys.stdin.read())]\n"
        "print(hashlib.sha256(maglev.build_table(b, 65537).tobytes()).hexdigest())\n"
        "print(hashlib.sha256(maglev.build_table_reference(b, 65537).tobytes()).hexdigest())\n"
    )
    variants = [("0", "accel"), ("12345", "accel"), ("random", "no-accel")]
    for seed, mode in variants:
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
        out = subprocess.run(
            [sys.executable, "-c", code, mode], input=json.dumps(backends), env=env,
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout.split()
        assert out == [mine, mine], (seed, mode)


# ---------------------------------------------------------------- the paper's algorithm

@PROPS
@given(keys=keys_st, m=st.sampled_from(SMALL_SIZES))
def test_matches_paper_pseudocode(keys, m):
    backends = [(k, 1) for k in keys]
    expected = paper_populate([k for k, _ in sorted_backends(backends)], m)
    assert build_table_reference(backends, m).tolist() == expected
    assert build_table(backends, m).tolist() == expected


@PROPS
@given(backends=backends_st(max_weight=20), m=st.sampled_from(SMALL_SIZES))
def test_weighted_matches_round_formula(backends, m):
    expected = weighted_populate(sorted_backends(backends), m)
    assert build_table_reference(backends, m).tolist() == expected
    assert build_table(backends, m).tolist() == expected


@PROPS
@given(backends=backends_st(max_weight=50), m=st.sampled_from(SUPPORTED_SIZES[:6]))
def test_every_slot_filled_with_a_backend(backends, m):
    table = build_table(backends, m)
    assert isinstance(table, array) and table.typecode == "i" and len(table) == m
    assert min(table) >= 0 and max(table) < len(backends)
    if len({w for _, w in backends}) == 1:  # equal weights: N <= 12 < M, so everyone is in
        assert set(table) == set(range(len(backends)))


# ---------------------------------------------------------------- shares

@pytest.mark.parametrize("n, m", [(1, 251), (2, 251), (7, 1021), (100, 16381), (100, 65537), (1000, 65537)])
def test_equal_weights_give_equal_shares(n, m):
    """Every round gives each backend one slot, so counts differ by at most one; with
    M > 100*N that is within 1 % of M/N (paper, section 3.4)."""
    counts = Counter(build_table([(k, 1) for k in _keys(n, random.Random(n))], m))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert len(counts) == n
    if m > 100 * n:
        assert all(abs(c - m / n) <= 0.01 * m / n for c in counts.values())


@PROPS
@given(backends=backends_st(max_weight=100), m=st.sampled_from((1021, 16381, 65537)))
def test_weights_give_proportional_shares(backends, m):
    """After R rounds backend i has floor(R*w_i/max_w) turns (+1 in the last partial round),
    one slot per turn. Summing over backends bounds R, which gives
    |count_i - M*w_i/W| <= 1 + N*w_i/W (a couple of slots, whatever M)."""
    ordered = sorted_backends(backends)
    total = sum(w for _, w in ordered)
    n = len(ordered)
    counts = Counter(build_table(backends, m))
    for i, (_, w) in enumerate(ordered):
        assert abs(counts[i] - m * w / total) <= 1 + n * w / total + 1e-9


def test_weighted_share_example():
    """1 : 2 : 7 over 65537 slots -> 10 % / 20 % / 70 %."""
    counts = Counter(build_table([("a", 1), ("b", 2), ("c", 7)], 65537))
    for i, share in enumerate((0.1, 0.2, 0.7)):
        assert abs(counts[i] / 65537 - share) < 1e-4


# ---------------------------------------------------------------- disruption

def _removal_ratio(keys: list[str], gone: int, m: int) -> float:
    """Changed slots / the removed backend's slots (the ideal: only its slots move)."""
    before = build_table([(k, 1) for k in keys], m)
    after = build_table([(k, 1) for i, k in enumerate(keys) if i != gone], m)
    # After removal indexes above `gone` shift down by one: compare by backend, not index.
    back = array("i", [i if i < gone else i + 1 for i in range(len(keys) - 1)])
    after_as_before = array("i", [back[i] for i in after])
    changed = changed_slots(before, after_as_before)
    owned = [s for s, b in enumerate(before) if b == gone]
    assert set(owned) <= set(changed)  # its slots must all move, to remaining backends
    return len(changed) / len(owned)


@pytest.mark.parametrize("n", [2, 5, 10, 20])
def test_removing_one_backend_moves_about_its_share(n):
    """Maglev is not minimally disruptive: other backends' slots move too, and the excess
    grows with N (measured over 300 removals at M=65537: mean 1.001 at N=3, 1.024 at N=10,
    1.067 at N=20, 1.22 at N=50, 1.57 at N=100). The 1.1x-of-ideal target holds where
    M/N >= ~3000, i.e. up to N=20 at the default size: the mean must stay <= 1.1, and a single
    removal may be unlucky (hash skips that are multiples of each other; worst seen 1.13) so
    each one only gets 1.25."""
    rng = random.Random(1000 + n)
    ratios = []
    for _ in range(12):
        keys = _keys(n, rng)
        ratios.append(_removal_ratio(keys, rng.randrange(n), DEFAULT_TABLE_SIZE))
    assert sum(ratios) / len(ratios) <= 1.1, ratios
    assert max(ratios) <= 1.25, ratios


@PROPS
@given(keys=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=8, unique=True), data=st.data())
def test_removal_then_readd_restores_table(keys, data):
    gone = data.draw(st.integers(0, len(keys) - 1))
    m = 1021
    full = build_table([(k, 1) for k in keys], m)
    rest = [(k, 1) for i, k in enumerate(keys) if i != gone]
    build_table(rest, m)
    assert build_table(rest + [(keys[gone], 1)], m) == full


# ---------------------------------------------------------------- changed_slots

@PROPS
@given(
    old=st.lists(st.integers(-1, 5), min_size=0, max_size=300),
    flips=st.sets(st.integers(0, 299)),
)
def test_changed_slots(old, flips):
    new = [v + 1 if i in flips else v for i, v in enumerate(old)]
    expected = sorted(i for i in flips if i < len(old))
    assert changed_slots(old, new) == expected
    assert changed_slots(array("i", old), array("i", new)) == expected
    assert changed_slots(array("i", old), array("i", old)) == []


def test_changed_slots_size_mismatch():
    with pytest.raises(ValueError, match="sizes differ"):
        changed_slots(array("i", [0] * 251), array("i", [0] * 509))


# ---------------------------------------------------------------- C accelerator == reference

@needs_accel
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backends=backends_st(max_weight=MAX_WEIGHT), m=st.sampled_from(SMALL_SIZES + (2039, 4093)))
def test_c_and_python_tables_identical(backends, m):
    assert build_table(backends, m).tobytes() == build_table_reference(backends, m).tobytes()


@needs_accel
@pytest.mark.parametrize("n, m, max_w", [(100, 65537, 1), (1000, 65537, 1), (300, 65537, 10), (1000, 16381, 3)])
def test_c_and_python_identical_large(n, m, max_w):
    rng = random.Random(n * m + max_w)
    backends = [(k, rng.randint(1, max_w)) for k in _keys(n, rng)]
    assert build_table(backends, m).tobytes() == build_table_reference(backends, m).tobytes()


@needs_accel
def test_c_extension_rejects_bad_buffers():
    from lbcli.model import _maglev

    table = array("i", [0]) * 251
    digest = bytes(16)
    with pytest.raises(ValueError):
        _maglev.fill(table, digest * 2, array("I", [1]))  # digests do not match weights
    with pytest.raises(ValueError):
        _maglev.fill(table, digest, array("I", [0]))  # weight 0
    with pytest.raises(TypeError):
        _maglev.fill(bytes(1004), digest, array("I", [1]))  # read-only table
    with pytest.raises(ValueError, match="prime"):
        _maglev.fill(array("i", [0]) * 250, digest, array("I", [1]))
    with pytest.raises(ValueError):
        _maglev.changed(array("i", [1, 2]), array("i", [1]))


def _crc32c_reference(data: bytes) -> int:
    """CRC-32C bit by bit (RFC 3720 B.4: reflected 0x82F63B78, init and final xor ~0)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


@needs_accel
def test_crc32c_matches_the_reference():
    """The datapath's table check (CRC-32C): the instruction path (three interleaved chains
    combined, from 3 KiB on) and the table path agree with a bit-by-bit reference, for lengths
    around the interleave's edges, and `length` reads a prefix in place."""
    import mmap

    from lbcli.model import _maglev

    assert _maglev.crc32c(b"123456789") == 0xE3069283  # the standard check value
    rng = random.Random(32)
    for n in (0, 1, 7, 8, 9, 3071, 3072, 3073, 3080, 3095, 4 * 1021, 4 * 16381):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        want = _crc32c_reference(data)
        assert _maglev.crc32c(data) == want == _maglev.crc32c(data, -1, False), n
        if n > 4:
            assert _maglev.crc32c(data, n - 4) == _crc32c_reference(data[:-4])
    data = bytearray(rng.getrandbits(8) for _ in range(4 * 16381))
    before = _maglev.crc32c(data)
    for slot in (0, 5460, 5461, 10922, 16380):  # any one slot changed, in each third: the check changes
        data[4 * slot + 2] ^= 0x10
        assert _maglev.crc32c(data) != before
        data[4 * slot + 2] ^= 0x10
    with mmap.mmap(-1, 8192) as mm:  # read in place; the mapping can be closed afterwards
        mm[:9] = b"123456789"
        assert _maglev.crc32c(mm, 9) == 0xE3069283
    with pytest.raises(ValueError):
        _maglev.crc32c(b"abc", 4)
