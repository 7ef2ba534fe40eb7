"""Changes of many innovations written together: one statement, one commit for a group.

In a rush, dozens of operators change answers at once, and each change is one small
statement that PostgreSQL must parse, execute and commit (a WAL flush) on its own, with a
connection taken from the pool for it. `GroupedWrites` lets concurrent requests share that
work: a change waits while earlier groups are being written (at most `in_flight` at once),
and everything that arrived meanwhile goes as the next group. Alone, a change is written at
once, as before; under load the groups grow by themselves, with no timer to wait for.

Each change in a group keeps its own guard: it applies only over the version it was
computed from, under the cycle's row as it was read, and its event is enqueued only when it
applied. Refused changes leave the others of the group unaffected. A group holds at most one
change per innovation (a second one waits for the next group, where it meets the first's
result), so which change of an innovation came first stays well defined.

Only changes that keep the profile go here (answers, status): their rows are small. A
profile edit writes its long texts alone (store.save_innovation).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg

from services.common.db import OUTAGE_ERRORS
from services.common.events import BaseEnvelope
from services.common.outbox import outbox_parameters
from services.intake.domain.innovation import Innovation

# The whole group's state and events in one statement. `input` joins the innovations by id;
# each row updates only over the version before its own and while its cycle's row is at the
# revision the change was decided under. Only the events of the rows that applied are queued.
_SAVE_GROUP = """
    WITH input AS (
        SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[])
            AS t(id, version, status, answers, cycle, cycle_revision)
    ), saved AS (
        UPDATE innovations AS i
        SET status = input.status, version = input.version, answers = input.answers::jsonb, updated_at = now(),
            submitted_at = CASE WHEN input.status = 'submitted' AND i.status <> 'submitted' THEN now()
                                ELSE i.submitted_at END
        FROM input
        WHERE i.id = input.id AND i.version = input.version - 1
          AND (SELECT xmin::text FROM cycles WHERE year = input.cycle) = input.cycle_revision
        RETURNING i.id, i.updated_at, i.submitted_at
    ), queued AS (
        INSERT INTO outbox (event_id, stream, type, payload)
        SELECT e.event_id, e.stream, e.type, e.payload
        FROM unnest($7::uuid[], $8::text[], $9::text[], $10::json[], $1::text[]) WITH ORDINALITY
            AS e(event_id, stream, type, payload, subject, n)
        JOIN saved ON saved.id = e.subject
        ORDER BY e.n
    )
    SELECT id, updated_at, submitted_at FROM saved"""


def _retrieved(result: asyncio.Future[Any]) -> None:
    # A request that went away no longer awaits its change; its failure is not an error
    # of the process.
    if not result.cancelled():
        result.exception()


@dataclass(slots=True)
class _Change:
    innovation: Innovation
    event: BaseEnvelope
    cycle_revision: str
    result: asyncio.Future[Innovation | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupedWrites:
    """`await save(...)`: the innovation as written, or None when nothing was written (the
    row is no longer at the version before, or the cycle's row changed). Failures of the
    database (unreachable, no connection in time) are raised to every change of the group:
    nothing of it was written."""

    def __init__(self, pool: asyncpg.Pool, *, in_flight: int = 2, group_max: int = 100) -> None:
        self._pool = pool
        self._in_flight = in_flight
        self._group_max = group_max
        self._waiting: list[_Change] = []
        self._writers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.groups_written = 0  # for tests and benchmarks: how many statements went

    async def save(self, innovation: Innovation, event: BaseEnvelope, *, cycle_revision: str) -> Innovation | None:
        change = _Change(innovation, event, cycle_revision)
        change.result.add_done_callback(_retrieved)
        self._waiting.append(change)
        if self._writers < self._in_flight:
            self._writers += 1
            # A task of its own: a request going away must not cancel the others' group.
            task = asyncio.get_running_loop().create_task(self._write_while_waiting())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.shield(change.result)
        except asyncio.CancelledError:
            # The request went away: its change is dropped unless its group already went
            # (then it is written, like a statement sent before a client hangs up).
            if change in self._waiting:
                self._waiting.remove(change)
            raise

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                await self._write(self._next_group())
        except BaseException as exc:
            waiting, self._waiting = self._waiting, []
            _fail(waiting, exc)
            raise
        finally:
            self._writers -= 1

    def _next_group(self) -> list[_Change]:
        """The oldest waiting changes, at most one per innovation, at most `group_max`."""
        group: list[_Change] = []
        ids: set[str] = set()
        later: list[_Change] = []
        for change in self._waiting:
            if len(group) < self._group_max and change.innovation.id not in ids:
                ids.add(change.innovation.id)
                group.append(change)
            else:
                later.append(change)
        self._waiting = later
        return group

    async def _write(self, group: list[_Change]) -> None:
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_SAVE_GROUP, *_parameters(group))
        except asyncpg.PostgresError as exc:
            if len(group) > 1 and not isinstance(exc, OUTAGE_ERRORS):
                # PostgreSQL refused the statement for something in it: each change alone,
                # so only the one at fault fails.
                for change in group:
                    await self._write([change])
                return
            _fail(group, exc)
            return
        except Exception as exc:  # unreachable, no connection in time: nothing was written
            _fail(group, exc)
            return
        except BaseException as exc:  # cancelled (the service stopping): its fate unknown
            _fail(group, exc)
            raise
        self.groups_written += 1
        applied = {row["id"]: row for row in rows}
        for change in group:
            row = applied.get(change.innovation.id)
            written = None
            if row is not None:
                written = replace(change.innovation, updated_at=row["updated_at"], submitted_at=row["submitted_at"])
            if not change.result.done():
                change.result.set_result(written)

    async def close(self) -> None:
        """Wait for the groups being written (the service stopping)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _fail(group: list[_Change], exc: BaseException) -> None:
    for change in group:
        if not change.result.done():
            change.result.set_exception(exc)


def _parameters(group: list[_Change]) -> list[Any]:
    events = [outbox_parameters(change.event) for change in group]
    return [
        [c.innovation.id for c in group],
        [c.innovation.version for c in group],
        [c.innovation.status for c in group],
        [json.dumps(c.innovation.answers) for c in group],
        [c.innovation.cycle for c in group],
        [c.cycle_revision for c in group],
        [e[0] for e in events],
        [e[1] for e in events],
        [e[2] for e in events],
        [e[3] for e in events],
    ]
