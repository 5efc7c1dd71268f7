/* Finding positions from libyaml's events, in C (optional accelerator of positions.py).
 *
 * positions.PositionIndex._stream_locate (the specification) walks PyYAML's CParser events in
 * Python: PyYAML makes an event object with two Mark objects per event (~2 us each), which was
 * most of what a finding cost. This file runs the same walk over the same libyaml events, with
 * nothing made per event, and answers what the Python walk answers, including where libyaml
 * refuses the text. Tests compare both on every path of many documents.
 *
 * Positions are packed as in positions.py: line << 32 | column, both 0-based, from libyaml's
 * marks (columns in characters), as PyYAML reports them: it hands libyaml the str encoded as
 * UTF-8 and lets libyaml detect the encoding (which skips a leading byte order mark without
 * counting it; set explicitly, the mark would count as a column), which is what is done here.
 *
 * Bounded on hostile input: no recursion (libyaml's parser is a state machine with heap stacks;
 * the walks here keep a counter, or one frame per path step, or a heap stack that grows with
 * the nesting of the text read), the parser and every event are freed on every path, and no
 * Python object is touched while the GIL is released. Time: one pass over the events, but
 * libyaml's own time grows with the square of flow nesting (PyYAML's parse of the same text
 * too): the loader refuses documents nested deeper than 100 levels before anything is located.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

#define PACK(m) (((int64_t)(m).line << 32) | (int64_t)(m).column)

/* The position PyYAML's exception carries, as positions.yaml_error_issue reads it: the problem
 * mark, else the context mark; a reader error (control character) or an out-of-memory error
 * has neither and is reported at 0:0. */
static int64_t error_pos(const yaml_parser_t *p)
{
    if (p->error == YAML_SCANNER_ERROR || p->error == YAML_PARSER_ERROR) {
        if (p->problem) return PACK(p->problem_mark);
        if (p->context) return PACK(p->context_mark);
    }
    return 0;
}

/* The text as PyYAML's CParser gives it to libyaml: UTF-8, encoding detected. A str that
 * cannot be encoded (a lone surrogate) makes CParser raise UnicodeEncodeError, which positions.py
 * reports at 0:0: NULL here, with no Python error set. */
static PyObject *utf8_of(PyObject *text)
{
    PyObject *b = PyUnicode_AsUTF8String(text);
    if (!b) PyErr_Clear();
    return b;
}

static void start_parser(yaml_parser_t *parser, PyObject *utf8)
{
    yaml_parser_set_input_string(parser, (const unsigned char *)PyBytes_AS_STRING(utf8),
                                 (size_t)PyBytes_GET_SIZE(utf8));
}

#define IS_START(t) ((t) == YAML_MAPPING_START_EVENT || (t) == YAML_SEQUENCE_START_EVENT)
#define IS_END(t) ((t) == YAML_MAPPING_END_EVENT || (t) == YAML_SEQUENCE_END_EVENT)

/* ---- locate: one path, streamed, stops at the end of the target ------------------------- */

typedef struct {
    const char *name;  /* the step as a mapping key: the str's UTF-8, or str(step)'s; NULL: none */
    Py_ssize_t len;
    long long index;   /* the step as a sequence index (an int, bool included); -1: none */
} step_t;

typedef struct {  /* an open collection on the path (positions.py's frame list) */
    char is_map, want_key, key_on;  /* key_on: the current key equals this level's step */
    long long index;                /* a sequence's current item */
    int64_t kpos;                   /* the current key's position */
} frame_t;

typedef struct {
    const step_t *steps;
    Py_ssize_t n;           /* path length; frames never outnumber it */
    int key;
    frame_t *frames;
    Py_ssize_t depth;
    uint64_t skip;          /* depth inside a subtree off the path or a complex key */
    int skip_key;
    uint64_t tail;          /* depth inside the target collection, read to its end */
    int64_t best, found, result;
} walk_t;

