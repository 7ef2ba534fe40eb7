"""What scoring's query handlers take: one typed query each. The HTTP routes build them from
requests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from services.common.data.regions import RegionType
from services.common.events import Figure


@dataclass(frozen=True, slots=True)
class RegionQuery:
    cycle: int
    region: str
    # Read your writes: answer once this event (a write's `event_id`) is reflected.
    after_event: UUID | None = None


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    cycle: int
    region: str
    limit: int = 100


@dataclass(frozen=True, slots=True)
class RankingsQuery:
    cycle: int
    type: RegionType = "kabupaten"
    province: str | None = None
    figure: Figure = "validated"


@dataclass(frozen=True, slots=True)
class ExplainQuery:
    cycle: int
    region: str
    figure: Figure = "validated"


@dataclass(frozen=True, slots=True)
class GapQuery:
    cycle: int
    region: str
    target: str  # a category (id or label) or an IID such as 45.5
    figure: Figure = "validated"
    maturity: Decimal | None = None  # of hypothetical new innovations; None: the region's average


@dataclass(frozen=True, slots=True)
class FeedQuery:
    """The live feed of score updates of one cycle: of one region, of one province's
    regions, or (neither) of all; from after `last_event_id` when a client resumes."""

    cycle: int
    region: str | None = None
    province: str | None = None
    last_event_id: str | None = None
