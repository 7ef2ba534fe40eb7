"""Eligibility at submission: every rule an innovation must meet, and for a failing one,
every rule it breaks (each named, so an operator fixes everything in one round).

Rules
  required_fields             every field of REQUIRED_FOR_SUBMISSION present (one failure per field)
  application_date_in_period  tanggal penerapan inside the cycle's period (when present)
  rancang_bangun_length       rancang bangun of at least MIN_RANCANG_BANGUN_WORDS words (when present)
  mandatory_indicators        every mandatory SID indicator answered (one failure per indicator)
  submission_window           the cycle's submission window open now

A missing date or rancang bangun is reported once, as a missing field, not again by the rule
that would measure it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.intake.domain.cycle import Cycle
from services.intake.domain.profile import Profile, count_words, is_blank, missing_fields

MIN_RANCANG_BANGUN_WORDS = 300

REQUIRED_FIELDS = "required_fields"
APPLICATION_DATE_IN_PERIOD = "application_date_in_period"
RANCANG_BANGUN_LENGTH = "rancang_bangun_length"
MANDATORY_INDICATORS = "mandatory_indicators"
SUBMISSION_WINDOW = "submission_window"
RULES = (
    REQUIRED_FIELDS,
    APPLICATION_DATE_IN_PERIOD,
    RANCANG_BANGUN_LENGTH,
    MANDATORY_INDICATORS,
    SUBMISSION_WINDOW,
)


@dataclass(frozen=True, slots=True)
class MandatoryIndicator:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Failure:
    rule: str
    field: str
    reason: str


def check_eligibility(
    profile: Profile,
    answers: Mapping[str, int | None],
    cycle: Cycle,
    mandatory: Sequence[MandatoryIndicator],
    now: datetime,
) -> list[Failure]:
    """Every failed rule (empty = eligible), in the order of RULES."""
    failures = [
        Failure(REQUIRED_FIELDS, name, f"{name} is required for submission")
        for name in missing_fields(profile)
    ]
    applied = profile.tanggal_penerapan
    if applied is not None and not cycle.application_date_in_period(applied):
        failures.append(
            Failure(
                APPLICATION_DATE_IN_PERIOD,
                "tanggal_penerapan",
                f"the application date {applied.isoformat()} is outside the period of cycle "
                f"{cycle.year} ({cycle.application_from.isoformat()} to {cycle.application_to.isoformat()})",
            )
        )
    if not is_blank(profile.rancang_bangun):
        words = count_words(profile.rancang_bangun)
        if words < MIN_RANCANG_BANGUN_WORDS:
            failures.append(
                Failure(
                    RANCANG_BANGUN_LENGTH,
                    "rancang_bangun",
                    f"rancang bangun has {words} words; at least {MIN_RANCANG_BANGUN_WORDS} are required",
                )
            )
    for indicator in mandatory:
        if answers.get(indicator.code) is None:
            failures.append(
                Failure(
                    MANDATORY_INDICATORS,
                    f"answers.{indicator.code}",
                    f"mandatory indicator {indicator.code} ({indicator.name}) is not answered",
                )
            )
    if not cycle.window_open(now):
        failures.append(Failure(SUBMISSION_WINDOW, "cycle", cycle.window_reason(now)))
    return failures
