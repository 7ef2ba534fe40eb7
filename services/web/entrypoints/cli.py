"""The web service's part of the command line: `inovasi users create` (services/cli.py
parses the arguments and prints), and the demo's accounts. Both run the handlers on a
small pool of their own, after migrating the schema; the events they cause wait in the
outbox until the web service's relay publishes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from services.common.db import create_pool, migrate
from services.common.errors import InvalidInput
from services.web import handlers
from services.web.adapters.passwords import PasswordHasher
from services.web.dependencies import WebDeps
from services.web.domain.accounts import Scope, email_problems, password_problems, scope_problems, username_problems
from services.web.domain.commands import CreateAccount
from services.web.settings import WebSettings
from services.web.views import AccountView

SERVICE = "web"


@asynccontextmanager
async def offline_deps(settings: WebSettings) -> AsyncIterator[WebDeps]:
    """The web service's dependencies without the APIs, on a pool of one connection."""
    schema = settings.schema_of(SERVICE)
    await migrate(settings.database_url, schema, "services.web.migrations")
    pool = await create_pool(
        settings.database_url, schema, min_size=1, max_size=1, command_timeout=settings.pg_command_timeout_s,
        connect_timeout=settings.pg_connect_timeout_s, acquire_timeout=settings.pg_acquire_timeout_s,
    )
    try:
        secret = settings.auth_secret.get_secret_value() if settings.auth_secret is not None else ""
        yield WebDeps(settings=settings, pool=pool, passwords=PasswordHasher(), auth_secret=secret,
                      wake_relay=lambda: None)
    finally:
        await pool.close()


async def create_user(settings: WebSettings, command: CreateAccount) -> AccountView:
    """`inovasi users create`: raises InvalidInput (code `username_taken` when it exists)."""
    async with offline_deps(settings) as deps:
        return await handlers.create_account_from_cli(deps, command)


async def ensure_accounts(
    settings: WebSettings, commands: Sequence[CreateAccount], created_by: str
) -> list[tuple[AccountView, bool]]:
    """The demo's accounts, created where missing; each with whether it was created now."""
    async with offline_deps(settings) as deps:
        return [await handlers.ensure_account(deps, command, created_by) for command in commands]


def check_new_user(command: CreateAccount, *, with_password: bool = True) -> None:
    """The rules a new account's fields must meet, before any server is reached."""
    problems = [
        *username_problems(command.username),
        *(password_problems(command.password, command.username) if with_password else []),
        *scope_problems(Scope(command.role, command.region, command.agency)),
        *email_problems(command.email),
    ]
    if problems:
        raise InvalidInput(problems=problems)
