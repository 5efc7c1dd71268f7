/* Maglev table fill loop for lbcli.model.maglev_table (optional accelerator).
 *
 * Same algorithm, step for step, as maglev._fill_python (the specification); the Python side
 * validates input, sorts backends and hashes keys, this file only turns digests + weights into
 * slots. Tests compare both byte for byte.
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

static PyMethodDef methods[] = {
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
    return PyModule_Create(&module);
}
