"""The scoring schema: newest state per subject (applied only when an event's version is
newer), every computed score (history), and the current score of each region for ranks.
Scores are stored as their read model's JSON (`RegionScore`), so what is read back is what
was published."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.common.db import Connection
from services.common.events import (
    FIGURES,
    BaseEnvelope,
    Envelope,
    EvidenceItem,
    Figure,
    InnovationState,
    RegionScore,
    SpdAnswer,
)
from services.common.outbox import insert_many, many_parameters
from services.scoring.domain.state import StoredEvidence, StoredInnovation

RegionKey = tuple[int, str]  # (cycle, code)


@dataclass(frozen=True, slots=True)
class RegionRow:
    """A region to lock (created on first use with its type and the province it is ranked in)."""

    cycle: int
    code: str
    type: str
    province: str | None


async def lock_regions(conn: Connection, regions: Sequence[RegionRow]) -> dict[RegionKey, int]:
    """Lock-or-create the regions' rows for this transaction, in (cycle, code) order so that
    transactions locking several never deadlock; return each one's score version. One
    statement: a new row is inserted, an existing one is locked by the no-op update (which
    waits for a transaction holding it, then reads its committed version). Events of one
    region are applied by one transaction at a time; other regions go on."""
    ordered = sorted(regions, key=lambda r: (r.cycle, r.code))
    rows = await conn.fetch(
        """INSERT INTO regions (cycle, code, type, province)
           SELECT cycle, code, type, province
           FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) AS r(cycle, code, type, province)
           ORDER BY cycle, code
           ON CONFLICT (cycle, code) DO UPDATE SET score_version = regions.score_version
           RETURNING cycle, code, score_version""",
        [r.cycle for r in ordered], [r.code for r in ordered], [r.type for r in ordered],
        [r.province for r in ordered],
    )
    return {(row["cycle"], row["code"]): row["score_version"] for row in rows}


# What a batch writes to the state tables: the newest event of each subject in the batch.
SPD_COLUMNS = "cycle int, region text, indicator text, level int, version int"
INNOVATION_COLUMNS = (
    "cycle int, id text, region text, agency_id text, name text, status text, urusan_utama text, "
    "urusan_lain text[], answers jsonb, version int"
)
EVIDENCE_COLUMNS = "cycle int, id text, region text, innovation_id text, indicator text, state text, version int"


def spd_row(event: Envelope, data: SpdAnswer) -> dict[str, Any]:
    return {"cycle": event.cycle, "region": event.region, "indicator": data.indicator, "level": data.level,
            "version": event.version}


def innovation_row(event: Envelope, data: InnovationState) -> dict[str, Any]:
    return {"cycle": event.cycle, "id": data.id, "region": event.region, "agency_id": data.agency_id,
            "name": data.name, "status": data.status, "urusan_utama": data.urusan_utama,
            "urusan_lain": list(data.urusan_lain), "answers": dict(data.answers), "version": event.version}


def evidence_row(event: Envelope, data: EvidenceItem) -> dict[str, Any]:
    return {"cycle": event.cycle, "id": data.evidence_id, "region": event.region,
            "innovation_id": data.innovation_id, "indicator": data.indicator, "state": data.state,
            "version": event.version}


@dataclass(frozen=True, slots=True)
class ScoredRow:
    """A scored region of a type, as ranks need it."""

    region: str
    province: str | None
    iid: Mapping[Figure, Decimal]


@dataclass
class BatchState:
    """What `apply_and_load` read: the versions held before the batch, the regions' state after
    it, their current scores, and every scored region of their types."""

    # (table, cycle, key) -> version held before the statement; key: "region/indicator" for
    # an SPD answer, the id for an innovation or an evidence item. Absent: none held.
    versions_before: dict[tuple[str, int, str], int]
    spd: dict[RegionKey, dict[str, int | None]]
    innovations: dict[RegionKey, list[StoredInnovation]]
    evidence: dict[RegionKey, list[StoredEvidence]]
    scores: dict[RegionKey, RegionScore]
    standings: dict[tuple[int, str], list[ScoredRow]]  # (cycle, type) -> scored regions


async def apply_and_load(
    conn: Connection,
    *,
    spd: Sequence[Mapping[str, Any]],
    innovations: Sequence[Mapping[str, Any]],
    evidence: Sequence[Mapping[str, Any]],
    regions: Sequence[RegionRow],
) -> BatchState:
    """In one statement: store each row where its version is newer than what is held (one row
    per subject: the caller keeps the newest of a batch), and read the versions held before,
    the locked regions' state after (the rows not overwritten plus those written), their
    current scores, and the current IIDs of every scored region of their types."""
    row = await conn.fetchrow(
        f"""WITH
             spd_in AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS t({SPD_COLUMNS})),
             inn_in AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS t({INNOVATION_COLUMNS})),
             evd_in AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS t({EVIDENCE_COLUMNS})),
             regions_in AS (SELECT * FROM jsonb_to_recordset($4::jsonb) AS t(cycle int, code text, type text)),
             spd_up AS (
               INSERT INTO spd_answers (cycle, region, indicator, level, version)
               SELECT cycle, region, indicator, level, version FROM spd_in ORDER BY cycle, region, indicator
               ON CONFLICT (cycle, region, indicator) DO UPDATE
                 SET level = EXCLUDED.level, version = EXCLUDED.version
                 WHERE spd_answers.version < EXCLUDED.version
               RETURNING cycle, region, indicator, level),
             inn_up AS (
               INSERT INTO innovations (cycle, id, region, agency_id, name, status, urusan_utama,
                                        urusan_lain, answers, version)
               SELECT cycle, id, region, agency_id, name, status, urusan_utama, urusan_lain, answers, version
               FROM inn_in ORDER BY cycle, id
               ON CONFLICT (cycle, id) DO UPDATE
                 SET agency_id = EXCLUDED.agency_id, name = EXCLUDED.name, status = EXCLUDED.status,
                     urusan_utama = EXCLUDED.urusan_utama, urusan_lain = EXCLUDED.urusan_lain,
                     answers = EXCLUDED.answers, version = EXCLUDED.version
                 WHERE innovations.version < EXCLUDED.version
               RETURNING cycle, id, region, agency_id, name, status, urusan_utama, urusan_lain, answers),
             evd_up AS (
               INSERT INTO evidence (cycle, id, region, innovation_id, indicator, state, version)
               SELECT cycle, id, region, innovation_id, indicator, state, version FROM evd_in ORDER BY cycle, id
               ON CONFLICT (cycle, id) DO UPDATE
                 SET state = EXCLUDED.state, version = EXCLUDED.version
                 WHERE evidence.version < EXCLUDED.version
               RETURNING cycle, id, region, innovation_id, indicator, state)
           SELECT
             (SELECT coalesce(jsonb_agg(v), '[]') FROM (
                SELECT jsonb_build_array('spd', s.cycle, s.region || '/' || s.indicator, s.version) AS v
                FROM spd_answers s JOIN spd_in i USING (cycle, region, indicator)
                UNION ALL
                SELECT jsonb_build_array('innovation', s.cycle, s.id, s.version)
                FROM innovations s JOIN inn_in i USING (cycle, id)
                UNION ALL
                SELECT jsonb_build_array('evidence', s.cycle, s.id, s.version)
                FROM evidence s JOIN evd_in i USING (cycle, id)) old) AS versions_before,
             (SELECT coalesce(jsonb_agg(jsonb_build_array(x.cycle, x.region, x.indicator, x.level)), '[]') FROM (
                SELECT s.cycle, s.region, s.indicator, s.level
                FROM spd_answers s JOIN regions_in r ON s.cycle = r.cycle AND s.region = r.code
                WHERE NOT EXISTS (SELECT 1 FROM spd_up u
                                  WHERE u.cycle = s.cycle AND u.region = s.region AND u.indicator = s.indicator)
                UNION ALL
                SELECT u.cycle, u.region, u.indicator, u.level
                FROM spd_up u JOIN regions_in r ON u.cycle = r.cycle AND u.region = r.code) x) AS spd,
             (SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]') FROM (
                SELECT s.cycle, s.id, s.region, s.agency_id, s.name, s.status, s.urusan_utama, s.urusan_lain,
                       s.answers
                FROM innovations s JOIN regions_in r ON s.cycle = r.cycle AND s.region = r.code
                WHERE NOT EXISTS (SELECT 1 FROM inn_up u WHERE u.cycle = s.cycle AND u.id = s.id)
                UNION ALL
                SELECT u.* FROM inn_up u JOIN regions_in r ON u.cycle = r.cycle AND u.region = r.code) x)
               AS innovations,
             (SELECT coalesce(jsonb_agg(jsonb_build_array(x.cycle, x.region, x.innovation_id, x.indicator, x.state)),
                              '[]') FROM (
                SELECT s.cycle, s.region, s.innovation_id, s.indicator, s.state
                FROM evidence s JOIN regions_in r ON s.cycle = r.cycle AND s.region = r.code
                WHERE NOT EXISTS (SELECT 1 FROM evd_up u WHERE u.cycle = s.cycle AND u.id = s.id)
                UNION ALL
                SELECT u.cycle, u.region, u.innovation_id, u.indicator, u.state
                FROM evd_up u JOIN regions_in r ON u.cycle = r.cycle AND u.region = r.code) x) AS evidence,
             (SELECT coalesce(jsonb_agg(jsonb_build_array(c.cycle, c.region, c.score)), '[]')
              FROM current_scores c JOIN regions_in r ON c.cycle = r.cycle AND c.region = r.code) AS scores,
             (SELECT coalesce(jsonb_agg(jsonb_build_array(c.cycle, c.type, c.region, c.province,
                                                          c.iid_claimed::text, c.iid_provisional::text,
                                                          c.iid_validated::text)), '[]')
              FROM current_scores c
              WHERE (c.cycle, c.type) IN (SELECT DISTINCT cycle, type FROM regions_in)) AS standings""",
        list(spd), list(innovations), list(evidence),
        [{"cycle": r.cycle, "code": r.code, "type": r.type} for r in regions],
    )
    if row is None:  # a SELECT without FROM always returns one row
        raise RuntimeError("the state statement returned no row")
    state = BatchState({}, {}, {}, {}, {}, {})
    for table, cycle, key, version in row["versions_before"]:
        state.versions_before[(table, cycle, key)] = version
    for r in regions:
        state.spd[(r.cycle, r.code)] = {}
        state.innovations[(r.cycle, r.code)] = []
        state.evidence[(r.cycle, r.code)] = []
        state.standings.setdefault((r.cycle, r.type), [])
    for cycle, region, indicator, level in row["spd"]:
        state.spd[(cycle, region)][indicator] = level
    for item in row["innovations"]:
        state.innovations[(item["cycle"], item["region"])].append(StoredInnovation(
            id=item["id"], status=item["status"], urusan_utama=item["urusan_utama"],
            urusan_lain=tuple(item["urusan_lain"]), answers=item["answers"], name=item["name"],
            agency=item["agency_id"],
        ))
    for cycle, region, innovation_id, indicator, evidence_state in row["evidence"]:
        state.evidence[(cycle, region)].append(StoredEvidence(innovation_id, indicator, evidence_state))
    for cycle, region, document in row["scores"]:
        state.scores[(cycle, region)] = RegionScore.model_validate(document)
    for cycle, type_, region, province, *iids in row["standings"]:
        state.standings[(cycle, type_)].append(
            ScoredRow(region, province, {f: Decimal(iid) for f, iid in zip(FIGURES, iids, strict=True)})
        )
    return state


async def load_region_state(
    conn: Connection, cycle: int, code: str
) -> tuple[dict[str, int | None], list[StoredInnovation], list[StoredEvidence]]:
    spd = {
        row["indicator"]: row["level"]
        for row in await conn.fetch(
            "SELECT indicator, level FROM spd_answers WHERE cycle = $1 AND region = $2", cycle, code
        )
    }
    innovations = [
        StoredInnovation(
            id=row["id"],
            status=row["status"],
            urusan_utama=row["urusan_utama"],
            urusan_lain=tuple(row["urusan_lain"]),
            answers=row["answers"],
            name=row["name"],
            agency=row["agency_id"],
        )
        for row in await conn.fetch(
            """SELECT id, status, urusan_utama, urusan_lain, answers, name, agency_id
               FROM innovations WHERE cycle = $1 AND region = $2""",
            cycle, code,
        )
    ]
    evidence = [
        StoredEvidence(row["innovation_id"], row["indicator"], row["state"])
        for row in await conn.fetch(
            "SELECT innovation_id, indicator, state FROM evidence WHERE cycle = $1 AND region = $2",
            cycle, code,
        )
    ]
    return spd, innovations, evidence


@dataclass(frozen=True, slots=True)
class Applied:
    """An event applied to its region, the score version it left the region at, and whether
    it made that version (is its cause; the other events of a batch that made it are
    coalesced into it)."""

    cycle: int
    region: str
    event_id: UUID
    event_type: str
    score_version: int
    changed: bool


SCORE_COLUMNS = (
    "cycle int, region text, type text, province text, version int, caused_by uuid, cause_type text, "
    "computed_at timestamptz, methodology text, iid_claimed numeric, iid_provisional numeric, "
    "iid_validated numeric, score jsonb"
)


async def save_batch(
    conn: Connection, scores: Sequence[tuple[RegionScore, str | None]], applied: Sequence[Applied],
    events: Sequence[BaseEnvelope] = (),
) -> None:
    """In one statement: keep each new score (with the province its region is ranked within,
    None for a provinsi) in the history and as its region's current score, move the regions'
    score versions, record the applied events, and enqueue `events` (the outbox, in their
    order)."""
    if not scores and not applied and not events:
        return
    documents = [
        {"cycle": score.cycle, "region": score.region, "type": score.type, "province": province,
         "version": score.version, "caused_by": str(score.caused_by), "cause_type": score.cause_type,
         "computed_at": document["computed_at"], "methodology": score.methodology,
         "iid_claimed": str(score.claimed.iid), "iid_provisional": str(score.provisional.iid),
         "iid_validated": str(score.validated.iid), "score": document}
        for score, province in scores
        for document in (score.model_dump(mode="json"),)
    ]
    await conn.execute(
        f"""WITH
             s AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS t({SCORE_COLUMNS})),
             history AS (
               INSERT INTO scores (cycle, region, version, caused_by, cause_type, computed_at, methodology, score)
               SELECT cycle, region, version, caused_by, cause_type, computed_at, methodology, score FROM s),
             current AS (
               INSERT INTO current_scores (cycle, region, type, province, version, iid_claimed, iid_provisional,
                                           iid_validated, score, caused_by, computed_at)
               SELECT cycle, region, type, province, version, iid_claimed, iid_provisional, iid_validated, score,
                      caused_by, computed_at
               FROM s ORDER BY cycle, region
               ON CONFLICT (cycle, region) DO UPDATE
                 SET version = EXCLUDED.version, iid_claimed = EXCLUDED.iid_claimed,
                     iid_provisional = EXCLUDED.iid_provisional, iid_validated = EXCLUDED.iid_validated,
                     score = EXCLUDED.score, caused_by = EXCLUDED.caused_by, computed_at = EXCLUDED.computed_at),
             versions AS (
               UPDATE regions r SET score_version = s.version FROM s WHERE r.cycle = s.cycle AND r.code = s.region),
             applied AS (
               INSERT INTO applied_events (cycle, region, event_id, event_type, score_version, changed)
               SELECT cycle, region, event_id, event_type, score_version, changed
               FROM unnest($2::int[], $3::text[], $4::uuid[], $5::text[], $6::int[], $7::bool[])
                    AS a(cycle, region, event_id, event_type, score_version, changed)
               ON CONFLICT DO NOTHING),
             queued AS ({insert_many(8)})
           SELECT 1""",
        documents,
        [a.cycle for a in applied], [a.region for a in applied], [a.event_id for a in applied],
        [a.event_type for a in applied], [a.score_version for a in applied], [a.changed for a in applied],
        *many_parameters(events),
    )


async def positions(
    conn: Connection, cycle: int, code: str, type_: str, province: str | None, iids: Mapping[Figure, Decimal]
) -> dict[Figure, tuple[int, int | None]]:
    """Competition positions (1 + the other regions strictly higher) of a region with `iids`
    in its type and, for a kabupaten or kota, in its province among its type. Regions without
    a score are at 0 and never higher; the region's own stored score is left out."""
    row = await conn.fetchrow(
        """SELECT
             count(*) FILTER (WHERE iid_claimed > $3)     AS claimed_type,
             count(*) FILTER (WHERE iid_provisional > $4) AS provisional_type,
             count(*) FILTER (WHERE iid_validated > $5)   AS validated_type,
             count(*) FILTER (WHERE province = $6 AND iid_claimed > $3)     AS claimed_province,
             count(*) FILTER (WHERE province = $6 AND iid_provisional > $4) AS provisional_province,
             count(*) FILTER (WHERE province = $6 AND iid_validated > $5)   AS validated_province
           FROM current_scores WHERE cycle = $1 AND type = $2 AND region <> $7""",
        cycle, type_, iids["claimed"], iids["provisional"], iids["validated"], province, code,
    )
    if row is None:  # an aggregate always returns one row
        raise RuntimeError("rank query returned no row")
    return {
        f: (row[f"{f}_type"] + 1, row[f"{f}_province"] + 1 if province is not None else None)
        for f in FIGURES
    }


