"""Migration runner and pool against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.common.db import create_pool, load_migrations, migrate
from services.common.settings import Settings
from tests.support.infra import drop_schema

pytestmark = pytest.mark.integration

PACKAGE = "tests.integration.common.sample_migrations"
ALL_VERSIONS = ["common/001_outbox_inbox", "common/002_outbox_lease", "001_widgets", "002_widget_color"]


@pytest.fixture
async def fresh_schema(settings: Settings) -> AsyncIterator[str]:
    name = settings.schema_of("migr")
    yield name
    await drop_schema(settings.database_url, name)


async def _fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_migrate_applies_plumbing_then_service_files_once(
    settings: Settings, fresh_schema: str
) -> None:
    dsn = settings.database_url
    assert await migrate(dsn, fresh_schema, PACKAGE) == ALL_VERSIONS
    assert await migrate(dsn, fresh_schema, PACKAGE) == []  # idempotent
    rows = await _fetch(dsn, f"SELECT version FROM {fresh_schema}.schema_migrations ORDER BY version")
    assert sorted(r["version"] for r in rows) == sorted(ALL_VERSIONS)
    widgets = await _fetch(dsn, f"SELECT name, color FROM {fresh_schema}.widgets ORDER BY id")
    assert [tuple(w) for w in widgets] == [("first", None), ("second", "red")]
    tables = await _fetch(
        dsn, f"SELECT tablename FROM pg_tables WHERE schemaname = '{fresh_schema}' ORDER BY 1"
    )
    assert [t["tablename"] for t in tables] == ["inbox", "outbox", "schema_migrations", "widgets"]


async def test_concurrent_migrations_apply_each_file_exactly_once(
    settings: Settings, fresh_schema: str
) -> None:
    # Separate connections = separate sessions, as two processes starting at once would be.
    results = await asyncio.gather(
        *(migrate(settings.database_url, fresh_schema, PACKAGE) for _ in range(3))
    )
    applied = [version for result in results for version in result]
    assert sorted(applied) == sorted(ALL_VERSIONS)  # no file twice, none missing
    assert sum(1 for result in results if result) == 1  # one run did all the work
    widgets = await _fetch(settings.database_url, f"SELECT count(*) AS n FROM {fresh_schema}.widgets")
    assert widgets[0]["n"] == 2


async def test_an_edited_applied_migration_is_refused(settings: Settings, fresh_schema: str) -> None:
    await migrate(settings.database_url, fresh_schema, PACKAGE)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            f"UPDATE {fresh_schema}.schema_migrations SET checksum = 'x' WHERE version = '001_widgets'"
        )
    finally:
        await conn.close()
    with pytest.raises(RuntimeError, match="001_widgets .* was changed after it was applied"):
        await migrate(settings.database_url, fresh_schema, PACKAGE)


def test_duplicate_migration_numbers_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "dup_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "001_a.sql").write_text("SELECT 1;")
    (package / "001_b.sql").write_text("SELECT 1;")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ValueError, match="share number 001"):
            load_migrations("dup_migrations")
    finally:
        sys.modules.pop("dup_migrations", None)


async def test_invalid_schema_names_are_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="invalid schema name"):
        await migrate(settings.database_url, 'x"; DROP TABLE y; --', None)


async def test_pool_resolves_names_in_its_schema_and_decodes_jsonb(settings: Settings, schema: str) -> None:
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=1)
    try:
        for _ in range(2):  # second round: after the connection was reset by the pool
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT current_schema()") == schema
                assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
                assert await conn.fetchval("""SELECT '{"a": [1, 2]}'::jsonb""") == {"a": [1, 2]}
    finally:
        await pool.close()


async def _last_query(dsn: str, pid: int) -> str:
    rows = await _fetch(dsn, f"SELECT query FROM pg_stat_activity WHERE pid = {pid}")
    return str(rows[0]["query"])


async def test_releasing_a_connection_sends_nothing_and_undoes_what_it_must(settings: Settings, schema: str) -> None:
    """The pool's reset costs no round trip (asyncpg's default sends four statements on every
    release); a transaction left open is still rolled back, and a LISTEN undone."""
    dsn = settings.database_url
    pool = await create_pool(dsn, schema, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.fetchval("SELECT 'the last statement sent'")
        # What the server saw last from that connection is still the query: nothing on release.
        assert await _last_query(dsn, pid) == "SELECT 'the last statement sent'"

        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE released (n int)")
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("INSERT INTO released VALUES (1)")  # never committed
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM released") == 0

        with pytest.warns(asyncpg.InterfaceWarning, match="notification listener"):  # asyncpg's, rightly
            async with pool.acquire() as conn:
                await conn.add_listener("released_channel", lambda *_: None)
                assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 1
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == pid  # the same connection, no longer listening
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
    finally:
        await pool.close()