static void next_child(walk_t *w)
{
    if (w->depth) {
        frame_t *f = &w->frames[w->depth - 1];
        if (f->is_map) f->want_key = 1;
        else f->index++;
    }
}

/* One event of _stream_locate's loop; 1 when the walk is over (w->result set). */
static int on_event(walk_t *w, const yaml_event_t *e)
{
    yaml_event_type_t t = e->type;
    if (w->tail) {  /* _skip_subtree: a parse error before the target's end is the answer */
        if (IS_START(t)) w->tail++;
        else if (IS_END(t) && --w->tail == 0) { w->result = w->found; return 1; }
        return 0;
    }
    if (w->skip) {
        if (IS_START(t)) w->skip++;
        else if (IS_END(t) && --w->skip == 0 && !w->skip_key) next_child(w);
        return 0;
    }
    if (IS_END(t)) { w->result = w->best; return 1; }  /* closed without the next step */
    if (!IS_START(t) && t != YAML_SCALAR_EVENT && t != YAML_ALIAS_EVENT) return 0;
    int64_t pos = PACK(e->start_mark);
    frame_t *f = w->depth ? &w->frames[w->depth - 1] : NULL;
    if (f && f->is_map && f->want_key) {  /* a mapping key: remember whether it is the step */
        const step_t *s = &w->steps[w->depth - 1];
        f->want_key = 0;
        f->kpos = pos;
        f->key_on = t == YAML_SCALAR_EVENT && s->name && (Py_ssize_t)e->data.scalar.length == s->len
                    && memcmp(e->data.scalar.value, s->name, (size_t)s->len) == 0;
        if (IS_START(t)) { w->skip = 1; w->skip_key = 1; }  /* a complex key: never on a path */
        return 0;
    }
    if (f && !(f->is_map ? f->key_on : f->index == w->steps[w->depth - 1].index)) {
        if (IS_START(t)) { w->skip = 1; w->skip_key = 0; }
        else next_child(w);
        return 0;
    }
    if (w->depth == w->n) {
        w->found = w->key && f && f->is_map ? f->kpos : pos;
        if (IS_START(t)) { w->tail = 1; return 0; }
        w->result = w->found;
        return 1;
    }
    w->best = pos;
    if (!IS_START(t)) { w->result = pos; return 1; }  /* a scalar or alias: nothing deeper */
    frame_t *g = &w->frames[w->depth++];
    g->is_map = t == YAML_MAPPING_START_EVENT;
    g->want_key = 1;
    g->key_on = 0;
    g->index = 0;
    g->kpos = 0;
    return 0;
}

/* Runs the walk; returns the packed position, or -1 - the error's position when libyaml
 * refuses the text before the walk ends. No Python calls: runs without the GIL. */
static int64_t run_walk(walk_t *w, PyObject *utf8)
{
    yaml_parser_t parser;
    yaml_event_t e;
    if (!yaml_parser_initialize(&parser)) return -1;  /* out of memory: PyYAML's MemoryError, 0:0 */
    start_parser(&parser, utf8);
    int64_t r;
    for (;;) {
        if (!yaml_parser_parse(&parser, &e)) { r = -1 - error_pos(&parser); break; }
        if (e.type == YAML_NO_EVENT || e.type == YAML_STREAM_END_EVENT) {
            /* the events ran out: what the Python loop returns after its `for` */
            r = w->tail ? w->found : w->best;
            yaml_event_delete(&e);
            break;
        }
        int done = on_event(w, &e);
        yaml_event_delete(&e);
        if (done) { r = w->result; break; }
    }
    yaml_parser_delete(&parser);
    return r;
}

PyDoc_STRVAR(locate_doc,
"locate(text, path, key) -> int\n\n"
"What positions.PositionIndex._stream_locate answers: the packed position (line << 32 | column)\n"
"of the value at path (of its key when key), or of the deepest existing ancestor; or -1 - the\n"
"packed position of the error when libyaml refuses the text first.");

