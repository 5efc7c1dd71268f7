"""A file's text with its YAML nodes located (ruamel.yaml's round-trip composer), and the text
operations rules use to repair a resource: rename a key, set a scalar, nest a key under a
sibling, add a key. Each returns an Edit (splices of the original text) or None when the text
is laid out in a way the operation cannot change safely (then the finding stays reported).

Only documents that passed the loader's bounds (size, depth, aliases: manifest/limits.py) are
composed; composing never expands aliases (an alias is the anchored node itself).
"""

from __future__ import annotations

import re
from typing import Any

from ..manifest.documents import split_documents
from ..manifest.limits import _ALIAS, _ANCHOR, check_text
from .edit import Change, Edit

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*\Z")
_NULLS = {"", "~", "null", "Null", "NULL"}


class FixFile:
    """One file's text; documents are composed on first use."""

    def __init__(self, name: str, text: str):
        self.name = name
        self.text = text
        self.chunks = split_documents(text)
        self._roots: dict[int, Any] = {}

    def root(self, doc_index: int):
        """The composed root node of a document, or None (out of bounds, `--- {…}` on the
        marker line, or text ruamel does not compose)."""
        if doc_index in self._roots:
            return self._roots[doc_index]
        node = None
        if 0 <= doc_index < len(self.chunks):
            chunk = self.chunks[doc_index]
            body = self.text[chunk.start:chunk.end]
            if not chunk.marker_rest and check_text(body) is None:
                node = _compose(body)
        self._roots[doc_index] = node
        return node

    def view(self, resource) -> "ResourceText | None":
        root = self.root(resource.doc.index)
        if root is None:
            return None
        node = _descend(root, resource.prefix)
        offset = self.chunks[resource.doc.index].start  # marks count from the document's start
        return ResourceText(self, node, offset) if node is not None else None


def _compose(body: str):
    from ruamel.yaml import YAML

    try:
        node = YAML(typ="rt", pure=True).compose(body)
    except Exception:  # ruamel disagrees with the loader's parser: leave the document alone
        return None
    return node


def _is_map(n) -> bool:
    return type(n).__name__ == "MappingNode"


def _is_seq(n) -> bool:
    return type(n).__name__ == "SequenceNode"


def _is_scalar(n) -> bool:
    return type(n).__name__ == "ScalarNode"


def _pair(node, key) -> tuple[Any, Any] | None:
    if not _is_map(node):
        return None
    for k, v in node.value:
        if _is_scalar(k) and k.value == key and k.tag.endswith(":str"):
            return k, v
    return None


def _descend(node, path) -> Any:
    for step in path:
        if isinstance(step, int) and _is_seq(node):
            node = node.value[step] if 0 <= step < len(node.value) else None
        else:
            p = _pair(node, step) if isinstance(step, str) else None
            node = p[1] if p else None
        if node is None:
            return None
    return node


