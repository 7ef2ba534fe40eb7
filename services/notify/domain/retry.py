"""When to retry a webhook delivery, and what an attempt's result means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["delivered", "retry", "failed"]


def retry_delay(attempt: int, *, initial_s: float, max_s: float, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential
    (initial, 2x, 4x, ... capped at max) with "equal jitter" — half fixed, half random —
    so retries of many deliveries that failed together spread out but never come sooner
    than half the backoff. `jitter` is a random number in [0, 1)."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be in [0, 1]")
    # Exponent capped so 2**n cannot overflow a float for absurd attempt numbers.
    backoff = min(max_s, initial_s * 2.0 ** min(attempt - 1, 60))
    return backoff / 2 + backoff / 2 * jitter


@dataclass(frozen=True)
class AttemptResult:
    """What one POST produced: an HTTP status, or an error before any status.
    `permanent`: retrying cannot help (e.g. the target is refused), so the delivery fails
    now instead of after max_attempts."""

    http_status: int | None
    error: str | None = None
    duration_ms: int = 0
    response_excerpt: str | None = None
    permanent: bool = False

    @property
    def succeeded(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    def describe(self) -> str | None:
        """The error recorded for a failed attempt (None when it succeeded)."""
        if self.succeeded:
            return None
        if self.error is not None:
            return self.error
        return f"receiver answered HTTP {self.http_status}"


def outcome_of(result: AttemptResult, attempt: int, max_attempts: int) -> Outcome:
    """2xx = delivered; a permanent failure is failed at once; anything else (3xx
    included: redirects are not followed) is retried until `max_attempts` attempts were
    made."""
    if result.succeeded:
        return "delivered"
    if result.permanent:
        return "failed"
    return "failed" if attempt >= max_attempts else "retry"
