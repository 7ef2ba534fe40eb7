"""Backoff and outcomes of webhook attempts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.domain.retry import AttemptResult, outcome_of, retry_delay


def test_backoff_doubles_and_is_capped():
    no_jitter = [retry_delay(n, initial_s=10, max_s=100, jitter=1.0) for n in range(1, 7)]
    assert no_jitter == [10, 20, 40, 80, 100, 100]
    assert retry_delay(1, initial_s=10, max_s=100, jitter=0.0) == 5
    assert retry_delay(10_000, initial_s=10, max_s=100, jitter=0.5) == 75


@given(attempt=st.integers(1, 200), jitter=st.floats(0, 1), initial=st.floats(0.01, 60), maximum=st.floats(0.01, 7200))
def test_delay_is_between_half_and_all_of_the_capped_backoff(attempt, jitter, initial, maximum):
    backoff = min(maximum, initial * 2 ** (attempt - 1))
    delay = retry_delay(attempt, initial_s=initial, max_s=maximum, jitter=jitter)
    assert backoff / 2 - 1e-9 <= delay <= backoff + 1e-9


@pytest.mark.parametrize("attempt, jitter", [(0, 0.5), (1, -0.1), (1, 1.5)])
def test_nonsense_arguments_are_refused(attempt, jitter):
    with pytest.raises(ValueError):
        retry_delay(attempt, initial_s=1, max_s=2, jitter=jitter)


@pytest.mark.parametrize(
    "result, attempt, expected",
    [
        (AttemptResult(200), 1, "delivered"),
        (AttemptResult(204), 8, "delivered"),
        (AttemptResult(299), 3, "delivered"),
        (AttemptResult(500), 1, "retry"),
        (AttemptResult(301), 1, "retry"),  # redirects are not followed
        (AttemptResult(404), 7, "retry"),
        (AttemptResult(404), 8, "failed"),
        (AttemptResult(None, "ConnectError: refused"), 2, "retry"),
        (AttemptResult(None, "timed out after 5s"), 8, "failed"),
    ],
)
def test_outcome(result, attempt, expected):
    assert outcome_of(result, attempt, max_attempts=8) == expected


def test_describe_names_the_failure():
    assert AttemptResult(200).describe() is None
    assert AttemptResult(502).describe() == "receiver answered HTTP 502"
    assert AttemptResult(None, "timed out after 5s").describe() == "timed out after 5s"


def test_a_permanent_failure_is_failed_at_the_first_attempt():
    refused = AttemptResult(None, "refused: 10.0.0.1 is not a public address (private)", permanent=True)
    assert outcome_of(refused, 1, 8) == "failed"
    assert outcome_of(AttemptResult(None, "ConnectError: refused"), 1, 8) == "retry"
