"""Eligibility at submission: each rule, its reason, and the innovation's status changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from services.intake.domain.eligibility import (
    APPLICATION_DATE_IN_PERIOD,
    MANDATORY_INDICATORS,
    MIN_RANCANG_BANGUN_WORDS,
    RANCANG_BANGUN_LENGTH,
    REQUIRED_FIELDS,
    SUBMISSION_WINDOW,
    Failure,
    check_eligibility,
)
from services.intake.domain.innovation import TransitionError, new_innovation

from .builders import CYCLE_2026, MANDATORY, OPEN, all_mandatory_answered, eligible_profile, words


def check(profile=None, answers=None, now: datetime = OPEN):
    return check_eligibility(
        profile or eligible_profile(),
        all_mandatory_answered() if answers is None else answers,
        CYCLE_2026,
        MANDATORY,
        now,
    )


def test_an_eligible_innovation_fails_no_rule():
    assert check() == []


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (date(2023, 12, 31), False),
        (date(2024, 1, 1), True),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), False),
    ],
)
def test_application_date_period_bounds_are_inclusive(day, inside):
    failures = check(eligible_profile(tanggal_uji_coba=None, tanggal_penerapan=day))
    rules = {f.rule for f in failures}
    assert (APPLICATION_DATE_IN_PERIOD not in rules) is inside
    if not inside:
        reason = next(f.reason for f in failures if f.rule == APPLICATION_DATE_IN_PERIOD)
        assert day.isoformat() in reason and "2024-01-01 to 2026-12-31" in reason


def test_rancang_bangun_needs_300_words():
    assert check(eligible_profile(rancang_bangun=words(MIN_RANCANG_BANGUN_WORDS))) == []
    failures = check(eligible_profile(rancang_bangun=words(MIN_RANCANG_BANGUN_WORDS - 1)))
    assert failures == [Failure(
        RANCANG_BANGUN_LENGTH, "rancang_bangun", "rancang bangun has 299 words; at least 300 are required")]


def test_each_unanswered_mandatory_indicator_is_named():
    answers = all_mandatory_answered()
    del answers["sid-16"]
    answers["sid-35"] = None  # an explicit null is unanswered too
    failures = check(answers=answers)
    assert [(f.rule, f.field) for f in failures] == [
        (MANDATORY_INDICATORS, "answers.sid-16"), (MANDATORY_INDICATORS, "answers.sid-35"),
    ]


def test_the_window_is_half_open():
    assert check(now=CYCLE_2026.window_opens_at) == []
    assert check(now=CYCLE_2026.window_closes_at - timedelta(microseconds=1)) == []
    closed = check(now=CYCLE_2026.window_closes_at)
    assert [(f.rule, f.field) for f in closed] == [(SUBMISSION_WINDOW, "cycle")]
    assert "closed at" in closed[0].reason
    early = check(now=CYCLE_2026.window_opens_at - timedelta(seconds=1))
    assert "opens at" in early[0].reason


def test_a_missing_date_or_text_is_reported_once_as_missing():
    failures = check(eligible_profile(tanggal_penerapan=None, rancang_bangun=" "))
    assert [(f.rule, f.field) for f in failures] == [
        (REQUIRED_FIELDS, "tanggal_penerapan"), (REQUIRED_FIELDS, "rancang_bangun"),
    ]


def test_every_failed_rule_is_named_at_once():
    failures = check(
        eligible_profile(
            hasil=None, tanggal_penerapan=date(2020, 1, 1), tanggal_uji_coba=None, rancang_bangun="pendek"
        ),
        answers={},
        now=CYCLE_2026.window_closes_at + timedelta(days=1),
    )
    assert {f.rule for f in failures} == {
        REQUIRED_FIELDS, APPLICATION_DATE_IN_PERIOD, RANCANG_BANGUN_LENGTH, MANDATORY_INDICATORS, SUBMISSION_WINDOW,
    }
    assert sum(f.rule == MANDATORY_INDICATORS for f in failures) == len(MANDATORY)


# --- the aggregate -------------------------------------------------------------------


def test_changes_raise_the_version_by_one_and_no_change_is_none():
    innovation = new_innovation("i1", 2026, "62.10", "dinkes", eligible_profile())
    assert innovation.version == 1 and innovation.status == "draft"
    assert innovation.with_profile(eligible_profile()) is None
    renamed = innovation.with_profile(eligible_profile(name="Baru"))
    assert renamed is not None and renamed.version == 2
    answered = renamed.with_answer("sid-16", 3)
    assert answered.answers == {"sid-16": 3} and answered.version == 3
    assert answered.with_answer("sid-16", 3) is None
    cleared = answered.with_answer("sid-16", None)
    assert cleared.answers == {} and cleared.version == 4
    assert cleared.with_answer("sid-17", None) is None


def test_status_transitions():
    draft = new_innovation("i1", 2026, "62.10", "dinkes", eligible_profile())
    with pytest.raises(TransitionError, match="only a submitted innovation can be withdrawn; this one is draft"):
        draft.withdraw()
    submitted = draft.submit()
    assert (submitted.status, submitted.version) == ("submitted", 2)
    with pytest.raises(TransitionError, match="already submitted"):
        submitted.submit()
    withdrawn = submitted.withdraw()
    assert (withdrawn.status, withdrawn.version) == ("withdrawn", 3)
    assert replace(withdrawn).submit().status == "submitted"  # resubmission after withdrawal
