"""Signing in: lockout after repeated failures, and rate limits.

Five failed logins in a row lock an account for 15 minutes (a stable requirement; the page
says until when). While locked, even the right password is refused, and attempts do not
extend the lock. A success resets the count. Separately, attempts are limited per client
address and per user name over a sliding window: beyond the limit the answer is 429 with
the seconds until the oldest attempt in the window leaves it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class LoginState:
    failed_logins: int = 0
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_failure(self, now: datetime) -> LoginState:
        """One more failure; the fifth in a row locks the account from now on."""
        if self.is_locked(now):
            return self  # a locked account's attempts neither count nor extend the lock
        failures = 0 if self.locked_until is not None else self.failed_logins  # a lock served resets
        failures += 1
        if failures >= MAX_FAILED_LOGINS:
            return LoginState(failures, now + LOCKOUT)
        return LoginState(failures, None)

    @staticmethod
    def after_success() -> LoginState:
        return LoginState(0, None)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `max_attempts` in any `window`."""

    max_attempts: int
    window: timedelta

    def retry_after_s(self, attempts: Sequence[datetime], now: datetime) -> int | None:
        """None when one more attempt is allowed now; else the whole seconds to wait (≥ 1)."""
        recent = sorted(at for at in attempts if now - self.window < at <= now)
        if len(recent) < self.max_attempts:
            return None
        # Allowed again once enough of the recent attempts have left the window.
        frees_at = recent[len(recent) - self.max_attempts] + self.window
        return max(1, math.ceil((frees_at - now).total_seconds()))


def unknown_account_lock(failures: Sequence[datetime], now: datetime) -> datetime | None:
    """For a user name without an account: until when it counts as locked, as an account
    with these failures would be — so the answer never tells whether an account exists."""
    recent = sorted(at for at in failures if now - LOCKOUT < at <= now)
    if len(recent) < MAX_FAILED_LOGINS:
        return None
    return recent[MAX_FAILED_LOGINS - 1] + LOCKOUT
