"""Personal API tokens: a name and a lifetime of at most 366 days."""

from __future__ import annotations

import unicodedata

from services.common.errors import Problem

MAX_TOKEN_DAYS = 366
DEFAULT_TOKEN_DAYS = 90
MAX_NAME_LENGTH = 100


class TokenReason:
    NAME_REQUIRED = "is required"
    NAME_TOO_LONG = f"must be at most {MAX_NAME_LENGTH} characters"
    NAME_CONTROL = "must not contain control characters"
    DAYS_RANGE = f"must be between 1 and {MAX_TOKEN_DAYS} days"


def token_problems(name: str, days: int) -> list[Problem]:
    problems = []
    if not name.strip():
        problems.append(Problem("name", TokenReason.NAME_REQUIRED))
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(Problem("name", TokenReason.NAME_TOO_LONG))
    elif any(unicodedata.category(c) == "Cc" for c in name):
        problems.append(Problem("name", TokenReason.NAME_CONTROL))
    if not 1 <= days <= MAX_TOKEN_DAYS:
        problems.append(Problem("days", TokenReason.DAYS_RANGE))
    return problems
