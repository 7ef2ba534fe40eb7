"""Scoring's use cases: the event handler that keeps every region's score (`events`), and
the queries behind the score API and the live feed (`queries`, `feed`). Each query takes
scoring's typed dependencies, the caller and a typed query, returns a typed result, and
raises domain errors (`services.common.errors`)."""

from services.scoring.handlers.feed import open_score_feed
from services.scoring.handlers.queries import explain, gap, rankings, region_score_now, score_history
from services.scoring.handlers.recompute import handle_submission_event, handle_submission_events

__all__ = [
    "explain",
    "gap",
    "handle_submission_event",
    "handle_submission_events",
    "open_score_feed",
    "rankings",
    "region_score_now",
    "score_history",
]
