"""Notify's HTTP API: a region admin manages its region's webhook subscriptions and reads
the delivery log. Another region's subscriptions and deliveries do not exist for it (404);
other roles get 403."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import httpx
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.common.auth import CurrentPrincipal, Principal, require_role
from services.common.service import ApiError, Problem, ServiceRuntime, not_found, runtime_of
from services.notify import handlers
from services.notify.adapters import store
from services.notify.domain.rules import Kind
from services.notify.domain.subscriptions import RuleViolation, Scope, check_webhook_url
from services.notify.settings import NotifySettings

router = APIRouter(prefix="/v1", tags=["notify"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class ScopeIn(BaseModel):
    """Exactly one of `region` (a Kemendagri code) or `province` (a provinsi's code)."""

    model_config = ConfigDict(extra="forbid")
    region: str | None = Field(None, pattern=r"^\d{2}(\.\d{2})?$", examples=["62.10"])
    province: str | None = Field(None, pattern=r"^\d{2}$", examples=["62"])

    @model_validator(mode="after")
    def _exactly_one(self) -> ScopeIn:
        if (self.region is None) == (self.province is None):
            raise ValueError("give exactly one of region or province")
        return self

    def scope(self) -> Scope:
        return Scope("region", self.region) if self.region is not None else Scope("province", self.province or "")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="http(s) URL the webhooks are POSTed to", examples=["https://bapperinda.example.go.id/hooks/iid"])
    scope: ScopeIn
    kinds: list[Kind] = Field(min_length=1, max_length=10, description="event kinds to receive")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        check_webhook_url(value)
        try:
            httpx.URL(value)  # what the sender will parse, e.g. internationalised host names
        except httpx.InvalidURL as exc:
            raise ValueError(f"cannot be requested ({exc})") from None
        return value


def _region_admin(principal: Principal) -> Principal:
    require_role(principal, "region_admin")
    return principal


def _subscription_json(record: asyncpg.Record) -> dict:
    return {
        "id": str(record["id"]),
        "url": record["url"],
        "scope": {record["scope_kind"]: record["scope_code"]},
        "kinds": list(record["kinds"]),
        "created_by": record["created_by"],
        "created_at": record["created_at"].isoformat(),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@router.post("/subscriptions", status_code=201)
async def create_subscription(body: SubscriptionIn, principal: CurrentPrincipal, runtime: Runtime) -> dict:
    """Subscribe a URL to kinds of alerts. The signing secret is in this response only."""
    _region_admin(principal)
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    async with runtime.pool.acquire() as conn:
        try:
            created = await handlers.create_subscription(
                conn,
                caller_region=principal.region,
                caller=principal.subject,
                url=body.url,
                scope=body.scope.scope(),
                kinds=body.kinds,
                limit=settings.notify_max_subscriptions_per_region,
                allow_private_targets=settings.notify_allow_private_targets,
            )
        except RuleViolation as exc:
            error = "forbidden" if exc.status == 403 else "invalid_request"
            raise ApiError(exc.status, error, [Problem(exc.field, exc.reason)]) from None
        except handlers.SubscriptionLimitReached as exc:
            raise ApiError(409, "limit_reached", [Problem("body", str(exc))]) from None
    return {**_subscription_json(created.record), "secret": created.secret}


@router.get("/subscriptions")
async def list_subscriptions(principal: CurrentPrincipal, runtime: Runtime) -> dict:
    _region_admin(principal)
    async with runtime.pool.acquire() as conn:
        records = await store.active_subscriptions(conn, principal.region)
    return {"subscriptions": [_subscription_json(r) for r in records]}


@router.delete("/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: UUID, principal: CurrentPrincipal, runtime: Runtime) -> Response:
    """Stop sending to it; its pending deliveries are cancelled, its log is kept."""
    _region_admin(principal)
    async with runtime.pool.acquire() as conn:
        if not await handlers.delete_subscription(conn, caller_region=principal.region, id=subscription_id):
            raise not_found(f"subscription {subscription_id}")
    return Response(status_code=204)


@router.get("/deliveries")
async def list_deliveries(
    principal: CurrentPrincipal,
    runtime: Runtime,
    subscription: UUID | None = None,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="page: deliveries with a smaller id")] = None,
) -> dict:
    """The delivery log, newest first: what was sent (the body), to which subscription,
    every attempt with its time, HTTP status or error, and the outcome."""
    _region_admin(principal)
    async with runtime.pool.acquire() as conn:
        if subscription is not None and await store.subscription_of(conn, principal.region, subscription) is None:
            raise not_found(f"subscription {subscription}")
        records = await store.list_deliveries(
            conn, principal.region, subscription_id=subscription, status=status, limit=limit, before=before
        )
    return {
        "deliveries": [
            {
                "id": r["id"],
                "subscription": str(r["subscription_id"]),
                "event_id": str(r["event_id"]),
                "event_type": r["event_type"],
                "kind": r["kind"],
                "cycle": r["cycle"],
                "region": r["region"],
                "status": r["status"],
                "attempt_count": r["attempts"],
                "created_at": _iso(r["created_at"]),
                "updated_at": _iso(r["updated_at"]),
                "delivered_at": _iso(r["delivered_at"]),
                "next_attempt_at": _iso(r["next_attempt_at"]),
                "last_http_status": r["last_http_status"],
                "last_error": r["last_error"],
                "attempts": store.attempts_json(r),
                "body": json.loads(r["body"]),
            }
            for r in records
        ],
        "next_before": records[-1]["id"] if len(records) == limit else None,
    }
