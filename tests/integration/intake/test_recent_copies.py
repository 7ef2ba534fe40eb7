"""A change decided from this process's copy of the innovation it wrote last (IntakeDeps.recent)
costs one statement, and is written only when the database confirms the copy: a change by
another process, or by an edit of the cycle, is never overwritten from a stale copy."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.db import create_pool
from services.common.errors import StaleVersion
from services.common.principal import Principal
from services.intake import handlers
from services.intake.adapters.grouped_writes import GroupedWrites
from services.intake.app import create_app
from services.intake.domain.commands import InnovationRef, SetSidAnswer
from tests.support.platform import running

from .helpers import OPERATOR, REGION, all_published, create_innovation, if_match, register_agency, set_window

pytestmark = pytest.mark.integration

OPERATOR_PRINCIPAL = Principal(subject="op-dinkes", role="operator", region=REGION, agency="dinkes")


@pytest.fixture
async def other_client(settings: Any) -> AsyncIterator[Any]:
    """A second intake process on the same database: its own pool, relay and copies."""
    async with running(create_app(settings)) as client:
        yield client


@pytest.fixture
async def counted(app: Any, client: Any, settings: Any) -> AsyncIterator[tuple[Any, list[str]]]:
    """The running app's dependencies, with its copies, on a pool of one connection whose
    statements are recorded."""
    statements: list[str] = []
    pool = await create_pool(settings.database_url, settings.schema_of("intake"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(
                lambda record: None if _introspection(record.query) else statements.append(record.query)
            )
        yield dataclasses.replace(app.state.runtime.deps, pool=pool, writes=GroupedWrites(pool)), statements
    finally:
        await pool.close()


def _introspection(query: str) -> bool:
    """asyncpg's look-up of the array types a statement uses, once per connection."""
    return "typeinfo_tree" in query or "'jit'" in query


async def answer(client: Any, innovation_id: str, indicator: str, level: int, version: int) -> Any:
    return await client.put(
        f"/v1/cycles/2026/innovations/{innovation_id}/answers/{indicator}",
        json={"level": level}, headers=if_match(version),
    )


async def test_a_change_after_this_process_wrote_the_innovation_is_one_statement(
    client: Any, counted: tuple[Any, list[str]]
) -> None:
    deps, statements = counted
    await register_agency(client, "dinkes")
    created = await create_innovation(client)
    ref = InnovationRef(2026, created["id"])

    # Not written by this process yet (the app's copy is of another pool, same object): a read, then the write.
    deps.recent.discard((2026, created["id"]))
    first = await handlers.set_sid_answer(deps, OPERATOR_PRINCIPAL, SetSidAnswer(ref, 1, "sid-16", 3))
    assert first.version == 2
    assert len(statements) == 2, statements

    statements.clear()
    second = await handlers.set_sid_answer(deps, OPERATOR_PRINCIPAL, SetSidAnswer(ref, 2, "sid-17", 1))
    assert (second.version, second.answers["sid-16"], second.answers["sid-17"]) == (3, 3, 1)
    assert len(statements) == 1 and statements[0].lstrip().startswith("WITH input AS"), statements

    # A stale If-Match is answered from a fresh read, never from the copy.
    statements.clear()
    with pytest.raises(StaleVersion):
        await handlers.set_sid_answer(deps, OPERATOR_PRINCIPAL, SetSidAnswer(ref, 2, "sid-17", 2))
    assert len(statements) == 1 and "FROM cycles c LEFT JOIN innovations" in statements[0], statements


async def test_a_copy_another_process_made_stale_is_never_written_over(
    app: Any, client: Any, other_client: Any
) -> None:
    await register_agency(client, "dinkes")
    created = await create_innovation(client)
    innovation_id = created["id"]

    mine = await answer(client, innovation_id, "sid-16", 3, 1)  # this process's copy: version 2
    assert mine.status_code == 200, mine.text
    theirs = await answer(other_client, innovation_id, "sid-17", 1, 2)  # another process: version 3
    assert theirs.status_code == 200, theirs.text

    # A client still at version 2 matches the copy, but the database does not: 412, nothing written.
    stale = await answer(client, innovation_id, "sid-32", 3, 2)
    assert stale.status_code == 412, stale.text
    assert stale.json()["current_version"] == 3
    # At the current version: decided from a fresh read, so the other process's answer stays.
    current = await answer(client, innovation_id, "sid-32", 3, 3)
    assert current.status_code == 200, current.text
    assert (current.json()["version"], current.json()["answers"]) == (4, {"sid-16": 3, "sid-17": 1, "sid-32": 3})

    read = (await other_client.get(f"/v1/cycles/2026/innovations/{innovation_id}", headers=OPERATOR)).json()
    assert (read["version"], read["answers"]) == (4, {"sid-16": 3, "sid-17": 1, "sid-32": 3})
    events = [e for e in await all_published(app) if e.subject == innovation_id]
    assert [e.version for e in events] == [1, 2, 3, 4]


async def test_a_cycle_edited_after_the_copy_was_made_decides_the_next_change(app: Any, client: Any) -> None:
    await register_agency(client, "dinkes")
    created = await create_innovation(client)
    innovation_id = created["id"]
    await set_window(app, open_=True)
    assert (await answer(client, innovation_id, "sid-16", 3, 1)).status_code == 200  # copied with the window open

    await set_window(app, open_=False)
    closed = await answer(client, innovation_id, "sid-17", 1, 2)
    assert closed.status_code == 409 and closed.json()["error"] == "submission_window_closed", closed.text

    await set_window(app, open_=True)
    reopened = await answer(client, innovation_id, "sid-17", 1, 2)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["answers"] == {"sid-16": 3, "sid-17": 1}
    events = [e for e in await all_published(app) if e.subject == innovation_id]
    assert [e.version for e in events] == [1, 2, 3]