static PyObject *py_locate(PyObject *self, PyObject *args)
{
    PyObject *text, *path;
    int key;
    if (!PyArg_ParseTuple(args, "UOp:locate", &text, &path, &key)) return NULL;
    PyObject *seq = PySequence_Fast(path, "path must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    /* the str objects the step names point into, held here: a list path could be changed by
     * another thread while the walk runs without the GIL */
    PyObject *owned = PyList_New(0);
    step_t *steps = PyMem_Calloc((size_t)n + 1, sizeof(step_t));
    frame_t *frames = PyMem_Calloc((size_t)n + 1, sizeof(frame_t));
    PyObject *result = NULL;
    if (!owned || !steps || !frames) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *step = PySequence_Fast_GET_ITEM(seq, i);
        step_t *s = &steps[i];
        s->index = -1;
        if (PyLong_Check(step)) {  /* isinstance(step, int) and index == step */
            int overflow;
            long long v = PyLong_AsLongLongAndOverflow(step, &overflow);
            if (v == -1 && PyErr_Occurred()) goto done;
            if (!overflow && v >= 0) s->index = v;
        }
        /* key == step or key == str(step): both are the text of str(step) for a str key */
        PyObject *name = PyUnicode_Check(step) ? Py_NewRef(step) : PyObject_Str(step);
        if (!name || PyList_Append(owned, name) < 0) {
            Py_XDECREF(name);
            goto done;
        }
        Py_DECREF(name);
        s->name = PyUnicode_AsUTF8AndSize(name, &s->len);
        if (!s->name) PyErr_Clear();  /* a lone surrogate: equals no key libyaml can give */
    }
    PyObject *utf8 = utf8_of(text);
    if (!utf8) { result = PyLong_FromLongLong(-1); goto done; }  /* PyYAML: UnicodeEncodeError, 0:0 */
    walk_t w = {.steps = steps, .n = n, .key = key, .frames = frames};
    int64_t r;
    Py_BEGIN_ALLOW_THREADS
    r = run_walk(&w, utf8);
    Py_END_ALLOW_THREADS
    Py_DECREF(utf8);
    result = PyLong_FromLongLong(r);
done:
    PyMem_Free(steps);
    PyMem_Free(frames);
    Py_XDECREF(owned);
    Py_DECREF(seq);
    return result;
}

/* ---- tree: every node of the document, in event order (positions._Tree's arrays) -------- */

typedef struct {  /* a growable array of int64 */
    int64_t *v;
    size_t n, cap;
} vec_t;

