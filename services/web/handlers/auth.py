"""Signing in and out, the session behind each request, and changing one's password."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.common.db import Connection
from services.common.errors import Conflict, DomainError, Forbidden, InvalidInput, Problem
from services.common.logging import get_logger
from services.web.adapters import store
from services.web.adapters.store import SessionRecord
from services.web.dependencies import WebDeps
from services.web.domain.accounts import Reason, normal_username, password_problems
from services.web.domain.commands import ChangePassword, Login, SessionCookie, SessionRef
from services.web.domain.login import LOCKOUT, LoginState, RateLimit, unknown_account_lock
from services.web.domain.sessions import landing_path, safe_next
from services.web.handlers.shared import digest, new_id, new_secret
from services.web.views import AccountPage, AccountView, LoginPage, LoginResult, SessionView, SignedIn

log = get_logger(__name__)

ATTEMPTS_KEPT = timedelta(days=1)


def login_page(next_path: str | None = None, username: str = "") -> LoginPage:
    """The login form, with a fresh CSRF token of its own (there is no session yet)."""
    return LoginPage(csrf_token=new_secret(), username=username, next=safe_next(next_path))


def _locked(until: object) -> Conflict:
    return Conflict(code="account_locked", reason="too many failed logins: the account is locked",
                    locked_until=until)


async def login(deps: WebDeps, command: Login, previous: SessionCookie | None = None) -> LoginResult:
    """A new session for the right user name and password. Refused, in this order: too many
    attempts from the address or for the user name (rate_limited, with retry_after_s); a
    locked account (account_locked, with locked_until); a wrong user name or password
    (invalid_credentials, the same answer for both); a disabled account (account_disabled).
    The browser's previous session, if any, ends: a new session id and CSRF token at login."""
    settings, now = deps.settings, deps.clock()
    name = normal_username(command.username)[:200]
    window = timedelta(seconds=settings.web_login_window_s)
    async with deps.pool.acquire() as conn:
        by_address = await store.attempts_since(conn, now - window, address=command.address)
        by_name = await store.attempts_since(conn, now - window, username=name)
        for by, limit, attempts in (
            ("address", settings.web_login_address_limit, by_address),
            ("username", settings.web_login_account_limit, by_name),
        ):
            wait = RateLimit(limit, window).retry_after_s(attempts, now)
            if wait is not None:
                log.info("login refused: rate limited", address=command.address, username=name, by=by)
                raise Conflict(code="rate_limited", reason="too many login attempts", retry_after_s=wait)
        account = await store.account_by_username(conn, name)
        if account is None:
            failures = await store.attempts_since(conn, now - LOCKOUT, username=name, failed_only=True)
            locked_until = unknown_account_lock(failures, now)
        else:
            locked_until = account.locked_until if account.login_state.is_locked(now) else None
        if locked_until is not None:
            await store.add_login_attempt(conn, command.address, name, False, now)
            log.info("login refused: account locked", address=command.address, username=name)
            raise _locked(locked_until)
    matches = await deps.passwords.verify(account.password_hash if account else None, command.password)
    refusal: DomainError | None = None
    async with deps.pool.acquire() as conn, conn.transaction():  # committed, refused or not
        await store.add_login_attempt(conn, command.address, name, matches, now)
        if account is None or not matches:
            refusal = await _count_failure(conn, account.id if account else None, now)
            log.info("login refused", reason=refusal.code, username=name, address=command.address)
        elif account.status != "active":
            log.info("login refused: account disabled", account=account.id, address=command.address)
            refusal = Forbidden("the account is disabled", code="account_disabled")
        else:
            if previous is not None:
                await store.delete_session_by_secret_hash(conn, digest(previous.secret))
            secret, session = new_secret(), SessionRecord(
                id=new_id("ses"), account_id=account.id, csrf_token=new_secret(), created_at=now,
                last_seen_at=now, expires_at=now + timedelta(seconds=settings.web_session_ttl_s),
                user_agent=(command.user_agent or "")[:300] or None, address=command.address,
            )
            await store.insert_session(conn, session, digest(secret))
            await store.set_login_state(conn, account.id, LoginState.after_success(), logged_in_at=now)
            await store.delete_attempts_before(conn, now - ATTEMPTS_KEPT)
            await store.delete_expired_sessions(conn, now, settings.web_session_idle_s)
    if refusal is not None:
        raise refusal
    assert account is not None
    if deps.passwords.needs_rehash(account.password_hash):
        await _rehash(deps, account.id, command.password)
    log.info("logged in", account=account.id, role=account.role, address=command.address, session=session.id)
    person = SignedIn(account=AccountView.of(account), session_id=session.id, csrf_token=session.csrf_token)
    return LoginResult(session_secret=secret, person=person, landing=landing_path(account.role, account.region))


