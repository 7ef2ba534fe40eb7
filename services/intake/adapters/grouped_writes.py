"""Changes of many innovations written together: one statement, one commit for a group.

In a rush, dozens of operators change answers at once, and each change is one small
statement that PostgreSQL must parse, execute and commit (a WAL flush) on its own, with a
connection taken from the pool for it. `GroupedWrites` lets concurrent requests share that
work: a change waits while earlier groups are being written (at most `in_flight` at once),
and everything that arrived meanwhile goes as the next group. Alone, a change is written at
once, as before; under load the groups grow by themselves, with no timer to wait for.

Each change in a group keeps its own guard: it applies only over the version it was
computed from, under the cycle's row as it was read, and its event is enqueued only when it
applied. Refused changes leave the others of the group unaffected. An innovation has at most
one change being written at a time: a second one waits until the first's group is done, then
meets its result (refused as a stale version, as it would have been one after the other).
Groups never wait on each other's row locks.

A change waits for a group at most `wait_timeout` (the pool's acquire timeout): then it
fails as PostgreSQL being out of reach would (503), with nothing written.

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
from services.common.metrics import INTAKE_WRITE_GROUP
from services.common.outbox import outbox_parameters
from services.intake.domain.innovation import Innovation

# The whole group's state and events in one statement. `input` joins the innovations by id
# (unique within a group); each row updates only over the version before its own and while
# its cycle's row is at the revision the change was decided under. Only the events of the rows
# that applied are queued, matched by position (`n`).
_SAVE_GROUP = """
    WITH input AS (
        SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[]) WITH ORDINALITY
            AS t(id, version, status, answers, cycle, cycle_revision, n)
    ), saved AS (
        UPDATE innovations AS i
        SET status = input.status, version = input.version, answers = input.answers::jsonb, updated_at = now(),
            submitted_at = CASE WHEN input.status = 'submitted' AND i.status <> 'submitted' THEN now()
                                ELSE i.submitted_at END
        FROM input
        WHERE i.id = input.id AND i.version = input.version - 1
          AND (SELECT xmin::text FROM cycles WHERE year = input.cycle) = input.cycle_revision
        RETURNING input.n, i.updated_at, i.submitted_at
    ), queued AS (
        INSERT INTO outbox (event_id, stream, type, payload)
        SELECT e.event_id, e.stream, e.type, e.payload
        FROM unnest($7::uuid[], $8::text[], $9::text[], $10::json[]) WITH ORDINALITY
            AS e(event_id, stream, type, payload, n)
        JOIN saved ON saved.n = e.n
        ORDER BY e.n
    )
    SELECT n, updated_at, submitted_at FROM saved"""

# What PostgreSQL refuses because of one change of a group (a value a constraint or a type
# refuses): the others are written without it. Anything else (unreachable, cancelled, timed
# out) is the same for every change.
_ONE_CHANGE_AT_FAULT = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


def _retrieved(result: asyncio.Future[Any]) -> None:
    # A request that went away no longer awaits its change; its failure is not an error
    # of the process.
    if not result.cancelled():
        result.exception()


@dataclass(slots=True, eq=False)  # compared by identity: a change is one request's
class _Change:
    innovation: Innovation
    event: BaseEnvelope
    cycle_revision: str
    result: asyncio.Future[Innovation | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Stopping(ConnectionError):
    """The service stopped while the change was being written: its outcome is unknown to
    this request (answered 503; a retry with the same If-Match learns it, 412 if written)."""


class NoWriteInTime(TimeoutError):
    """No group took the change within the wait limit: nothing was written (503)."""


class GroupedWrites:
    """`await save(...)`: the innovation as written, or None when nothing was written (the
    row is no longer at the version before, or the cycle's row changed). Failures of the
    database (unreachable, no connection in time) are raised to every change of the group,
    and to the changes waiting behind it: nothing of them was written."""

    def __init__(
        self, pool: asyncpg.Pool, *, in_flight: int = 2, group_max: int = 100, wait_timeout: float = 2.0
    ) -> None:
        self._pool = pool
        self._in_flight = in_flight
        self._group_max = group_max
        self._wait_timeout = wait_timeout
        self._waiting: list[_Change] = []
        self._being_written: set[str] = set()  # innovation ids of the groups in flight
        self._writers: set[asyncio.Task[None]] = set()
        self.groups_written = 0  # for tests and benchmarks: how many statements went

    async def save(self, innovation: Innovation, event: BaseEnvelope, *, cycle_revision: str) -> Innovation | None:
        change = _Change(innovation, event, cycle_revision)
        change.result.add_done_callback(_retrieved)
        self._waiting.append(change)
        if len(self._writers) < self._in_flight:
            # A task of its own: a request going away must not cancel the others' group.
            writer = asyncio.get_running_loop().create_task(self._write_while_waiting())
            self._writers.add(writer)
            writer.add_done_callback(self._writer_ended)
        try:
            return await asyncio.wait_for(asyncio.shield(change.result), self._wait_timeout)
        except TimeoutError:
            if change in self._waiting:
                self._waiting.remove(change)
                raise NoWriteInTime("no write of this change started in time; nothing was written") from None
            return await asyncio.shield(change.result)  # its group is being written: its outcome
        except asyncio.CancelledError:
            # The request went away: its change is dropped unless its group already went
            # (then it is written, like a statement sent before a client hangs up).
            if change in self._waiting:
                self._waiting.remove(change)
            raise

    async def _write_while_waiting(self) -> None:
        try:
            while group := self._next_group():
                ids = {change.innovation.id for change in group}
                self._being_written |= ids
                try:
                    await self._write(group)
                finally:
                    self._being_written -= ids
                    _fail(group, Stopping("intake stopped while this change was written"))  # if unresolved
        finally:
            # No await between the last look at `_waiting` and leaving: a change that comes
            # after starts a writer of its own.
            self._writers.discard(asyncio.current_task())

    def _writer_ended(self, writer: asyncio.Task[None]) -> None:
        self._writers.discard(writer)  # a writer cancelled before it started never got to its finally
        if not self._writers and self._waiting:
            # The last writer was cancelled (the service stopping): nothing will take these.
            waiting, self._waiting = self._waiting, []
            _fail(waiting, Stopping("intake stopped before this change was written"))

    def _next_group(self) -> list[_Change]:
        """The oldest waiting changes, at most one per innovation and none of an innovation
        whose change is being written, at most `group_max`."""
        group: list[_Change] = []
        ids: set[str] = set()
        later: list[_Change] = []
        for change in self._waiting:
            key = change.innovation.id
            if len(group) < self._group_max and key not in ids and key not in self._being_written:
                ids.add(key)
                group.append(change)
            else:
                later.append(change)
        self._waiting = later
        return group

    async def _write(self, group: list[_Change]) -> None:
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_SAVE_GROUP, *_parameters(group))
        except _ONE_CHANGE_AT_FAULT as exc:
            if len(group) == 1:
                _fail(group, exc)
                return
            for change in group:  # each alone, so only the one at fault fails
                await self._write([change])
            return
        except Exception as exc:  # unreachable, no connection in time, timed out: nothing written
            _fail(group, exc)
            if isinstance(exc, OUTAGE_ERRORS):  # the changes behind it would meet the same
                waiting, self._waiting = self._waiting, []
                _fail(waiting, exc)
            return
        self.groups_written += 1
        INTAKE_WRITE_GROUP.observe(len(group))
        applied = {row["n"]: row for row in rows}
        for n, change in enumerate(group, start=1):
            row = applied.get(n)
            written = None
            if row is not None:
                written = replace(change.innovation, updated_at=row["updated_at"], submitted_at=row["submitted_at"])
            if not change.result.done():
                change.result.set_result(written)

    async def close(self) -> None:
        """Wait for the groups being written (the service stopping)."""
        if self._writers:
            await asyncio.gather(*self._writers, return_exceptions=True)


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
