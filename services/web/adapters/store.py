"""The web service's PostgreSQL tables (schema `web`): accounts, sessions, personal API
tokens and login attempts. Raw asyncpg SQL on the caller's connection (the pool's
search_path is the service's schema); rows come back as typed records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.db import Connection
from services.web.domain.accounts import AccountStatus, Scope
from services.web.domain.login import LoginState
from services.web.domain.sessions import SessionTimes


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: str
    username: str
    password_hash: str
    role: Any  # Role
    region: str | None
    agency: str | None
    email: str | None
    status: AccountStatus
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str

    @property
    def scope(self) -> Scope:
        return Scope(self.role, self.region, self.agency)

    @property
    def login_state(self) -> LoginState:
        return LoginState(self.failed_logins, self.locked_until)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    account_id: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    address: str | None

    @property
    def times(self) -> SessionTimes:
        return SessionTimes(self.created_at, self.last_seen_at, self.expires_at)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    account_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None


_ACCOUNT = """id, username, password_hash, role, region, agency, email, status, failed_logins, locked_until,
              last_login_at, version, created_at, updated_at, created_by"""
_SESSION = "id, account_id, csrf_token, created_at, last_seen_at, expires_at, user_agent, address"
_TOKEN = "id, account_id, name, created_at, last_used_at, expires_at, revoked_at"


def _account(row: asyncpg.Record | None) -> AccountRecord | None:
    return AccountRecord(**dict(row)) if row is not None else None


# --- accounts ------------------------------------------------------------------------------


async def insert_account(conn: Connection, account: AccountRecord) -> bool:
    """False when the user name is taken (whatever its case)."""
    inserted = await conn.fetchval(
        f"""INSERT INTO accounts ({_ACCOUNT})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (lower(username)) DO NOTHING RETURNING true""",
        account.id, account.username, account.password_hash, account.role, account.region, account.agency,
        account.email, account.status, account.failed_logins, account.locked_until, account.last_login_at,
        account.version, account.created_at, account.updated_at, account.created_by,
    )
    return bool(inserted)


async def account_by_username(conn: Connection, username: str, *, lock: bool = False) -> AccountRecord | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(f"SELECT {_ACCOUNT} FROM accounts WHERE lower(username) = lower($1){suffix}", username)
    return _account(row)


async def account_by_id(conn: Connection, account_id: str, *, lock: bool = False) -> AccountRecord | None:
    suffix = " FOR UPDATE" if lock else ""
    return _account(await conn.fetchrow(f"SELECT {_ACCOUNT} FROM accounts WHERE id = $1{suffix}", account_id))


async def accounts_of_region(conn: Connection, region: str) -> list[AccountRecord]:
    rows = await conn.fetch(f"SELECT {_ACCOUNT} FROM accounts WHERE region = $1 ORDER BY lower(username)", region)
    return [AccountRecord(**dict(row)) for row in rows]


async def set_login_state(conn: Connection, account_id: str, state: LoginState, *, logged_in_at: datetime | None
                          = None) -> None:
    await conn.execute(
        """UPDATE accounts SET failed_logins = $2, locked_until = $3,
                  last_login_at = coalesce($4, last_login_at)
           WHERE id = $1""",
        account_id, state.failed_logins, state.locked_until, logged_in_at,
    )


async def set_password_hash(conn: Connection, account_id: str, password_hash: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1", account_id, password_hash, now
    )


async def set_status(conn: Connection, account_id: str, status: AccountStatus, now: datetime) -> AccountRecord:
    """The account with its new status and the next version of its events."""
    row = await conn.fetchrow(
        f"""UPDATE accounts SET status = $2, updated_at = $3, version = version + 1,
                  failed_logins = CASE WHEN $2 = 'active' THEN 0 ELSE failed_logins END,
                  locked_until = CASE WHEN $2 = 'active' THEN NULL ELSE locked_until END
            WHERE id = $1 RETURNING {_ACCOUNT}""",
        account_id, status, now,
    )
    account = _account(row)
    if account is None:
        raise LookupError(account_id)
    return account


# --- sessions ------------------------------------------------------------------------------


async def insert_session(conn: Connection, session: SessionRecord, secret_hash: bytes) -> None:
    await conn.execute(
        f"""INSERT INTO sessions ({_SESSION}, secret_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        session.id, session.account_id, session.csrf_token, session.created_at, session.last_seen_at,
        session.expires_at, session.user_agent, session.address, secret_hash,
    )


