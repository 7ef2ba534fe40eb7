"""The intake schema in PostgreSQL (raw asyncpg SQL, names resolved in the service's schema).
Functions take a connection, so the caller decides the transaction: a write and the event
it enqueues always share one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

import asyncpg

from services.common.db import Connection
from services.common.events import BaseEnvelope
from services.common.outbox import insert_for_each, outbox_parameters
from services.intake.domain.cycle import Cycle
from services.intake.domain.innovation import Innovation
from services.intake.domain.profile import Profile

_PROFILE_COLUMNS = (
    "name", "tahapan", "jenis", "bentuk", "inisiator", "urusan_utama", "urusan_lain",
    "tanggal_uji_coba", "tanggal_penerapan", "rancang_bangun", "tujuan", "manfaat", "hasil",
)


@dataclass(frozen=True, slots=True)
class AgencyRecord:
    region: str
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AgencyTally:
    """An agency and how many of its innovations of a cycle are in each status."""

    id: str
    name: str
    draft: int
    submitted: int
    withdrawn: int


@dataclass(frozen=True, slots=True)
class SpdAnswerRecord:
    indicator: str
    level: int | None
    version: int
    updated_at: datetime
    updated_by: str


# --- cycles ------------------------------------------------------------------------------


_CYCLE_NAMES = ("year", "methodology", "window_opens_at", "window_closes_at", "application_from", "application_to")
_CYCLE_COLUMNS = ", ".join(_CYCLE_NAMES)
# The cycle row's revision is its xmin, which every UPDATE of the row changes: a write
# decided under a cycle names the revision it read (see save_innovation).
_CYCLE_AND_INNOVATION = f"""
    SELECT {", ".join(f"c.{name}" for name in _CYCLE_NAMES)}, c.xmin::text AS cycle_revision, i.*
    FROM cycles c LEFT JOIN innovations i ON i.id = $2 AND i.cycle = c.year
    WHERE c.year = $1"""


@dataclass(frozen=True, slots=True)
class CycleAndInnovation:
    cycle: Cycle
    cycle_revision: str  # changes whenever the cycle's row does (its window, its methodology)
    innovation: Innovation | None


def _cycle(row: asyncpg.Record) -> Cycle:
    return Cycle(
        year=row["year"],
        methodology=row["methodology"],
        window_opens_at=row["window_opens_at"],
        window_closes_at=row["window_closes_at"],
        application_from=row["application_from"],
        application_to=row["application_to"],
    )


async def get_cycle(conn: Connection, year: int) -> Cycle | None:
    row = await conn.fetchrow(f"SELECT {_CYCLE_COLUMNS} FROM cycles WHERE year = $1", year)
    return _cycle(row) if row is not None else None


async def get_cycle_and_innovation(conn: Connection, year: int, innovation_id: str) -> CycleAndInnovation | None:
    """The cycle, its revision and its innovation with this id (None when there is none),
    in one round trip; None when there is no such cycle."""
    row = await conn.fetchrow(_CYCLE_AND_INNOVATION, year, innovation_id)
    if row is None:
        return None
    innovation = _innovation(row) if row["id"] is not None else None
    return CycleAndInnovation(_cycle(row), row["cycle_revision"], innovation)


# --- agencies ----------------------------------------------------------------------------


async def insert_agency(
    conn: Connection, region: str, agency_id: str, name: str, created_by: str
) -> AgencyRecord | None:
    """The new agency, or None when the region already has an agency with this id."""
    row = await conn.fetchrow(
        """INSERT INTO agencies (region, id, name, created_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING region, id, name, created_at""",
        region, agency_id, name, created_by,
    )
    return AgencyRecord(**dict(row)) if row is not None else None


async def list_agencies(conn: Connection, region: str) -> list[AgencyRecord]:
    rows = await conn.fetch(
        "SELECT region, id, name, created_at FROM agencies WHERE region = $1 ORDER BY id", region
    )
    return [AgencyRecord(**dict(row)) for row in rows]


async def agency_exists(conn: Connection, region: str, agency_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM agencies WHERE region = $1 AND id = $2", region, agency_id))


async def agency_status(conn: Connection, cycle: int, region: str) -> list[AgencyTally]:
    """Per agency of the region: how many of its innovations of the cycle are in each status."""
    rows = await conn.fetch(
        """SELECT a.id, a.name,
                  count(i.id) FILTER (WHERE i.status = 'draft')     AS draft,
                  count(i.id) FILTER (WHERE i.status = 'submitted') AS submitted,
                  count(i.id) FILTER (WHERE i.status = 'withdrawn') AS withdrawn
           FROM agencies a
           LEFT JOIN innovations i ON i.region = a.region AND i.agency_id = a.id AND i.cycle = $1
           WHERE a.region = $2
           GROUP BY a.id, a.name
           ORDER BY a.id""",
        cycle, region,
    )
    return [AgencyTally(**dict(row)) for row in rows]


# --- innovations -------------------------------------------------------------------------


def _innovation(row: asyncpg.Record) -> Innovation:
    values: dict[str, Any] = {name: row[name] for name in _PROFILE_COLUMNS}
    values["urusan_lain"] = tuple(values["urusan_lain"])
    return Innovation(
        id=row["id"],
        cycle=row["cycle"],
        region=row["region"],
        agency_id=row["agency_id"],
        status=row["status"],
        version=row["version"],
        profile=Profile(**values),
        answers=dict(row["answers"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        submitted_at=row["submitted_at"],
    )


def _profile_values(profile: Profile) -> list[Any]:
    values = profile.as_dict()
    values["urusan_lain"] = list(profile.urusan_lain)
    return [values[name] for name in _PROFILE_COLUMNS]


async def insert_innovation(conn: Connection, innovation: Innovation, created_by: str) -> Innovation:
    columns = ", ".join(_PROFILE_COLUMNS)
    params = ", ".join(f"${n}" for n in range(9, 9 + len(_PROFILE_COLUMNS)))
    row = await conn.fetchrow(
        f"""INSERT INTO innovations (id, cycle, region, agency_id, status, version, answers, created_by, {columns})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {params}) RETURNING *""",
        innovation.id, innovation.cycle, innovation.region, innovation.agency_id,
        innovation.status, innovation.version, dict(innovation.answers), created_by,
        *_profile_values(innovation.profile),
    )
    if row is None:  # INSERT … RETURNING always returns the row
        raise RuntimeError(f"innovation {innovation.id} was not inserted")
    return _innovation(row)


async def get_innovation(conn: Connection, cycle: int, innovation_id: str) -> Innovation | None:
    row = await conn.fetchrow("SELECT * FROM innovations WHERE id = $1 AND cycle = $2", innovation_id, cycle)
    return _innovation(row) if row is not None else None


@cache
def _save_with_event(cycle_checked: bool) -> str:
    """The new state, profile included, written only over the version it was computed from
    (optimistic: no row lock is held between the read and this write), and its event, in one
    statement. With the cycle checked, the write also applies only while the cycle's row is
    at the revision it was decided under. (Answer and status changes, which keep the profile,
    go in groups: adapters/grouped_writes.py.)"""
    assignments = "".join(f", {name} = ${n}" for n, name in enumerate(_PROFILE_COLUMNS, start=6))
    next_parameter = 6 + len(_PROFILE_COLUMNS)
    cycle_condition = ""
    if cycle_checked:
        cycle_condition = (
            f" AND (SELECT xmin::text FROM cycles WHERE year = ${next_parameter}) = ${next_parameter + 1}"
        )
        next_parameter += 2
    return f"""
        WITH saved AS (
            UPDATE innovations
            SET status = $3, version = $4, answers = $5, updated_at = now(),
                submitted_at = CASE WHEN $3 = 'submitted' AND status <> 'submitted' THEN now()
                                    ELSE submitted_at END
                {assignments}
            WHERE id = $1 AND version = $2 - 1{cycle_condition}
            RETURNING updated_at, submitted_at
        ), queued AS ({insert_for_each("saved", next_parameter)})
        SELECT updated_at, submitted_at FROM saved"""


async def save_innovation(
    conn: Connection,
    innovation: Innovation,
    event: BaseEnvelope,
    *,
    cycle_revision: str | None = None,
) -> Innovation | None:
    """Write `innovation` (the state after a change of the version before it) and enqueue
    `event`, both or neither, in one round trip.
    None, with nothing written, when the row is no longer at `innovation.version - 1` (a
    concurrent change committed first) or, given `cycle_revision`, when the cycle's row is
    no longer at that revision."""
    parameters: list[Any] = [
        innovation.id, innovation.version, innovation.status, innovation.version, dict(innovation.answers),
    ]
    parameters += _profile_values(innovation.profile)
    if cycle_revision is not None:
        parameters += (innovation.cycle, cycle_revision)
    statement = _save_with_event(cycle_revision is not None)
    row = await conn.fetchrow(statement, *parameters, *outbox_parameters(event))
    if row is None:
        return None
    # The rest is what was written: only the times are the database's.
    return replace(innovation, updated_at=row["updated_at"], submitted_at=row["submitted_at"])


async def list_innovations(
    conn: Connection,
    cycle: int,
    region: str,
    *,
    agency: str | None,
    statuses: Sequence[str],
    after: str | None,
    limit: int,
) -> list[Innovation]:
    rows = await conn.fetch(
        """SELECT * FROM innovations
           WHERE cycle = $1 AND region = $2
             AND ($3::text IS NULL OR agency_id = $3)
             AND (cardinality($4::text[]) = 0 OR status = ANY($4::text[]))
             AND ($5::text IS NULL OR id > $5)
           ORDER BY id LIMIT $6""",
        cycle, region, agency, list(statuses), after, limit,
    )
    return [_innovation(row) for row in rows]


# --- SPD answers -------------------------------------------------------------------------


async def get_spd_answer(conn: Connection, cycle: int, region: str, indicator: str) -> SpdAnswerRecord | None:
    row = await conn.fetchrow(
        """SELECT indicator, level, version, updated_at, updated_by FROM spd_answers
           WHERE cycle = $1 AND region = $2 AND indicator = $3""",
        cycle, region, indicator,
    )
    return SpdAnswerRecord(**dict(row)) if row is not None else None


async def lock_spd_slot(conn: Connection, cycle: int, region: str, indicator: str) -> None:
    """Serialise writers of an answer that has no row yet (a row lock needs a row)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"spd:{cycle}:{region}:{indicator}")


