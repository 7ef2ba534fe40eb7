"""What scoring's query handlers return besides the score itself (`RegionScore`, in the event
contract) and the explanation and gap plan (`domain/explain.py`, `domain/gap.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from services.common.data.regions import RegionType
from services.common.events import DecimalStr, Figure, RankingChange, RegionScore


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
    category: str = Field(description="a region without a score yet stands at 0.00: tidak_dapat_dinilai")


class Rankings(_View):
    cycle: int
    type: RegionType
    province: str | None
    figure: Figure
    regions: list[RankedRegion]


@dataclass(frozen=True, slots=True)
class ScoreMessage:
    """A region's score on the live feed (an update, or its current score on connecting);
    `entry_id` (the stream entry's id) resumes after it."""

    entry_id: str
    score: RegionScore

    def at(self, entry_id: str) -> ScoreMessage:
        return ScoreMessage(entry_id, self.score)


@dataclass(frozen=True, slots=True)
class RankingMessage:
    """Regions followed whose rank moved because another region's score changed."""

    entry_id: str
    change: RankingChange

    def at(self, entry_id: str) -> RankingMessage:
        return RankingMessage(entry_id, self.change)


@dataclass(frozen=True, slots=True)
class FeedIdle:
    """Nothing to send for a while: `stream_unavailable` when the event stream cannot be read."""

    stream_unavailable: bool = False

    def at(self, entry_id: str) -> FeedIdle:
        return self


@dataclass(frozen=True, slots=True)
class FeedDropped:
    """The last item of a feed that fell too far behind (the client did not read what it was
    sent): why, so it reconnects with Last-Event-ID."""

    reason: str

    def at(self, entry_id: str) -> FeedDropped:
        return self


FeedItem = ScoreMessage | RankingMessage | FeedIdle | FeedDropped
