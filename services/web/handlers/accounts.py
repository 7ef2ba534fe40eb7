"""Accounts: a region admin creates, disables and enables its region's accounts on a page;
the command line (`inovasi users create`) and the demo create any. Each change publishes
the account's new state on `web.events` (through the outbox, in the same transaction);
disabling also ends the account's sessions, and the services refuse its tokens once the
event reaches them."""

from __future__ import annotations

from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from services.common.events import AccountEnvelope
from services.common.logging import get_logger
from services.web.adapters import store
from services.web.adapters.store import AccountRecord
from services.web.dependencies import WebDeps
from services.web.domain.accounts import (
    AccountStatus,
    Reason,
    Scope,
    can_manage,
    email_problems,
    grant_problems,
    password_problems,
    scope_problems,
    username_problems,
)
from services.web.domain.commands import AccountRef, CreateAccount
from services.web.domain.events import AccountChange, account_event
from services.web.handlers.shared import api_of, new_id, publish
from services.web.views import AccountList, AccountView, SignedIn

log = get_logger(__name__)


def _problems(command: CreateAccount) -> list[Problem]:
    scope = Scope(command.role, command.region, command.agency)
    return [
        *username_problems(command.username),
        *password_problems(command.password, command.username),
        *scope_problems(scope),
        *email_problems(command.email),
    ]


async def _insert(deps: WebDeps, command: CreateAccount, created_by: str, actor: str | None) -> AccountView:
    password_hash = await deps.passwords.hash(command.password)
    now = deps.clock()
    account = AccountRecord(
        id=new_id("acc"), username=command.username, password_hash=password_hash, role=command.role,
        region=command.region, agency=command.agency, email=command.email, status="active", failed_logins=0,
        locked_until=None, last_login_at=None, version=1, created_at=now, updated_at=now, created_by=created_by,
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.insert_account(conn, account):
            raise InvalidInput(problems=[Problem("username", Reason.USERNAME_TAKEN)], code="username_taken")
        await publish(conn, _event("created", account, actor))
    deps.wake_relay()
    log.info("account created", account=account.id, role=account.role, region=account.region, by=created_by)
    return AccountView.of(account)


def _event(change: AccountChange, account: AccountRecord, actor: str | None) -> AccountEnvelope:
    return account_event(
        change, account_id=account.id, username=account.username, role=account.role, region=account.region,
        agency=account.agency, status=account.status, version=account.version, actor=actor,
    )


async def create_account(deps: WebDeps, person: SignedIn, command: CreateAccount) -> AccountView:
    """A region admin's new account of its region (operator, verifier, viewer, region admin);
    an operator's agency must be registered in the region."""
    actor = Scope(person.account.role, person.account.region, person.account.agency)
    if actor.role != "region_admin":
        raise Forbidden("only a region admin manages accounts")
    problems = _problems(command) + grant_problems(actor, Scope(command.role, command.region, command.agency))
    if command.role == "operator" and command.agency and not any(p.field == "agency" for p in problems):
        agencies = await api_of(deps, person).agencies(actor.region or "")
        if command.agency not in {agency.id for agency in agencies}:
            problems.append(Problem("agency", Reason.AGENCY_UNKNOWN))
    if problems:
        raise InvalidInput(problems=problems)
    return await _insert(deps, command, person.account.id, person.account.id)


async def create_account_from_cli(deps: WebDeps, command: CreateAccount) -> AccountView:
    """`inovasi users create`: any role (province admins and national accounts are made only
    here); InvalidInput with code `username_taken` when the user name exists."""
    problems = _problems(command)
    if problems:
        raise InvalidInput(problems=problems)
    return await _insert(deps, command, "cli", None)


async def ensure_account(deps: WebDeps, command: CreateAccount, created_by: str) -> tuple[AccountView, bool]:
    """For the demo: the account with this user name and password, created if missing (its
    password set again if it was changed); whether it was created now."""
    async with deps.pool.acquire() as conn:
        existing = await store.account_by_username(conn, command.username)
    if existing is None:
        problems = _problems(command)
        if problems:
            raise InvalidInput(problems=problems)
        return await _insert(deps, command, created_by, None), True
    if not await deps.passwords.verify(existing.password_hash, command.password):
        password_hash = await deps.passwords.hash(command.password)
        async with deps.pool.acquire() as conn:
            await store.set_password_hash(conn, existing.id, password_hash, deps.clock())
    return AccountView.of(existing), False


async def list_accounts(deps: WebDeps, person: SignedIn) -> AccountList:
    region = person.account.region
    if person.account.role != "region_admin" or region is None:
        raise Forbidden("only a region admin manages accounts")
    async with deps.pool.acquire() as conn:
        accounts = await store.accounts_of_region(conn, region)
    return AccountList(region=region, accounts=[AccountView.of(a) for a in accounts])


async def _set_status(deps: WebDeps, person: SignedIn, ref: AccountRef, status: AccountStatus) -> AccountView:
    actor = Scope(person.account.role, person.account.region, person.account.agency)
    if actor.role != "region_admin":
        raise Forbidden("only a region admin manages accounts")
    if ref.account_id == person.account.id:
        raise Conflict(code="own_account", reason="a region admin cannot disable or enable its own account")
    async with deps.pool.acquire() as conn, conn.transaction():
        account = await store.account_by_id(conn, ref.account_id, lock=True)
        if account is None or not can_manage(actor, account.scope):
            raise NotFound.named("account")  # another region's accounts do not exist for it
        if account.status == status:
            return AccountView.of(account)
        account = await store.set_status(conn, account.id, status, deps.clock())
        ended = await store.delete_sessions_of(conn, account.id) if status == "disabled" else []
        await publish(conn, _event("disabled" if status == "disabled" else "updated", account, person.account.id))
    deps.wake_relay()
    log.info("account status changed", account=account.id, status=status, by=person.account.id,
             sessions_ended=len(ended))
    return AccountView.of(account)


async def disable_account(deps: WebDeps, person: SignedIn, ref: AccountRef) -> AccountView:
    """Disabled: its sessions end now; its tokens stop working once `account.disabled` is read."""
    return await _set_status(deps, person, ref, "disabled")


async def enable_account(deps: WebDeps, person: SignedIn, ref: AccountRef) -> AccountView:
    return await _set_status(deps, person, ref, "active")