async def save_spd_answer(
    conn: Connection, cycle: int, region: str, indicator: str, level: int | None, version: int, updated_by: str
) -> SpdAnswerRecord:
    row = await conn.fetchrow(
        """INSERT INTO spd_answers (cycle, region, indicator, level, version, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (cycle, region, indicator) DO UPDATE
             SET level = EXCLUDED.level, version = EXCLUDED.version,
                 updated_by = EXCLUDED.updated_by, updated_at = now()
           RETURNING indicator, level, version, updated_at, updated_by""",
        cycle, region, indicator, level, version, updated_by,
    )
    if row is None:  # an upsert … RETURNING always returns the row
        raise RuntimeError(f"SPD answer {indicator} of {region} was not saved")
    return SpdAnswerRecord(**dict(row))


async def list_spd_answers(conn: Connection, cycle: int, region: str) -> dict[str, SpdAnswerRecord]:
    rows = await conn.fetch(
        """SELECT indicator, level, version, updated_at, updated_by FROM spd_answers
           WHERE cycle = $1 AND region = $2""",
        cycle, region,
    )
    return {row["indicator"]: SpdAnswerRecord(**dict(row)) for row in rows}


# --- idempotency -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: str
    response: dict[str, Any]


async def find_idempotent(conn: Connection, scope: str, key: str) -> StoredResponse | None:
    row = await conn.fetchrow(
        "SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope, key,
    )
    return StoredResponse(row["request_hash"], row["response"]) if row is not None else None


async def remember_idempotent(
    conn: Connection, scope: str, key: str, request_hash: str, status: int, response: dict[str, Any]
) -> bool:
    """False when a concurrent request with the same key committed first (it blocks here
    until that one commits)."""
    stored = await conn.fetchval(
        """INSERT INTO idempotency_keys (scope, key, request_hash, status, response)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true""",
        scope, key, request_hash, status, response,
    )
    return bool(stored)
