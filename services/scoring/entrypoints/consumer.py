"""Scoring's stream subscriptions: every intake and evidence event, in group `scoring`."""

from __future__ import annotations

from services.common.bus import EventConsumer
from services.common.events import EVIDENCE_STREAM, INTAKE_STREAM
from services.scoring.dependencies import ScoringDeps
from services.scoring.handlers import handle_submission_event


def subscribe(consumer: EventConsumer, deps: ScoringDeps) -> None:
    consumer.subscribe(INTAKE_STREAM, handle_submission_event)
    consumer.subscribe(EVIDENCE_STREAM, handle_submission_event)
