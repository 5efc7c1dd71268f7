"""Exact positions of values, found lazily from libyaml's event stream.

The fast path (yaml_rs) yields plain values without marks; only documents that have a finding
are read a second time, here, to turn a path such as ("spec", "port") into a 1-based line and
column. The events are walked without composing nodes or resolving tags (composing a document
with PyYAML cost ~10x the parse and kept every node with two marks alive: gigabytes for a
50 MB manifest), and without recursion.

The first lookup in a document streams the events and stops at the end of the target (no
memory). A large document asked again gets a compact position tree (one pass; positions packed into ints), kept for the few
documents most recently asked about, so many findings in one huge document stay linear and
memory stays bounded.

Both walks run in C when the optional extension `_yamlpos` is built (it reads libyaml's events
without making a Python object per event, which was most of what a finding cost); the Python
walks over PyYAML's events below are its specification and the fallback, and tests compare them.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from typing import Any, Iterator, Sequence

Path = tuple[Any, ...]

_TREES_KEPT = 4  # documents whose position tree is kept (most recently used)
_TREE_MIN_CHARS = 16_384  # a smaller document streams as fast as its tree would be built
_trees: OrderedDict[int, "PositionIndex"] = OrderedDict()
_SHIFT = 32  # packed position: line << 32 | column (both 0-based)

try:  # optional accelerator, built by setuptools when a compiler and libyaml-dev are present
    from . import _yamlpos as _accel
except ImportError:  # pragma: no cover - depends on the build
    _accel = None


def iter_events(text: str) -> Iterator[Any]:
    """libyaml's parser events (C when available); raises yaml.YAMLError on bad input."""
    import yaml

    try:
        from yaml._yaml import CParser
    except ImportError:  # no libyaml: the pure-Python parser (also iterative)
        yield from yaml.parse(text, Loader=yaml.SafeLoader)
        return
    parser = CParser(text)
    try:
        while True:
            e = parser.get_event()
            if e is None:
                return
            yield e
    finally:
        parser.dispose()


def yaml_error_issue(exc: BaseException):
    """A LimitIssue from a parser exception (its mark, its words)."""
    from .limits import LimitIssue

    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context:
        what = f"{what} ({context})"
    what = " ".join(str(what).split())
    return LimitIssue(mark.line if mark else 0, mark.column if mark else 0, what)


