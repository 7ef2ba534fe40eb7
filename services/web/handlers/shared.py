"""What several use cases share: ids and secrets, the person's API client, and the event
outbox."""

from __future__ import annotations

import hashlib
import secrets

from services.common.db import Connection
from services.common.events import BaseEnvelope
from services.common.ids import uuid7
from services.common.outbox import enqueue
from services.web.adapters.api import PersonApi
from services.web.dependencies import WebDeps
from services.web.views import SignedIn


def new_id(prefix: str) -> str:
    """`acc-…`, `ses-…`, `tok-…`: a time-ordered UUIDv7 in hex."""
    return f"{prefix}-{uuid7().hex}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """What is stored of a session cookie or an API token: its SHA-256."""
    return hashlib.sha256(secret.encode()).digest()


def api_of(deps: WebDeps, person: SignedIn) -> PersonApi:
    """The APIs as this person: its own role and scope, minted for this request."""
    account = person.account
    return deps.require_apis().for_person(
        role=account.role, region=account.region, agency=account.agency,
        account_id=account.id, session_id=person.session_id,
    )


async def publish(conn: Connection, event: BaseEnvelope) -> None:
    """Into the outbox, in the caller's transaction (the relay sends it to web.events)."""
    await enqueue(conn, event)
