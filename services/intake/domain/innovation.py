"""The innovation aggregate: its profile, its SID answers and its status, and the changes
allowed to it. Every change returns a new Innovation with the version raised by one, or
None when nothing would change (no new version, no event)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from services.intake.domain.profile import Profile

Status = Literal["draft", "submitted", "withdrawn"]
STATUSES: tuple[Status, ...] = ("draft", "submitted", "withdrawn")


class TransitionError(Exception):
    """A status change the innovation's current status does not allow."""


@dataclass(frozen=True, slots=True)
class Innovation:
    id: str
    cycle: int
    region: str
    agency_id: str
    status: Status
    version: int
    profile: Profile
    # Answered SID indicators only: clearing an answer removes its code.
    answers: Mapping[str, int] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None

    def with_profile(self, profile: Profile) -> Innovation | None:
        if profile == self.profile:
            return None
        return replace(self, profile=profile, version=self.version + 1)

    def with_answer(self, indicator: str, level: int | None) -> Innovation | None:
        if self.answers.get(indicator) == level:
            return None
        answers = {code: value for code, value in self.answers.items() if code != indicator}
        if level is not None:
            answers[indicator] = level
        return replace(self, answers=dict(sorted(answers.items())), version=self.version + 1)

    def submit(self) -> Innovation:
        """Draft or withdrawn → submitted (eligibility is the caller's check)."""
        if self.status == "submitted":
            raise TransitionError("the innovation is already submitted")
        return replace(self, status="submitted", version=self.version + 1)

    def withdraw(self) -> Innovation:
        if self.status != "submitted":
            raise TransitionError(f"only a submitted innovation can be withdrawn; this one is {self.status}")
        return replace(self, status="withdrawn", version=self.version + 1)


def new_innovation(innovation_id: str, cycle: int, region: str, agency_id: str, profile: Profile) -> Innovation:
    return Innovation(
        id=innovation_id, cycle=cycle, region=region, agency_id=agency_id,
        status="draft", version=1, profile=profile,
    )