static int push(vec_t *a, int64_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int64_t *v = PyMem_Realloc(a->v, cap * sizeof(int64_t));
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static PyObject *as_bytes(const vec_t *a)
{
    return PyBytes_FromStringAndSize((const char *)a->v, (Py_ssize_t)(a->n * sizeof(int64_t)));
}

PyDoc_STRVAR(tree_doc,
"tree(text) -> (pos, kpos, keys, kind, end) | int\n\n"
"What positions._tree_arrays makes from the events (pos, kpos and end as native int64 bytes,\n"
"kind as int8 bytes, keys a list of str or None), or -1 - the packed error position when\n"
"libyaml refuses the text.");

static PyObject *py_tree(PyObject *self, PyObject *args)
{
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U:tree", &text)) return NULL;
    PyObject *utf8 = utf8_of(text);
    if (!utf8) return PyLong_FromLongLong(-1);
    vec_t pos = {0}, kpos = {0}, kind = {0}, end = {0};
    /* per open collection: its node, and for a mapping the key awaiting its value (pend_pos
     * >= 0: a key was read; pend_key: its str, NULL for a complex key or an alias) */
    vec_t stack = {0}, pend_pos = {0};
    PyObject *pend_key = NULL;  /* only the innermost mapping's key is ever pending (see below) */
    PyObject *keys = PyList_New(0), *interned = PyDict_New(), *result = NULL;
    yaml_parser_t parser;
    yaml_event_t e;
    uint64_t skip = 0;  /* depth inside a complex (collection) key */
    int parser_ok = 0;
    if (!keys || !interned) goto done;
    if (!(parser_ok = yaml_parser_initialize(&parser))) { result = PyLong_FromLongLong(-1); goto done; }
    start_parser(&parser, utf8);
    for (;;) {
        if (!yaml_parser_parse(&parser, &e)) { result = PyLong_FromLongLong(-1 - error_pos(&parser)); goto done; }
        yaml_event_type_t t = e.type;
        int failed = 0;
        if (t == YAML_NO_EVENT || t == YAML_STREAM_END_EVENT) { yaml_event_delete(&e); break; }
        if (IS_END(t)) {
            if (skip) skip--;
            else if (stack.n) {  /* libyaml balances starts and ends; checked all the same */
                end.v[stack.v[--stack.n]] = (int64_t)pos.n;
                pend_pos.n--;
            }
        } else if (IS_START(t) || t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
            int64_t k = t == YAML_MAPPING_START_EVENT ? 2 : t == YAML_SEQUENCE_START_EVENT ? 1 : 0;
            int64_t p = PACK(e.start_mark);
            int in_map = stack.n && kind.v[stack.v[stack.n - 1]] == 2;
            if (skip) {
                skip += k ? 1 : 0;
            } else if (in_map && pend_pos.v[pend_pos.n - 1] < 0) {  /* a mapping key */
                pend_pos.v[pend_pos.n - 1] = p;
                Py_CLEAR(pend_key);
                if (t == YAML_SCALAR_EVENT) {
                    PyObject *s = PyUnicode_DecodeUTF8((const char *)e.data.scalar.value,
                                                       (Py_ssize_t)e.data.scalar.length, "strict");
                    pend_key = s ? PyDict_SetDefault(interned, s, s) : NULL;
                    Py_XINCREF(pend_key);
                    Py_XDECREF(s);
                    failed = !pend_key;
                } else if (k) {
                    skip = 1;  /* a complex key: never on a path */
                }
            } else {
                int64_t node = (int64_t)pos.n;
                failed = push(&pos, p) || push(&kind, k) || push(&end, node + 1);
                if (!failed && in_map) {
                    /* the value's key was the last key event: nested collections in between
                     * were values of an earlier key and have closed, so pend_key is its str */
                    failed = push(&kpos, pend_pos.v[pend_pos.n - 1])
                             || PyList_Append(keys, pend_key ? pend_key : Py_None) < 0;
                    pend_pos.v[pend_pos.n - 1] = -1;
                    Py_CLEAR(pend_key);
                } else if (!failed) {
                    failed = push(&kpos, -1) || PyList_Append(keys, Py_None) < 0;
                }
                if (!failed && k) failed = push(&stack, node) || push(&pend_pos, -1);
            }
        }
        yaml_event_delete(&e);
        if (failed) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            goto done;
        }
    }
    {
        /* kind as int8 as _Tree keeps it */
        PyObject *kb = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)kind.n);
        if (kb) {
            char *d = PyBytes_AS_STRING(kb);
            for (size_t i = 0; i < kind.n; i++) d[i] = (char)kind.v[i];
            result = Py_BuildValue("(NNONN)", as_bytes(&pos), as_bytes(&kpos), keys, kb, as_bytes(&end));
        }
    }
done:
    if (parser_ok) yaml_parser_delete(&parser);
    Py_XDECREF(pend_key);
    Py_XDECREF(keys);
    Py_XDECREF(interned);
    Py_DECREF(utf8);
    PyMem_Free(pos.v); PyMem_Free(kpos.v); PyMem_Free(kind.v); PyMem_Free(end.v);
    PyMem_Free(stack.v); PyMem_Free(pend_pos.v);
    return result;
}

static PyMethodDef methods[] = {
    {"locate", py_locate, METH_VARARGS, locate_doc},
    {"tree", py_tree, METH_VARARGS, tree_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_yamlpos", "Finding positions from libyaml (C accelerator).", -1, methods,
};

PyMODINIT_FUNC PyInit__yamlpos(void)
{
    return PyModule_Create(&module);
}