class PositionIndex:
    """Path -> (line, column), 1-based, for one document chunk."""

    __slots__ = ("_chunk", "_line0", "_size", "_asked", "_tree", "_error")

    def __init__(self, chunk, line0: int | None = None) -> None:
        # `chunk` is a documents.Chunk (its text is sliced from the file's text on demand, so
        # no copy is kept per document) or, for callers that have one, the text itself
        self._chunk = chunk
        self._line0 = chunk.line if line0 is None else line0
        self._size = len(chunk) if isinstance(chunk, str) else chunk.end - chunk.start
        self._asked = 0
        self._tree = None
        self._error = None  # packed position of the parse error, when libyaml refuses the text

    @property
    def text(self) -> str:
        return self._chunk if isinstance(self._chunk, str) else self._chunk.text

    def locate(self, path: Sequence[Any], key: bool = False) -> tuple[int, int]:
        """Position of the value at `path` (or of its key when `key`); the deepest existing
        ancestor when the path does not exist (a missing field points at its parent)."""
        self._asked += 1
        pos = -1
        if self._tree is None and self._error is None:
            if self._asked == 1 or self._size < _TREE_MIN_CHARS:
                pos = self._stream_locate(tuple(path), key)
            if pos < 0:
                self._build_tree()
        if pos >= 0:
            pass
        elif self._tree is not None:
            pos = self._tree.locate(path, key)
            _trees.move_to_end(id(self))
        else:
            pos = self._error or 0
        return self._line0 + (pos >> _SHIFT) + 1, (pos & ((1 << _SHIFT) - 1)) + 1

    # -- one lookup: stream and stop -------------------------------------------------------

    def _stream_locate(self, target: Path, key: bool) -> int:
        if _accel is None:
            return self._walk_locate(target, key)
        pos = _accel.locate(self.text, target, key)  # the walk below, in C (-1 - error position)
        if pos < 0:
            self._error = pos = -1 - pos
        return pos

    def _walk_locate(self, target: Path, key: bool) -> int:
        import yaml.events as ev

        starts = (ev.MappingStartEvent, ev.SequenceStartEvent)
        ends = (ev.MappingEndEvent, ev.SequenceEndEvent)
        best = 0  # packed position of the deepest node on the path seen so far
        # the open collections on the path: [is_map, want_key, current key, key pos, index]
        frames: list[list] = []
        skip = 0  # depth inside a subtree off the path, or inside a complex key
        skip_key = False
        events = iter_events(self.text)
        try:
            for e in events:
                t = type(e)
                if skip:
                    if t in starts:
                        skip += 1
                    elif t in ends:
                        skip -= 1
                        if not skip and not skip_key:
                            _next_child(frames)
                    continue
                if t in ends:
                    return best  # a collection on the path closed without the next step
                if t not in starts and t is not ev.ScalarEvent and t is not ev.AliasEvent:
                    continue
                m = e.start_mark
                pos = (m.line << _SHIFT) | m.column
                if frames and frames[-1][0] and frames[-1][1]:  # a mapping key
                    f = frames[-1]
                    f[1] = False
                    f[2], f[3] = (e.value if t is ev.ScalarEvent else None), pos
                    if t in starts:
                        skip, skip_key = 1, True
                    continue
                depth = len(frames)
                on = True
                if depth:
                    f = frames[-1]
                    step = target[depth - 1]
                    if f[0]:
                        on = f[2] is not None and (f[2] == step or f[2] == str(step))
                    else:
                        on = isinstance(step, int) and f[4] == step
                if not on:
                    if t in starts:
                        skip, skip_key = 1, False
                    else:
                        _next_child(frames)
                    continue
                if depth == len(target):
                    found = frames[-1][3] if key and depth and frames[-1][0] else pos
                    if t in starts:
                        # an error inside the target (a YAML 1.2 corner such as an empty key)
                        # is what the finding is about: read to the target's end to see
                        _skip_subtree(events, starts, ends)
                    return found
                best = pos
                if t not in starts:
                    return best  # a scalar or an alias: nothing deeper to find here
                frames.append([t is ev.MappingStartEvent, True, None, 0, 0])
        except Exception as exc:  # what yaml_rs accepted and libyaml does not (YAML 1.2 corners)
            issue = yaml_error_issue(exc)
            self._error = (issue.line << _SHIFT) | issue.column
            return self._error
        return best

    # -- many lookups: one compact tree --------------------------------------------------------

    def _build_tree(self) -> None:
        try:
            got = _accel.tree(self.text) if _accel is not None else _tree_arrays(self.text)
        except Exception as exc:
            issue = yaml_error_issue(exc)
            got = -1 - ((issue.line << _SHIFT) | issue.column)
        if isinstance(got, int):  # libyaml refused the text: -1 - the error's position
            self._error = -1 - got
            return
        self._tree = _Tree(*got)
        _trees[id(self)] = self
        while len(_trees) > _TREES_KEPT:
            _, old = _trees.popitem(last=False)
            old._tree = None
            old._asked = 0


def _skip_subtree(events, starts, ends) -> None:
    """Consume the events of the collection just started (raises on a parse error inside)."""
    depth = 1
    for e in events:
        t = type(e)
        if t in starts:
            depth += 1
        elif t in ends:
            depth -= 1
            if not depth:
                return


def _next_child(frames: list[list]) -> None:
    """The node just passed was a value: the mapping wants a key, the sequence's index moves."""
    if frames:
        f = frames[-1]
        if f[0]:
            f[1] = True
        else:
            f[4] += 1


