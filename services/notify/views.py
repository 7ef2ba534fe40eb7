"""What notify's use cases return: typed results, sent by the HTTP routes as they are."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.common.events import Timestamp
from services.notify.adapters.store import DeliveryRecord, SubscriptionRecord


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SubscriptionView(_View):
    id: str
    url: str
    scope: dict[str, str] = Field(description='{"region": code} or {"province": code}')
    kinds: list[str]
    created_by: str
    created_at: Timestamp


class CreatedSubscription(SubscriptionView):
    secret: str = Field(description="signs every webhook of this subscription; shown only in this response")


class SubscriptionList(_View):
    subscriptions: list[SubscriptionView]


class DeliveryView(_View):
    id: int
    subscription: str
    event_id: str
    event_type: str
    kind: str
    cycle: int
    region: str
    status: str
    attempt_count: int
    created_at: Timestamp
    updated_at: Timestamp
    delivered_at: Timestamp | None
    next_attempt_at: Timestamp | None
    last_http_status: int | None
    last_error: str | None
    attempts: list[dict[str, Any]] = Field(description="every attempt: time, HTTP status or error, outcome")
    body: dict[str, Any] = Field(description="what was sent")


class DeliveryPage(_View):
    deliveries: list[DeliveryView]
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last")


def subscription_view(record: SubscriptionRecord) -> SubscriptionView:
    return SubscriptionView(
        id=str(record.id),
        url=record.url,
        scope=record.scope.as_json(),
        kinds=list(record.kinds),
        created_by=record.created_by,
        created_at=record.created_at,
    )


def delivery_view(record: DeliveryRecord) -> DeliveryView:
    return DeliveryView(
        id=record.id,
        subscription=str(record.subscription_id),
        event_id=str(record.event_id),
        event_type=record.event_type,
        kind=record.kind,
        cycle=record.cycle,
        region=record.region,
        status=record.status,
        attempt_count=record.attempts,
        created_at=record.created_at,
        updated_at=record.updated_at,
        delivered_at=record.delivered_at,
        next_attempt_at=record.next_attempt_at,
        last_http_status=record.last_http_status,
        last_error=record.last_error,
        attempts=record.attempt_log,
        body=json.loads(record.body),
    )
