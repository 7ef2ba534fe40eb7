"""The evidence schema: evidence items, their decisions, and the projection of innovations.
Raw asyncpg SQL with unqualified names (the pool's search_path is the service's schema)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common.db import Connection
from services.common.events import EvidenceItem, EvidenceKind, EvidenceState
from services.evidence.domain.rules import Decision

_COLUMNS = """id, cycle, region, innovation_id, agency_id, indicator, kind, content_type, size,
              sha256, object_key, link, uploaded_by, uploaded_at, state, reason, decided_by,
              decided_at, version"""


@dataclass(frozen=True, slots=True)
class KnownInnovation:
    id: str
    cycle: int
    region: str
    agency_id: str
    status: str
    version: int


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    id: str
    cycle: int
    region: str
    innovation_id: str | None
    agency_id: str | None
    indicator: str
    kind: EvidenceKind
    content_type: str | None
    size: int | None
    sha256: str | None
    object_key: str | None
    link: str | None
    uploaded_by: str
    uploaded_at: datetime
    state: EvidenceState
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    version: int

    def item(self) -> EvidenceItem:
        """The item's state as carried by evidence events."""
        return EvidenceItem(
            evidence_id=self.id,
            innovation_id=self.innovation_id,
            indicator=self.indicator,
            state=self.state,
            reason=self.reason,
            kind=self.kind,
            sha256=self.sha256,
            size=self.size,
            content_type=self.content_type,
        )


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    version: int
    state: Decision
    reason: str | None
    decided_by: str
    decided_at: datetime


def _record(row: asyncpg.Record | None) -> EvidenceRecord:
    if row is None:  # INSERT/UPDATE … RETURNING of a row that exists always returns it
        raise RuntimeError("evidence row expected")
    return EvidenceRecord(**dict(row))


# --- projection of innovations -------------------------------------------------------------


async def apply_innovations(conn: Connection, facts: Sequence[KnownInnovation]) -> int:
    """Store each innovation's state where its version is newer than the one held, in one
    statement; how many were stored. At most one fact per innovation (ON CONFLICT may
    touch a row once per statement): the caller keeps the newest."""
    if not facts:
        return 0
    status = await conn.execute(
        """INSERT INTO innovations (id, cycle, region, agency_id, status, version)
           SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[])
           ON CONFLICT (id) DO UPDATE
             SET cycle = EXCLUDED.cycle, region = EXCLUDED.region, agency_id = EXCLUDED.agency_id,
                 status = EXCLUDED.status, version = EXCLUDED.version, updated_at = now()
             WHERE innovations.version < EXCLUDED.version""",
        [f.id for f in facts], [f.cycle for f in facts], [f.region for f in facts],
        [f.agency_id for f in facts], [f.status for f in facts], [f.version for f in facts],
    )
    return int(status.rsplit(" ", 1)[1])


async def innovation(conn: Connection, innovation_id: str) -> KnownInnovation | None:
    row = await conn.fetchrow(
        "SELECT id, cycle, region, agency_id, status, version FROM innovations WHERE id = $1",
        innovation_id,
    )
    return KnownInnovation(**dict(row)) if row is not None else None


# --- evidence ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredContent:
    """What an item holds: a file in object storage, or a link."""

    kind: EvidenceKind
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    object_key: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class NewEvidence:
    evidence_id: str
    cycle: int
    region: str
    innovation_id: str | None
    agency_id: str | None
    indicator: str
    uploaded_by: str
    content: StoredContent


async def insert_evidence(conn: Connection, item: NewEvidence) -> EvidenceRecord:
    content = item.content
    row = await conn.fetchrow(
        f"""INSERT INTO evidence (id, cycle, region, innovation_id, agency_id, indicator, kind,
                                  content_type, size, sha256, object_key, link, uploaded_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            RETURNING {_COLUMNS}""",
        item.evidence_id, item.cycle, item.region, item.innovation_id, item.agency_id, item.indicator,
        content.kind, content.content_type, content.size, content.sha256, content.object_key, content.link,
        item.uploaded_by,
    )
    return _record(row)


async def evidence(conn: Connection, evidence_id: str, *, for_update: bool = False) -> EvidenceRecord | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM evidence WHERE id = $1{lock}", evidence_id)
    return _record(row) if row is not None else None


async def record_decision(
    conn: Connection, evidence_id: str, *, state: str, reason: str | None, decided_by: str
) -> EvidenceRecord:
    """Set the item's verification state, one version up, and keep the decision in history."""
    row = await conn.fetchrow(
        f"""UPDATE evidence
            SET state = $2, reason = $3, decided_by = $4, decided_at = now(), version = version + 1
            WHERE id = $1
            RETURNING {_COLUMNS}""",
        evidence_id, state, reason, decided_by,
    )
    record = _record(row)
    await conn.execute(
        """INSERT INTO decisions (evidence_id, version, state, reason, decided_by, decided_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        evidence_id, record.version, state, reason, decided_by, record.decided_at,
    )
    return record


async def decisions(conn: Connection, evidence_id: str) -> list[DecisionRecord]:
    rows = await conn.fetch(
        """SELECT version, state, reason, decided_by, decided_at FROM decisions
           WHERE evidence_id = $1 ORDER BY version""",
        evidence_id,
    )
    return [DecisionRecord(**dict(row)) for row in rows]


async def list_evidence(
    conn: Connection,
    *,
    cycle: int,
    region: str | None = None,
    innovation_id: str | None = None,
    agency_id: str | None = None,
    indicator: str | None = None,
    state: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[EvidenceRecord]:
    """Items of one cycle, oldest first (ids are time-ordered), narrowed by the filters given;
    `after` is the last id of the previous page."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM evidence
            WHERE cycle = $1
              AND ($2::text IS NULL OR region = $2)
              AND ($3::text IS NULL OR innovation_id = $3)
              AND ($4::text IS NULL OR agency_id = $4)
              AND ($5::text IS NULL OR indicator = $5)
              AND ($6::text IS NULL OR state = $6)
              AND ($7::text IS NULL OR id > $7)
            ORDER BY id
            LIMIT $8""",
        cycle, region, innovation_id, agency_id, indicator, state, after, limit,
    )
    return [_record(row) for row in rows]
