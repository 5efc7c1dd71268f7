/* Maglev table fill loop for lbcli.model.maglev_table (optional accelerator).
 *
 * Same algorithm, step for step, as maglev._fill_python (the specification); the Python side
 * validates input, sorts backends and hashes keys, this file only turns digests + weights into
 * slots. Tests compare both byte for byte.
 *
 * Also crc32c(), the check the tier-1 datapath verifies live Maglev buffers with
 * (lbcli/agent/datapath/maps.py): read in place from the mmap()ed map, GIL released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

/* Trial division: M < 2**31, so at most ~23k divisions. Guards direct callers: with a composite
 * M a permutation can cycle over a subset of slots and a turn would never end. */
static int is_prime_u32(uint32_t m)
{
    if (m < 2) return 0;
    if (m % 2 == 0) return m == 2;
    for (uint32_t d = 3; (uint64_t)d * d <= m; d += 2)
        if (m % d == 0) return 0;
    return 1;
}

/* Returns 0 on success, -1 when out of memory. Caller guarantees 1 <= n <= m, m prime. */
static int maglev_fill(int32_t *table, uint32_t m, const unsigned char *digests,
                       const uint32_t *weights, uint32_t n)
{
    uint32_t *pos = malloc(sizeof(uint32_t) * n);
    uint32_t *skip = malloc(sizeof(uint32_t) * n);
    uint64_t *credit = calloc(n, sizeof(uint64_t));
    /* Probing tests "slot taken" in a bitmap (8 KiB for M=65537, stays in L1) instead of
     * reading the 256 KiB table: most of the time goes to probing late in the fill. */
    uint64_t *taken = calloc(((size_t)m + 63) / 64, sizeof(uint64_t));
    if (!pos || !skip || !credit || !taken) {
        free(pos); free(skip); free(credit); free(taken);
        return -1;
    }
    uint32_t max_w = 0, min_w = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        pos[i] = (uint32_t)(load_le64(digests + 16 * (size_t)i) % m);
        skip[i] = (uint32_t)(load_le64(digests + 16 * (size_t)i + 8) % (m - 1) + 1);
        if (weights[i] > max_w) max_w = weights[i];
        if (weights[i] < min_w) min_w = weights[i];
    }
    for (uint32_t s = 0; s < m; s++)
        table[s] = -1;

    const int uniform = (min_w == max_w);
    uint32_t filled = 0;
    for (;;) {
        for (uint32_t i = 0; i < n; i++) {
            if (!uniform) {
                uint64_t c = credit[i] + weights[i];
                if (c < max_w) {
                    credit[i] = c;
                    continue;
                }
                credit[i] = c - max_w;
            }
            uint64_t p = pos[i];
            const uint64_t s = skip[i];
            while (taken[p >> 6] & (1ULL << (p & 63))) {
                p += s;
                if (p >= m) p -= m;
            }
            taken[p >> 6] |= 1ULL << (p & 63);
            table[p] = (int32_t)i;
            p += s;
            if (p >= m) p -= m;
            pos[i] = (uint32_t)p;
            if (++filled == m)
                goto done;
        }
    }
done:
    free(pos); free(skip); free(credit); free(taken);
    return 0;
}

/* fill(table: writable int32 buffer of M items, digests: 16*N bytes, weights: uint32 buffer of
 * N items) -> None */
static PyObject *py_fill(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer tb, db, wb;
    if (!PyArg_ParseTuple(args, "w*y*y*", &tb, &db, &wb))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t m = tb.len / 4, n = wb.len / 4;
    if (tb.itemsize != 4 || wb.itemsize != 4 || tb.len % 4 || wb.len % 4) {
        PyErr_SetString(PyExc_TypeError, "table and weights must be 4-byte item buffers");
        goto out;
    }
    if (m < 2 || m > INT32_MAX || n < 1 || n > m || db.len != 16 * n) {
        PyErr_SetString(PyExc_ValueError, "need 1 <= N <= M, 2 <= M < 2**31, 16*N digest bytes");
        goto out;
    }
    if (!is_prime_u32((uint32_t)m)) {
        PyErr_SetString(PyExc_ValueError, "table size M must be prime");
        goto out;
    }
    const uint32_t *w = wb.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (w[i] == 0) {
            PyErr_SetString(PyExc_ValueError, "weights must be >= 1");
            goto out;
        }
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = maglev_fill(tb.buf, (uint32_t)m, db.buf, w, (uint32_t)n);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto out;
    }
    result = Py_None;
    Py_INCREF(result);
out:
    PyBuffer_Release(&tb);
    PyBuffer_Release(&db);
    PyBuffer_Release(&wb);
    return result;
}

