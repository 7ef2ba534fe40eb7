"""What notify's use cases take: one typed command or query each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from services.notify.domain.rules import Kind
from services.notify.domain.subscriptions import Scope

DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class CreateSubscription:
    url: str
    scope: Scope
    kinds: Sequence[Kind]


@dataclass(frozen=True, slots=True)
class SubscriptionRef:
    subscription_id: UUID


@dataclass(frozen=True, slots=True)
class DeliveriesQuery:
    subscription: UUID | None = None
    status: DeliveryStatus | None = None
    limit: int = 50
    before: int | None = None  # page: deliveries with a smaller id
