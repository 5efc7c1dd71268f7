"""Header regexes are compiled by the engine tier 2 runs them with: PCRE2 (HAProxy's `-m reg`;
this HAProxy is built with USE_PCRE2). Python's `re` is a different dialect: it refuses
`\\p{L}` and `(?<name>...)`, which PCRE2 takes, so checking with it refused valid patterns."""

from __future__ import annotations


def compile_error(pattern: str) -> str | None:
    """None if PCRE2 compiles `pattern`, else PCRE2's reason (with the position)."""
    import pcre2  # lazy: only sets with header regexes pay the import

    try:
        pcre2.compile(pattern)
    except pcre2.PatternError as e:
        return str(e)
    return None
