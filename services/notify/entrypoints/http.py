"""Notify's HTTP API: a region admin manages its region's webhook subscriptions and reads
the delivery log. Another region's subscriptions and deliveries do not exist for it (404);
other roles get 403. Each route only translates: request → command, one handler, result →
response."""

from __future__ import annotations

from typing import Annotated, Any, get_args
from uuid import UUID

import httpx
from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from services.common.http import CurrentPrincipal, json_response, service_dependencies
from services.common.openapi import UUID_PARAMETER, enum, errors, one_of, province_codes, region_codes
from services.notify import handlers
from services.notify.dependencies import NotifyDeps
from services.notify.domain.commands import CreateSubscription, DeliveriesQuery, DeliveryStatus, SubscriptionRef
from services.notify.domain.rules import Kind
from services.notify.domain.subscriptions import MAX_URL_LENGTH, Scope, check_webhook_url
from services.notify.views import CreatedSubscription, DeliveryPage, SubscriptionList

router = APIRouter(prefix="/v1", tags=["notify"])
Deps = Annotated[NotifyDeps, Depends(service_dependencies)]


def _exactly_one_of(schema: dict[str, Any]) -> None:
    schema["oneOf"] = [
        {"required": ["region"], "properties": {"region": {"type": "string"}}},
        {"required": ["province"], "properties": {"province": {"type": "string"}}},
    ]


RegionCode = Annotated[str, Field(pattern=r"^\d{2}(\.\d{2})?$", json_schema_extra=enum(region_codes()))]
ProvinceCode = Annotated[str, Field(pattern=r"^\d{2}$", json_schema_extra=enum(province_codes()))]


class ScopeIn(BaseModel):
    """Exactly one of `region` (a Kemendagri code) or `province` (a provinsi's code); the
    caller's own (a region admin's region, a provinsi admin's province)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_of)
    region: RegionCode | None = Field(None, examples=["62.10"])
    province: ProvinceCode | None = Field(None, examples=["62"])

    @model_validator(mode="after")
    def _exactly_one(self) -> ScopeIn:
        if (self.region is None) == (self.province is None):
            raise ValueError("give exactly one of region or province")
        return self

    def scope(self) -> Scope:
        return Scope("region", self.region) if self.region is not None else Scope("province", self.province or "")


# An absolute http(s) URL with a host name (labels of letters and digits, inner hyphens
# single) or IPv4 address, an optional port, and no #fragment or white space
# (domain.subscriptions.check_webhook_url).
_LABEL = r"[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?"
WEBHOOK_URL_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]?://{_LABEL}(\.{_LABEL}){{0,5}}(:[1-9][0-9]{{0,3}})?(/[!-\"$-~]*)?$"


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        description="http(s) URL the webhooks are POSTed to. Unless INOVASI_NOTIFY_ALLOW_PRIVATE_TARGETS is set, "
        "it must name a public host: not localhost, nor a loopback, private or link-local address",
        examples=["https://bapperinda.example.go.id/hooks/iid"],
        json_schema_extra={"pattern": WEBHOOK_URL_PATTERN, "maxLength": MAX_URL_LENGTH},
    )
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


@router.post(
    "/subscriptions", status_code=201, response_model=CreatedSubscription,
    responses=errors(400, 403, 409, 413, 422),
)
async def create_subscription(body: SubscriptionIn, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    """Subscribe a URL to kinds of alerts. The signing secret is in this response only."""
    command = CreateSubscription(url=body.url, scope=body.scope.scope(), kinds=body.kinds)
    return json_response(await handlers.create_subscription(deps, principal, command), 201)


@router.get("/subscriptions", response_model=SubscriptionList, responses=errors(403))
async def list_subscriptions(principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return json_response(await handlers.list_subscriptions(deps, principal))


@router.delete("/subscriptions/{subscription_id}", status_code=204, responses=errors(403, 404, 422))
async def delete_subscription(subscription_id: UUID, principal: CurrentPrincipal, deps: Deps) -> Response:
    """Stop sending to it; its pending deliveries are cancelled, its log is kept."""
    await handlers.delete_subscription(deps, principal, SubscriptionRef(subscription_id))
    return Response(status_code=204)


@router.get("/deliveries", response_model=DeliveryPage, responses=errors(403, 404, 422))
async def list_deliveries(
    principal: CurrentPrincipal,
    deps: Deps,
    subscription: Annotated[UUID | None, Query(description="one subscription's"), UUID_PARAMETER] = None,
    status: Annotated[DeliveryStatus | None, Query(), one_of(get_args(DeliveryStatus))] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        int | SkipJsonSchema[None],
        Query(ge=1, le=2**63 - 1, description="page: deliveries with a smaller id"),
        # Published as it is checked (pydantic would say `ge` and `le`, which JSON Schema has not).
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 2**63 - 1}),
    ] = None,
) -> JSONResponse:
    """The delivery log, newest first: what was sent (the body), to which subscription,
    every attempt with its time, HTTP status or error, and the outcome."""
    query = DeliveriesQuery(subscription, status, limit, before)
    return json_response(await handlers.list_deliveries(deps, principal, query))