class _Tree:
    """Every node of a document in event order, in flat arrays (~40 bytes a node; a tree of
    Python containers took ~120): its position, its mapping key and the key's position, its
    kind, and where its subtree ends (so children are found by hopping over siblings). Wide
    collections get a direct index the first time they are searched."""

    __slots__ = ("pos", "kpos", "key", "kind", "end", "_maps", "_seqs")
    _WIDE = 16

    def __init__(self, pos, kpos, key: list, kind, end) -> None:
        # arrays, or (from the C walk) their native bytes
        self.pos, self.kpos, self.kind, self.end = _array("q", pos), _array("q", kpos), _array("b", kind), _array("q", end)
        self.key = key
        self._maps: dict[int, dict] = {}
        self._seqs: dict[int, array] = {}

    def _children(self, node: int) -> Iterator[int]:
        c, stop, end = node + 1, self.end[node], self.end
        while c < stop:
            yield c
            c = end[c]

    def _child(self, node: int, step: Any) -> int | None:
        if self.kind[node] == 2:
            index = self._maps.get(node)
            if index is None:
                index = {}
                for c in self._children(node):
                    k = self.key[c]
                    if k is not None:
                        index.setdefault(k, c)  # first wins, like the stream
                if len(index) > self._WIDE:
                    self._maps[node] = index
            hit = index.get(step)
            if hit is None and not isinstance(step, str):
                hit = index.get(str(step))
            return hit
        if not isinstance(step, int) or step < 0:
            return None
        index = self._seqs.get(node)
        if index is not None:
            return index[step] if step < len(index) else None
        children = array("q", self._children(node))
        if len(children) > self._WIDE:
            self._seqs[node] = children
        return children[step] if step < len(children) else None

    def locate(self, path: Sequence[Any], key: bool) -> int:
        if not self.pos:
            return 0
        node, p = 0, self.pos[0]
        for i, step in enumerate(path):
            if not self.kind[node]:
                break
            child = self._child(node, step)
            if child is None:
                break
            if key and i == len(path) - 1 and self.kind[node] == 2:
                return self.kpos[child]
            node, p = child, self.pos[child]
        return p


def _array(code: str, data) -> array:
    if isinstance(data, array):
        return data
    a = array(code)
    a.frombytes(data)
    return a


def _tree_arrays(text: str) -> tuple:
    """_Tree's arrays from PyYAML's events (the specification of _yamlpos.tree); raises
    yaml.YAMLError where libyaml refuses the text."""
    import yaml.events as ev

    pos, kpos, kind, end = array("q"), array("q"), array("b"), array("q")
    keys: list = []
    interned: dict = {}
    stack: list[int] = []  # open collections (node ids)
    pending: list = []  # per open collection: a mapping's key awaiting its value
    skip = 0  # depth inside a complex (collection) key
    start_types = {ev.MappingStartEvent: 2, ev.SequenceStartEvent: 1}
    for e in iter_events(text):
        t = type(e)
        if t is ev.MappingEndEvent or t is ev.SequenceEndEvent:
            if skip:
                skip -= 1
            else:
                end[stack.pop()] = len(pos)
                pending.pop()
            continue
        k = start_types.get(t, 0)
        if not k and t is not ev.ScalarEvent and t is not ev.AliasEvent:
            continue
        if skip:
            skip += 1 if k else 0
            continue
        m = e.start_mark
        p = (m.line << _SHIFT) | m.column
        if stack and kind[stack[-1]] == 2 and pending[-1] is None:  # a mapping key
            if t is ev.ScalarEvent:
                pending[-1] = (interned.setdefault(e.value, e.value), p)
            else:
                pending[-1] = (None, p)  # a complex key or an alias: never on a path
                skip = 1 if k else 0
            continue
        node = len(pos)
        pos.append(p)
        kind.append(k)
        end.append(node + 1)
        if stack and kind[stack[-1]] == 2:
            name, kp = pending[-1]
            keys.append(name)
            kpos.append(kp)
            pending[-1] = None
        else:
            keys.append(None)
            kpos.append(-1)
        if k:
            stack.append(node)
            pending.append(None)
    return pos, kpos, keys, kind, end
