"""Evidence's stream subscriptions: innovation events from intake, in group `evidence`, to
keep the projection that authorises uploads. Read in batches: in a deadline rush every answer
is an event here, and a read's events are applied in one transaction, by one statement."""

from __future__ import annotations

from services.common.bus import EventConsumer
from services.common.events import (
    INTAKE_STREAM,
    InnovationCreated,
    InnovationSubmitted,
    InnovationUpdated,
    InnovationWithdrawn,
)
from services.evidence.dependencies import EvidenceDeps
from services.evidence.handlers import project_innovations

INNOVATION_TYPES = tuple(
    cls.model_fields["type"].default
    for cls in (InnovationCreated, InnovationUpdated, InnovationSubmitted, InnovationWithdrawn)
)


def subscribe(consumer: EventConsumer, deps: EvidenceDeps) -> None:
    consumer.subscribe_batch(INTAKE_STREAM, project_innovations, types=INNOVATION_TYPES)