async def event_applied(conn: Connection, group: str, event_id: UUID) -> bool:
    """Whether scoring's consumer group has handled the event (its inbox records it)."""
    return bool(await conn.fetchval("SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2", group, event_id))


async def current_score(conn: Connection, cycle: int, code: str) -> RegionScore | None:
    document = await conn.fetchval("SELECT score FROM current_scores WHERE cycle = $1 AND region = $2", cycle, code)
    return RegionScore.model_validate(document) if document is not None else None


async def iids_of_cycle(conn: Connection, cycle: int) -> dict[str, dict[Figure, Decimal]]:
    """Every scored region's current IID in each figure (for ranking them all at once)."""
    rows = await conn.fetch(
        "SELECT region, iid_claimed, iid_provisional, iid_validated FROM current_scores WHERE cycle = $1", cycle
    )
    return {row["region"]: {f: row[f"iid_{f}"] for f in FIGURES} for row in rows}


async def scores_of(conn: Connection, cycle: int, codes: list[str]) -> dict[str, RegionScore]:
    rows = await conn.fetch(
        "SELECT region, score FROM current_scores WHERE cycle = $1 AND region = ANY($2::text[])", cycle, codes
    )
    return {row["region"]: RegionScore.model_validate(row["score"]) for row in rows}


async def score_history(conn: Connection, cycle: int, code: str, limit: int) -> list[RegionScore]:
    rows = await conn.fetch(
        "SELECT score FROM scores WHERE cycle = $1 AND region = $2 ORDER BY version DESC LIMIT $3",
        cycle, code, limit,
    )
    return [RegionScore.model_validate(row["score"]) for row in rows]


@dataclass(frozen=True, slots=True)
class ScoredRegion:
    """One region's current IID and category in one figure (for rankings)."""

    iid: Decimal
    category: str


async def figure_of_type(conn: Connection, cycle: int, type_: str, figure: Figure) -> dict[str, ScoredRegion]:
    """The current IID and category of one figure of every scored region of a type."""
    rows = await conn.fetch(
        f"""SELECT region, iid_{figure} AS iid, score -> $3 ->> 'category' AS category
            FROM current_scores WHERE cycle = $1 AND type = $2""",
        cycle, type_, figure,
    )
    return {row["region"]: ScoredRegion(row["iid"], row["category"]) for row in rows}
