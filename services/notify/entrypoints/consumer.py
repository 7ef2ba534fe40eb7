"""Notify's stream subscriptions, in group `notify`: score updates from scoring and
evidence rejections from evidence (other evidence events are acknowledged unhandled)."""

from __future__ import annotations

from services.common.bus import EventConsumer
from services.common.events import EVIDENCE_EVENTS, SCORING_EVENTS
from services.common.service import ServiceRuntime
from services.notify.handlers import handle_evidence_rejected, handle_score_updated


def subscribe(runtime: ServiceRuntime, consumer: EventConsumer) -> None:
    consumer.subscribe(SCORING_EVENTS, handle_score_updated, types=["score.updated"])
    consumer.subscribe(EVIDENCE_EVENTS, handle_evidence_rejected, types=["evidence.rejected"])
