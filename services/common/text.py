"""What free text the platform keeps: no control characters but newline and tab (NUL cannot
be stored in PostgreSQL; carriage returns and escapes garble pages, reports and logs). Pure."""

from __future__ import annotations

import unicodedata

ALLOWED_CONTROLS = "\n\t"


def control_character_problem(value: str) -> str | None:
    """The reason `value` is refused, naming the first offending character; None if fit."""
    control = next((c for c in value if unicodedata.category(c) == "Cc" and c not in ALLOWED_CONTROLS), None)
    if control is None:
        return None
    return f"must not contain control characters other than newline and tab (found U+{ord(control):04X})"
