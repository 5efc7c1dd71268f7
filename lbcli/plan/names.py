"""Names that become file names and config names: object names, namespaces, node names.

The grammars are Kubernetes' (lbcli/grammar.py: DNS-1123 subdomain for names, label for
namespaces); node names are also bounded by the file name they become. Checked where they turn
into names — by the `identity` lint rule (which no suppression hides), by the compiler, by the
plan writer and reader, and on the `--node` option — so a name that escaped one check (a
suppression comment, a hand-written plan) is caught by the next.
"""

from __future__ import annotations

from ..grammar import K8S_NAME, K8S_NAMESPACE

MAX_NAME = K8S_NAME.max_len  # 253
MAX_NAMESPACE = K8S_NAMESPACE.max_len  # 63
# A node name becomes `<node>.json` (a file name: at most 255 bytes on Linux), the state
# directory `<state-dir>/<node>/` and the pin directory `<bpf-root>/<node>/`.
MAX_NODE_NAME = 255 - len(".json")

_GRAMMAR = "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
_LABEL_GRAMMAR = "lowercase letters, digits and '-', starting and ending with a letter or digit"
_TYPES = {bool: "a boolean", int: "an integer", float: "a number", list: "a list", dict: "a mapping",
          type(None): "null"}


def shown(value: object, limit: int = 60) -> str:
    """A name as it may be echoed: quoted, non-ASCII and control characters escaped, cut."""
    if not isinstance(value, str):
        return type(value).__name__
    cut = value[:limit]
    return ascii(cut) + (f" (+{len(value) - limit} characters)" if len(value) > limit else "")


def _not_string(value: object) -> str:
    return "is empty" if value == "" else f"is {_TYPES.get(type(value), type(value).__name__)}, not a string"


def name_problem(name: object) -> str | None:
    """Why `name` cannot be an object name, or None."""
    if not isinstance(name, str) or not name:
        return _not_string(name)
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long (at most {MAX_NAME})"
    if not K8S_NAME.match(name):
        return f"{shown(name)} is not a DNS subdomain name ({_GRAMMAR})"
    return None


def namespace_problem(ns: object) -> str | None:
    if not isinstance(ns, str) or not ns:
        return _not_string(ns)
    if len(ns) > MAX_NAMESPACE:
        return f"is {len(ns)} characters long (at most {MAX_NAMESPACE})"
    if not K8S_NAMESPACE.match(ns):
        return f"{shown(ns)} is not a DNS label ({_LABEL_GRAMMAR})"
    return None


def node_name_problem(name: object) -> str | None:
    """Why `name` cannot name a node (it becomes file and directory names), or None."""
    why = name_problem(name)
    if why is None and len(name) > MAX_NODE_NAME:  # type: ignore[arg-type]
        why = (f"is {len(name)} characters long (at most {MAX_NODE_NAME}: "  # type: ignore[arg-type]
               f"it becomes the plan file name <node>.json)")
    return why
