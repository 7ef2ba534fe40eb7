"""Text that came from outside (a receiver's answer, an exception's message) made safe to
store in PostgreSQL: a `text` value cannot hold NUL (U+0000), and a lone surrogate cannot
be encoded as UTF-8 at all, so either would make the INSERT/UPDATE fail."""

from __future__ import annotations

import re

_SURROGATES = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def pg_text(value: str | None, *, limit: int | None = None) -> str | None:
    """`value` without NUL characters, each lone surrogate replaced by U+FFFD (as an
    undecodable byte already is), cut to at most `limit` characters. None stays None."""
    if value is None:
        return None
    cleaned = _SURROGATES.sub(REPLACEMENT, value.replace("\x00", ""))
    if limit is not None:
        cleaned = cleaned[:limit]
    return cleaned
