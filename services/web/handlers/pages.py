"""The view-models of the pages: one builder per page, each reading what its page shows
(from this service's tables, or from the APIs as the person) and enforcing on the server
who may see it. The next page builder adds its function here, its model in `views.py` and
its template in `templates/`."""

from __future__ import annotations

from services.common.errors import Unavailable
from services.common.principal import Principal
from services.web.adapters import store
from services.web.dependencies import WebDeps
from services.web.handlers.shared import api_of
from services.web.handlers.tokens import list_tokens
from services.web.views import (
    AccountView,
    SettingsPage,
    SignedIn,
)


def principal_of(person: SignedIn) -> Principal:
    """The person as the APIs see it: the same tenancy rules on pages as in the APIs."""
    account = person.account
    return Principal(subject=account.id, role=account.role, region=account.region, agency=account.agency,
                     token_id=person.session_id)


async def settings_page(deps: WebDeps, person: SignedIn) -> SettingsPage:
    """Every person's API tokens; a region admin's region settings besides. A section whose
    service does not answer is marked unavailable instead of failing the page."""
    tokens = await list_tokens(deps, person)
    region = person.account.region
    if person.account.role != "region_admin" or region is None:
        return SettingsPage(person=person, manages_region=False, tokens=tokens)
    async with deps.pool.acquire() as conn:
        accounts = [AccountView.of(a) for a in await store.accounts_of_region(conn, region)]
    api, unavailable = api_of(deps, person), list[str]()
    try:
        agencies = await api.agencies(region)
    except Unavailable:
        agencies, unavailable = [], [*unavailable, "agencies"]
    try:
        webhooks = await api.webhooks()
    except Unavailable:
        webhooks, unavailable = [], [*unavailable, "webhooks"]
    return SettingsPage(person=person, manages_region=True, tokens=tokens, agencies=agencies, accounts=accounts,
                        webhooks=webhooks, unavailable=unavailable)


def home(person: SignedIn | None) -> str:
    """Where `/` leads: the person's own page, or the login form."""
    return person.landing if person is not None else "/login"