/* changed(old, new: int32 buffers of equal length) -> list[int] of differing indices */
static PyObject *py_changed(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer ob, nb;
    if (!PyArg_ParseTuple(args, "y*y*", &ob, &nb))
        return NULL;
    PyObject *list = NULL;
    if (ob.itemsize != 4 || nb.itemsize != 4 || ob.len != nb.len) {
        PyErr_SetString(PyExc_ValueError, "need two int32 buffers of equal length");
        goto out;
    }
    list = PyList_New(0);
    if (!list)
        goto out;
    const int32_t *a = ob.buf, *b = nb.buf;
    Py_ssize_t len = ob.len / 4;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (a[i] != b[i]) {
            PyObject *idx = PyLong_FromSsize_t(i);
            if (!idx || PyList_Append(list, idx) < 0) {
                Py_XDECREF(idx);
                Py_CLEAR(list);
                goto out;
            }
            Py_DECREF(idx);
        }
    }
out:
    PyBuffer_Release(&ob);
    PyBuffer_Release(&nb);
    return list;
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78; init and final xor 0xFFFFFFFF): the SSE4.2
 * instruction where the CPU has it, else a table. Any change confined to 32 contiguous bits
 * changes it. */
static uint32_t crc32c_table[256];

static void crc32c_init_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        crc32c_table[i] = c;
    }
}

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* Multiplication modulo the polynomial, reflected (zlib's multmodp), and x^(8n) mod P: to
 * combine the CRCs of consecutive pieces, crc(AB) = crc(A) * x^(8|B|) ^ crc(B) (zlib's
 * crc32_combine; the init and final xor cancel out). */
static uint32_t crc32c_multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return p;
}

