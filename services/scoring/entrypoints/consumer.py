"""Scoring's stream subscriptions: every intake and evidence event, in group `scoring`."""

from __future__ import annotations

from services.common.bus import EventConsumer
from services.common.events import EVIDENCE_EVENTS, INTAKE_EVENTS
from services.common.service import ServiceRuntime
from services.scoring.handlers import handle_submission_event


def subscribe(runtime: ServiceRuntime, consumer: EventConsumer) -> None:
    consumer.subscribe(INTAKE_EVENTS, handle_submission_event)
    consumer.subscribe(EVIDENCE_EVENTS, handle_submission_event)
