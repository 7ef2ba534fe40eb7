"""Notify's stream subscriptions, in group `notify`: score updates from scoring and
evidence rejections from evidence (other evidence events are acknowledged unhandled). Score
updates are read in batches, a read's in one transaction."""

from __future__ import annotations

from services.common.bus import EventConsumer
from services.common.events import EVIDENCE_STREAM, SCORING_STREAM
from services.notify.dependencies import NotifyDeps
from services.notify.handlers import handle_evidence_rejected, handle_score_updates


def subscribe(consumer: EventConsumer, deps: NotifyDeps) -> None:
    consumer.subscribe_batch(SCORING_STREAM, handle_score_updates, types=["score.updated"])
    consumer.subscribe(EVIDENCE_STREAM, handle_evidence_rejected, types=["evidence.rejected"])