async def _count_failure(conn: Connection, account_id: str | None, now: datetime) -> DomainError:
    """Count a failure against the account (the fifth in a row locks it); the refusal."""
    if account_id is not None:
        current = await store.account_by_id(conn, account_id, lock=True)
        if current is not None:
            state = current.login_state.after_failure(now)
            await store.set_login_state(conn, account_id, state)
            if state.is_locked(now):
                log.info("account locked after failed logins", account=account_id)
                return _locked(state.locked_until)
    return InvalidInput(code="invalid_credentials", reason="wrong user name or password")


async def _rehash(deps: WebDeps, account_id: str, password: str) -> None:
    password_hash = await deps.passwords.hash(password)
    async with deps.pool.acquire() as conn:
        await store.set_password_hash(conn, account_id, password_hash, deps.clock())


async def current_session(deps: WebDeps, cookie: SessionCookie) -> SignedIn:
    """The person whose session the cookie names; Forbidden (`session_ended`) when there is
    none, it expired (absolute or idle), or the account is disabled."""
    now, idle = deps.clock(), timedelta(seconds=deps.settings.web_session_idle_s)
    async with deps.pool.acquire() as conn:
        found = await store.session_by_secret_hash(conn, digest(cookie.secret))
        if found is None:
            raise Forbidden("no session", code="session_ended")
        session, account = found
        if not session.times.alive(now, idle) or account.status != "active":
            await store.delete_session(conn, session.id)
            raise Forbidden("the session ended", code="session_ended")
        if session.times.needs_touch(now):
            await store.touch_session(conn, session.id, now)
    return SignedIn(account=AccountView.of(account), session_id=session.id, csrf_token=session.csrf_token)


async def logout(deps: WebDeps, person: SignedIn) -> None:
    async with deps.pool.acquire() as conn:
        await store.delete_session(conn, person.session_id)
    log.info("logged out", account=person.account.id, session=person.session_id)


async def end_session(deps: WebDeps, person: SignedIn, ref: SessionRef) -> None:
    """End another session of one's own account (a browser left signed in elsewhere)."""
    async with deps.pool.acquire() as conn:
        await store.delete_session(conn, ref.session_id, person.account.id)


async def change_password(deps: WebDeps, person: SignedIn, command: ChangePassword) -> None:
    """The current password is required; every other session of the account ends."""
    problems = password_problems(command.new, person.account.username, field="new_password")
    if command.new != command.repeated:
        problems.append(Problem("repeat_password", Reason.PASSWORD_MISMATCH))
    if command.new == command.current:
        problems.append(Problem("new_password", Reason.PASSWORD_UNCHANGED))
    async with deps.pool.acquire() as conn:
        account = await store.account_by_id(conn, person.account.id)
    if account is None or not await deps.passwords.verify(account.password_hash, command.current):
        problems.insert(0, Problem("current_password", Reason.PASSWORD_WRONG))
    if problems:
        raise InvalidInput(problems=problems)
    password_hash = await deps.passwords.hash(command.new)
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.set_password_hash(conn, person.account.id, password_hash, deps.clock())
        ended = await store.delete_sessions_of(conn, person.account.id, keep=person.session_id)
    log.info("password changed", account=person.account.id, other_sessions_ended=len(ended))


async def account_page(deps: WebDeps, person: SignedIn) -> AccountPage:
    async with deps.pool.acquire() as conn:
        sessions = await store.sessions_of(conn, person.account.id)
    return AccountPage(person=person, sessions=[SessionView.of(s, person.session_id) for s in sessions])
