"""Personal API tokens: for a person's machines (a dashboard, a script). A token is a JWT of
the account's own role and scope (`sub` = the account, `jti` = the token's id), valid for at
most 366 days; it is shown once, and only its SHA-256 is kept. Revoking it publishes
`token.revoked`, and the services refuse it once they read that."""

from __future__ import annotations

from datetime import timedelta

from services.common.errors import InvalidInput, NotFound
from services.common.logging import get_logger
from services.common.tokens import issue_token
from services.web.adapters import store
from services.web.adapters.store import TokenRecord
from services.web.dependencies import WebDeps
from services.web.domain.commands import CreateToken, TokenRef
from services.web.domain.events import token_revoked
from services.web.domain.tokens import token_problems
from services.web.handlers.shared import digest, new_id, publish
from services.web.views import CreatedToken, SignedIn, TokenView

log = get_logger(__name__)


async def create_token(deps: WebDeps, person: SignedIn, command: CreateToken) -> CreatedToken:
    problems = token_problems(command.name, command.days)
    if problems:
        raise InvalidInput(problems=problems)
    account, now = person.account, deps.clock()
    record = TokenRecord(
        id=new_id("tok"), account_id=account.id, name=command.name.strip(), created_at=now, last_used_at=None,
        expires_at=now + timedelta(days=command.days), revoked_at=None,
    )
    secret = issue_token(
        deps.auth_secret, account.role, account.region, account.agency, subject=account.id,
        ttl_s=command.days * 86400, now=now.timestamp(), token_id=record.id,
    )
    async with deps.pool.acquire() as conn:
        await store.insert_token(conn, record, digest(secret))
    log.info("API token created", account=account.id, token_id=record.id, days=command.days)
    return CreatedToken(token=TokenView.of(record, now), secret=secret)


async def revoke_token(deps: WebDeps, person: SignedIn, ref: TokenRef) -> TokenView:
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        before = await store.revoke_token(conn, ref.token_id, person.account.id, now)
        if before is None:
            raise NotFound.named("token")
        if before.revoked_at == now:  # revoked by this call
            event = token_revoked(token_id=before.id, account_id=person.account.id, region=person.account.region,
                                  actor=person.account.id)
            await publish(conn, event)
    deps.wake_relay()
    log.info("API token revoked", account=person.account.id, token_id=ref.token_id)
    return TokenView.of(before, now)


async def list_tokens(deps: WebDeps, person: SignedIn) -> list[TokenView]:
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        return [TokenView.of(t, now) for t in await store.tokens_of(conn, person.account.id)]
