"""Kubernetes label selectors (matchLabels + matchExpressions), as the API server evaluates them."""

from __future__ import annotations

from typing import Any, Mapping


def matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """True when `labels` satisfy `selector`. An absent or empty selector matches everything,
    as in Kubernetes; `NotIn`/`DoesNotExist` match objects without the key."""
    if not selector:
        return True
    if not isinstance(selector, dict):
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return False
        key, op = expr.get("key"), expr.get("operator")
        values = expr.get("values") or []
        present = key in labels
        if op == "In":
            if not present or labels[key] not in values:
                return False
        elif op == "NotIn":
            if present and labels[key] in values:
                return False
        elif op == "Exists":
            if not present:
                return False
        elif op == "DoesNotExist":
            if present:
                return False
        else:
            return False
    return True


def describe(selector: Any) -> str:
    """A short, stable text form of a selector for messages."""
    if not selector:
        return "{} (everything)"
    if not isinstance(selector, dict):
        return repr(selector)
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        vals = ",".join(str(v) for v in e.get("values") or [])
        parts.append(f"{e.get('key')} {e.get('operator')} ({vals})" if vals else f"{e.get('key')} {e.get('operator')}")
    return ", ".join(parts)
