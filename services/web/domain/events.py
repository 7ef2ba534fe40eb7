"""The events the web service publishes on `web.events` (the contract is
`services.common.events`): an account's new state after each change, and a revoked token."""

from __future__ import annotations

from typing import Literal

from services.common.events import (
    AccountCreated,
    AccountDisabled,
    AccountEnvelope,
    AccountState,
    AccountUpdated,
    RevokedToken,
    TokenRevoked,
)
from services.common.principal import Role
from services.web.domain.accounts import AccountStatus

AccountChange = Literal["created", "updated", "disabled"]
_EVENTS: dict[AccountChange, type[AccountCreated | AccountUpdated | AccountDisabled]] = {
    "created": AccountCreated,
    "updated": AccountUpdated,
    "disabled": AccountDisabled,
}


def account_event(
    change: AccountChange,
    *,
    account_id: str,
    username: str,
    role: Role,
    region: str | None,
    agency: str | None,
    status: AccountStatus,
    version: int,
    actor: str | None,
) -> AccountEnvelope:
    """`account.created|updated|disabled` carrying the account as it is now; `actor` is the
    account that made the change (None from the command line)."""
    state = AccountState(id=account_id, username=username, role=role, region=region, agency=agency, status=status)
    return _EVENTS[change](subject=account_id, version=version, region=region, data=state, actor=actor)


def token_revoked(*, token_id: str, account_id: str, region: str | None, actor: str | None) -> TokenRevoked:
    return TokenRevoked(
        subject=token_id, version=1, region=region, actor=actor,
        data=RevokedToken(token_id=token_id, account_id=account_id),
    )