class ResourceText:
    """The text operations on one resource (paths are inside the resource's body)."""

    def __init__(self, file: FixFile, node, offset: int):
        self.file = file
        self.text = file.text
        self.node = node
        self.offset = offset

    def _s(self, n) -> int:
        return n.start_mark.index + self.offset

    def _e(self, n) -> int:
        return n.end_mark.index + self.offset

    def value(self, path: tuple):
        return _descend(self.node, path)

    def _anchored(self, path: tuple) -> bool:
        """Is any node from the resource down to `path` anchored? Then the text may be shared
        by aliases, and an edit would change every use: left alone."""
        node = self.node
        for i in range(len(path) + 1):
            if node is None or getattr(node, "anchor", None) is not None:
                return True
            if i < len(path):
                node = _descend(node, path[i:i + 1])
        return False

    # -- operations -------------------------------------------------------------------------

    def rename_key(self, path: tuple, new: str, why: str) -> Edit | None:
        """`path[-1]` becomes `new` in its mapping, quoted as the old key was."""
        parent = self.value(path[:-1])
        pair = _pair(parent, path[-1])
        if pair is None or _pair(parent, new) is not None or self._anchored(path[:-1]):
            return None  # gone, shared, or renaming would duplicate a key
        key = pair[0]
        text = _scalar_text(new, key.style)
        if text is None or self._shared(key):
            return None
        return Edit(why, (Change(self._s(key), self._e(key), text),))

    def set_scalar(self, path: tuple, new: str, why: str) -> Edit | None:
        """The scalar at `path` becomes `new` (its quoting kept)."""
        node = self.value(path)
        if node is None or not _is_scalar(node) or node.style not in (None, "'", '"') or self._anchored(path):
            return None
        if self._s(node) == self._e(node):
            return None  # an empty value: nothing written to replace
        text = _scalar_text(new, node.style)
        return Edit(why, (Change(self._s(node), self._e(node), text),)) if text is not None else None

    def add_key(self, path: tuple, key: str, value: str, why: str) -> Edit | None:
        """`key: value` added to the block mapping at `path`, as its first entry (or its last
        when the first shares its line with a `- `)."""
        node = self.value(path)
        if not _is_map(node) or node.flow_style or not node.value or _pair(node, key) is not None:
            return None
        if _scalar_text(key, None) is None or _scalar_text(value, None) is None or self._anchored(path):
            return None
        first = node.value[0][0]
        col = self._column(self._s(first))
        nl = self._newline()
        if self._starts_line(self._s(first)):
            at = self._line_start(self._s(first))
            return Edit(why, (Change(at, at, " " * col + f"{key}: {value}" + nl),))
        at = self._after_content(node.value[-1][1])
        if at is None:
            return None
        return Edit(why, (Change(at, at, " " * col + f"{key}: {value}" + nl),))

    def nest(self, path: tuple, under: str, why: str) -> Edit | None:
        """Move the entry `path[-1]` (key, value, comments inside it) from its block mapping
        into the mapping of its sibling `under` (empty, `{}`, null or a block mapping)."""
        parent = self.value(path[:-1])
        me, home = _pair(parent, path[-1]), _pair(parent, under)
        if me is None or home is None or parent.flow_style or self._anchored(path[:-1]):
            return None
        key, val = me
        hkey, hval = home
        if not self._starts_line(self._s(key)):
            return None  # `- headers: …`: the entry opens a list item
        bs = self._line_start(self._s(key))
        be = self._after_content(val)
        if be is None:
            return None
        block = self.text[bs:be]
        if _ALIAS.search(block) or _ANCHOR.search(block):
            return None  # anchors must stay before their aliases: not moved
        changes: list[Change] = []
        if _is_map(hval) and not hval.flow_style and hval.value:
            if _pair(hval, path[-1]) is not None or self._shared(hval):
                return None
            col = self._column(self._s(hval.value[0][0]))
            if not self._starts_line(self._s(hval.value[0][0])):
                return None
            at = self._after_content(hval.value[-1][1])
        elif self._empty(hval, hkey):
            col = self._column(self._s(hkey)) + self._step()
            at = self._line_end(self._e(hkey))
            written = self.text[self._e(hkey):at]
            m = re.match(r"([ \t]*:)([ \t]*)(~|null|Null|NULL|\{[ \t]*\})?([ \t]*)(#?)", written)
            if m is None:
                return None
            if m.group(3):  # `key: {}` or `key: null` becomes `key:` with the entry under it
                cut_to = m.end(3) if m.group(5) else m.end(4)  # the spacing before a comment stays
                changes.append(Change(self._e(hkey) + m.end(1), self._e(hkey) + cut_to, ""))
        else:
            return None
        if at is None or bs < at < be:
            return None
        moved = _reindent(block, col - self._column(self._s(key)))
        if moved is None:
            return None
        if not moved.endswith("\n"):
            moved += self._newline()
        if at in (bs, be):
            changes.append(Change(bs, be, moved))
        else:
            changes += [Change(bs, be, ""), Change(at, at, moved)]
        return Edit(why, tuple(changes))

    # -- text geometry ----------------------------------------------------------------------

    def _shared(self, node) -> bool:
        """An anchored node (or one reached through an alias): an edit would change every use."""
        return getattr(node, "anchor", None) is not None

    def _empty(self, val, key) -> bool:
        if _is_scalar(val) and val.tag.endswith(":null") and val.style is None:
            return self._s(val) == self._e(val) or (val.value in _NULLS and val.start_mark.line == key.start_mark.line)
        return _is_map(val) and val.flow_style and not val.value and val.start_mark.line == key.start_mark.line

    def _line_start(self, i: int) -> int:
        return self.text.rfind("\n", 0, i) + 1

    def _line_end(self, i: int) -> int:
        j = self.text.find("\n", i)
        return len(self.text) if j < 0 else j + 1

    def _column(self, i: int) -> int:
        return i - self._line_start(i)

    def _starts_line(self, i: int) -> bool:
        return self.text[self._line_start(i):i].strip(" ") == ""

    def _newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    def _after_content(self, node) -> int | None:
        """Just past the line holding the last character of `node`'s own text (block
        collections' marks run on over trailing comments and blank lines; these stay)."""
        while (_is_map(node) or _is_seq(node)) and not node.flow_style and node.value:
            node = node.value[-1][1] if _is_map(node) else node.value[-1]
        if _is_map(node) or _is_seq(node):
            if not node.flow_style:
                return None  # an empty block collection cannot be
        end = self._e(node)
        if end > 0 and self.text[end - 1] == "\n":
            return end  # a block scalar ends after its line break
        return self._line_end(end)

    def _step(self) -> int:
        """The document's mapping indentation step (of the first nested block mapping)."""
        stack = [self.node]
        seen = 0
        while stack and seen < 10_000:
            n = stack.pop()
            seen += 1
            if _is_map(n):
                for k, v in n.value:
                    if _is_map(v) and not v.flow_style and v.value and v.start_mark.line > k.start_mark.line:
                        step = v.start_mark.column - k.start_mark.column
                        if step > 0:
                            return step
                    stack.append(v)
            elif _is_seq(n):
                stack.extend(n.value)
        return 2


def _reindent(block: str, shift: int) -> str | None:
    lines = block.splitlines(keepends=True)
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        if not body.strip():
            out.append(line)
        elif shift >= 0:
            out.append(" " * shift + line)
        elif body.startswith(" " * -shift):
            out.append(line[-shift:])
        else:
            return None
    return "".join(out)


def _scalar_text(value, style) -> str | None:
    """`value` (a string, or an int for a number) in a scalar style; plain only when it reads
    back as the same string (not a number, boolean or null)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
        if style is None:
            return value
    elif style is None:
        if not _PLAIN_SAFE.match(value) or _OTHER_TYPE.fullmatch(value):
            return None
        return value
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


# plain scalars YAML 1.1 or 1.2 would read as something other than a string
_OTHER_TYPE = re.compile(r"(?i:true|false|yes|no|on|off|y|n|null|~)|[-+]?[0-9][0-9a-fA-FxXoO._:eE+-]*|[-+]?\.[0-9].*|\.(?i:inf|nan)")