async def session_by_secret_hash(
    conn: Connection, secret_hash: bytes
) -> tuple[SessionRecord, AccountRecord] | None:
    row = await conn.fetchrow(
        f"""SELECT {', '.join('s.' + c.strip() for c in _SESSION.split(','))},
                   {', '.join('a.' + c.strip() + ' AS a_' + c.strip() for c in _ACCOUNT.split(','))}
            FROM sessions s JOIN accounts a ON a.id = s.account_id
            WHERE s.secret_hash = $1""",
        secret_hash,
    )
    if row is None:
        return None
    values = dict(row)
    account = AccountRecord(**{k[2:]: v for k, v in values.items() if k.startswith("a_")})
    session = SessionRecord(**{k: v for k, v in values.items() if not k.startswith("a_")})
    return session, account


async def touch_session(conn: Connection, session_id: str, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = $2 WHERE id = $1", session_id, now)


async def sessions_of(conn: Connection, account_id: str) -> list[SessionRecord]:
    rows = await conn.fetch(
        f"SELECT {_SESSION} FROM sessions WHERE account_id = $1 ORDER BY last_seen_at DESC", account_id
    )
    return [SessionRecord(**dict(row)) for row in rows]


async def delete_session(conn: Connection, session_id: str, account_id: str | None = None) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM sessions WHERE id = $1 AND ($2::text IS NULL OR account_id = $2) RETURNING true",
        session_id, account_id,
    )
    return bool(deleted)


async def delete_session_by_secret_hash(conn: Connection, secret_hash: bytes) -> None:
    await conn.execute("DELETE FROM sessions WHERE secret_hash = $1", secret_hash)


async def delete_sessions_of(conn: Connection, account_id: str, *, keep: str | None = None) -> list[str]:
    """Ends every session of the account but `keep`; their ids."""
    rows = await conn.fetch(
        "DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2 RETURNING id", account_id, keep
    )
    return [row["id"] for row in rows]


async def delete_expired_sessions(conn: Connection, now: datetime, idle_s: float) -> int:
    result = await conn.execute(
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $1 - make_interval(secs => $2)",
        now, idle_s,
    )
    return int(result.split()[-1])


# --- personal API tokens ---------------------------------------------------------------------


async def insert_token(conn: Connection, token: TokenRecord, token_hash: bytes) -> None:
    await conn.execute(
        f"INSERT INTO api_tokens ({_TOKEN}, token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        token.id, token.account_id, token.name, token.created_at, token.last_used_at, token.expires_at,
        token.revoked_at, token_hash,
    )


async def tokens_of(conn: Connection, account_id: str) -> list[TokenRecord]:
    rows = await conn.fetch(
        f"SELECT {_TOKEN} FROM api_tokens WHERE account_id = $1 ORDER BY created_at DESC", account_id
    )
    return [TokenRecord(**dict(row)) for row in rows]


async def live_token_ids_of(conn: Connection, account_id: str, now: datetime) -> list[str]:
    rows = await conn.fetch(
        "SELECT id FROM api_tokens WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        account_id, now,
    )
    return [row["id"] for row in rows]


async def revoke_token(conn: Connection, token_id: str, account_id: str, now: datetime) -> TokenRecord | None:
    """The token, revoked now (or when it was); None if the account has no such token."""
    row = await conn.fetchrow(
        f"""UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3)
            WHERE id = $1 AND account_id = $2 RETURNING {_TOKEN}""",
        token_id, account_id, now,
    )
    return TokenRecord(**dict(row)) if row is not None else None


# --- login attempts ----------------------------------------------------------------------------


async def add_login_attempt(conn: Connection, address: str, username: str, succeeded: bool, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO login_attempts (address, username, succeeded, at) VALUES ($1, $2, $3, $4)",
        address, username, succeeded, at,
    )


async def attempts_since(conn: Connection, since: datetime, *, address: str | None = None,
                         username: str | None = None, failed_only: bool = False) -> Sequence[datetime]:
    rows = await conn.fetch(
        """SELECT at FROM login_attempts
           WHERE at > $1 AND ($2::text IS NULL OR address = $2) AND ($3::text IS NULL OR username = $3)
             AND (NOT $4 OR NOT succeeded)
           ORDER BY at""",
        since, address, username, failed_only,
    )
    return [row["at"] for row in rows]


async def delete_attempts_before(conn: Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM login_attempts WHERE at < $1", before)