static uint32_t crc32c_x8n(size_t n)
{
    uint32_t p = 1u << 31, sq = 1u << 30; /* x^0, x^1 */
    size_t bits = n * 8;
    while (bits) {
        if (bits & 1)
            p = crc32c_multmodp(sq, p);
        sq = crc32c_multmodp(sq, sq);
        bits >>= 1;
    }
    return p;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CRC32C_HW 1
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n)
{
    /* three independent chains over three equal pieces (the instruction's latency is three
     * times its throughput), combined at the end */
    if (n >= 3 * 1024) {
        size_t third = (n / 24) * 8;
        const unsigned char *p1 = p + third, *p2 = p + 2 * third;
        uint64_t c0 = crc, c1 = 0xFFFFFFFFu, c2 = 0xFFFFFFFFu;
        for (size_t i = 0; i < third; i += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p + i, 8);
            memcpy(&v1, p1 + i, 8);
            memcpy(&v2, p2 + i, 8);
            c0 = __builtin_ia32_crc32di(c0, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        /* c1, c2 started from ~0 like a fresh CRC: as final values (xor ~0) they combine */
        uint32_t x = crc32c_x8n(third);
        uint32_t a = crc32c_multmodp(x, (uint32_t)c0 ^ 0xFFFFFFFFu) ^ ((uint32_t)c1 ^ 0xFFFFFFFFu);
        a = crc32c_multmodp(x, a) ^ ((uint32_t)c2 ^ 0xFFFFFFFFu);
        crc = a ^ 0xFFFFFFFFu; /* back to a running register */
        p += 3 * third;
        n -= 3 * third;
    }
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

static int crc32c_use_hw;

/* crc32c(buffer, length=-1, hw=True) -> int: of the first `length` bytes (all when -1); hw=False
 * takes the table path (tests compare the two) */
static PyObject *py_crc32c(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b;
    Py_ssize_t length = -1;
    int hw = 1;
    if (!PyArg_ParseTuple(args, "y*|np", &b, &length, &hw))
        return NULL;
    if (length > b.len) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "length exceeds the buffer");
        return NULL;
    }
    if (length >= 0)
        b.len = length;
    uint32_t crc;
    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_CRC32C_HW
    if (crc32c_use_hw && hw)
        crc = crc32c_hw(0xFFFFFFFFu, b.buf, (size_t)b.len);
    else
#endif
        crc = crc32c_sw(0xFFFFFFFFu, b.buf, (size_t)b.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(crc ^ 0xFFFFFFFFu);
}

/* table_addrs(table_b64: str, size, addrs: 4*N bytes) -> bytes | None: a plan's Maglev table
 * (base64 of `size` u16 LE indices into its T2 list) as the u32 T2 addresses the datapath
 * holds, slot by slot; None when the text is not canonical base64 (the standard alphabet, '='
 * padding only, no whitespace), decodes to another length, or an index is out of range: the
 * caller's Python path then decodes it or names the error. */
static signed char b64_value[256];

static void b64_init(void)
{
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(b64_value, -1, sizeof b64_value);
    for (int i = 0; i < 64; i++)
        b64_value[(unsigned char)alphabet[i]] = (signed char)i;
}

static PyObject *py_table_addrs(PyObject *self, PyObject *args)
{
    (void)self;
    const char *text;
    Py_ssize_t text_len, size;
    Py_buffer ab;
    if (!PyArg_ParseTuple(args, "s#ny*", &text, &text_len, &size, &ab))
        return NULL;
    PyObject *out = NULL;
    unsigned char *raw = NULL;
    Py_ssize_t n = ab.len / 4, want = 2 * size;
    if (size < 1 || ab.len % 4 || n < 1 || text_len % 4 || text_len / 4 * 3 < want
        || text_len / 4 * 3 - want > 2) {
        out = Py_None;
        Py_INCREF(out);
        goto done;
    }
    raw = malloc((size_t)text_len / 4 * 3);
    out = PyBytes_FromStringAndSize(NULL, 4 * size);
    if (!raw || !out) {
        Py_CLEAR(out);
        if (!raw)
            PyErr_NoMemory();
        goto done;
    }
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *t = (const unsigned char *)text;
    Py_ssize_t got = 0, pad = 0, last = text_len - 4;
    int bad = 0;
    for (Py_ssize_t i = 0; i < last; i += 4) { /* every quantum but the last: no padding */
        int v0 = b64_value[t[i]], v1 = b64_value[t[i + 1]], v2 = b64_value[t[i + 2]], v3 = b64_value[t[i + 3]];
        bad |= v0 | v1 | v2 | v3; /* negative: not in the alphabet */
        uint32_t q = ((uint32_t)v0 << 18) | ((uint32_t)v1 << 12) | ((uint32_t)v2 << 6) | (uint32_t)v3;
        raw[got] = (unsigned char)(q >> 16);
        raw[got + 1] = (unsigned char)(q >> 8);
        raw[got + 2] = (unsigned char)q;
        got += 3;
    }
    if (bad < 0)
        ok = 0;
    if (ok && last >= 0) {
        const unsigned char *e = t + last;
        int v[4];
        pad = e[3] == '=' ? (e[2] == '=' ? 2 : 1) : 0;
        for (int j = 0; j < 4; j++) {
            v[j] = j >= 4 - pad ? 0 : b64_value[e[j]];
            if (v[j] < 0)
                ok = 0;
        }
        uint32_t q = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
        raw[got++] = (unsigned char)(q >> 16);
        raw[got++] = (unsigned char)(q >> 8);
        raw[got++] = (unsigned char)q;
    }
    if (ok && got - pad != want)
        ok = 0;
    const unsigned char *a = ab.buf;
    uint32_t *o = (uint32_t *)PyBytes_AS_STRING(out), *av = malloc(sizeof(uint32_t) * (size_t)n);
    if (!av)
        ok = 0;
    else
        memcpy(av, a, 4 * (size_t)n);
    uint32_t over = 0;
    for (Py_ssize_t s = 0; s < size && ok; s++) {
        uint32_t idx = (uint32_t)raw[2 * s] | ((uint32_t)raw[2 * s + 1] << 8);
        over |= idx >= (uint32_t)n;
        o[s] = av[idx < (uint32_t)n ? idx : 0];
    }
    if (over)
        ok = 0;
    free(av);
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_DECREF(out);
        out = Py_None;
        Py_INCREF(out);
    }
done:
    free(raw);
    PyBuffer_Release(&ab);
    return out;
}

static PyMethodDef methods[] = {
    {"table_addrs", py_table_addrs, METH_VARARGS,
     "table_addrs(table_b64, size, addrs): a plan Maglev table as u32 T2 addresses, or None."},
    {"crc32c", py_crc32c, METH_VARARGS,
     "crc32c(buffer, length=-1): CRC-32C of the first `length` bytes of a buffer (read in place)."},
    {"fill", py_fill, METH_VARARGS, "fill(table, digests, weights): Maglev fill loop in place."},
    {"changed", py_changed, METH_VARARGS, "changed(old, new): indices where two int32 tables differ."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_maglev", "Maglev fill loop (C accelerator).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__maglev(void)
{
    crc32c_init_table();
    b64_init();
#ifdef HAVE_CRC32C_HW
    __builtin_cpu_init();
    crc32c_use_hw = __builtin_cpu_supports("sse4.2");
#endif
    return PyModule_Create(&module);
}
