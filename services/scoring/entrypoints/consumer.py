"""Scoring's stream subscriptions: every intake and evidence event, in group `scoring`, in
batches (each read of a stream is applied in one transaction, each region recomputed once)."""

from __future__ import annotations

from services.common.bus import EventConsumer
from services.common.events import EVIDENCE_STREAM, INTAKE_STREAM
from services.scoring.dependencies import ScoringDeps
from services.scoring.handlers import handle_submission_events


def subscribe(consumer: EventConsumer, deps: ScoringDeps) -> None:
    consumer.subscribe_batch(INTAKE_STREAM, handle_submission_events)
    consumer.subscribe_batch(EVIDENCE_STREAM, handle_submission_events)
