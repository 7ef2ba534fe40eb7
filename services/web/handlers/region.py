"""A region admin's settings kept by the other services, changed through their APIs as the
admin: agencies (intake) and webhooks (notify)."""

from __future__ import annotations

from services.common.errors import Forbidden
from services.web.adapters.api import Agency, CreatedWebhook
from services.web.dependencies import WebDeps
from services.web.domain.commands import CreateWebhook, RegisterAgency, WebhookRef
from services.web.handlers.shared import api_of
from services.web.views import SignedIn


def _managed_region(person: SignedIn) -> str:
    if person.account.role != "region_admin" or person.account.region is None:
        raise Forbidden("only a region admin manages the region's settings")
    return person.account.region


async def register_agency(deps: WebDeps, person: SignedIn, command: RegisterAgency) -> Agency:
    region = _managed_region(person)
    return await api_of(deps, person).register_agency(region, command.agency_id, command.name)


async def create_webhook(deps: WebDeps, person: SignedIn, command: CreateWebhook) -> CreatedWebhook:
    region = _managed_region(person)
    return await api_of(deps, person).create_webhook(command.url, {"region": region}, command.kinds)


async def delete_webhook(deps: WebDeps, person: SignedIn, ref: WebhookRef) -> None:
    _managed_region(person)
    await api_of(deps, person).delete_webhook(ref.subscription_id)
