"""What scoring's query handlers return besides the score itself (`RegionScore`, in the event
contract) and the explanation and gap plan (`domain/explain.py`, `domain/gap.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from services.common.data.regions import RegionType
from services.common.events import DecimalStr, Figure, RegionScore


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


@dataclass(frozen=True, slots=True)
class ScoreAsOf:
    """A region's score, and whether it reflects the event it was asked after (None: none asked)."""

    score: RegionScore
    reflects_event: bool | None = None


class ScoreHistory(_View):
    """Lineage: every score of the region, newest first, each naming the event that caused it."""

    cycle: int
    region: str
    scores: list[RegionScore]


class RankedRegion(_View):
    rank: int
    region: str
    name: str
    iid: DecimalStr
    category: str | None = Field(description="null for a region without a score yet")


class Rankings(_View):
    cycle: int
    type: RegionType
    province: str | None
    figure: Figure
    regions: list[RankedRegion]


@dataclass(frozen=True, slots=True)
class ScoreMessage:
    """One score update of the live feed; `entry_id` (the stream entry's id) resumes after it."""

    entry_id: str
    score: RegionScore


@dataclass(frozen=True, slots=True)
class FeedIdle:
    """Nothing to send for a while: `stream_unavailable` when the event stream cannot be read."""

    stream_unavailable: bool = False


FeedItem = ScoreMessage | FeedIdle
