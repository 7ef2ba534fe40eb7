"""An assessment cycle as intake sees it: its methodology, its submission window and the
period an innovation's application date (tanggal penerapan) must fall in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Cycle:
    year: int
    methodology: str
    window_opens_at: datetime
    window_closes_at: datetime  # exclusive
    application_from: date
    application_to: date  # inclusive

    def window_open(self, now: datetime) -> bool:
        return self.window_opens_at <= now < self.window_closes_at

    def application_date_in_period(self, day: date) -> bool:
        return self.application_from <= day <= self.application_to

    def window_reason(self, now: datetime) -> str:
        if now < self.window_opens_at:
            return f"the submission window of cycle {self.year} opens at {self.window_opens_at.isoformat()}"
        return f"the submission window of cycle {self.year} closed at {self.window_closes_at.isoformat()}"
