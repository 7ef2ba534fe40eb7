"""The scoring schema: newest state per subject (applied only when an event's version is
newer), every computed score (history), and the current score of each region for ranks.
Scores are stored as their read model's JSON (`RegionScore`), so what is read back is what
was published."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from services.common.db import Connection
from services.common.events import (
    FIGURES,
    Envelope,
    EvidenceItem,
    Figure,
    InnovationState,
    RegionScore,
    SpdAnswer,
)
from services.scoring.domain.state import StoredEvidence, StoredInnovation


async def lock_region(conn: Connection, cycle: int, code: str, type_: str, province: str | None) -> int:
    """Take the region's row lock for this transaction (created on first use); return its
    score version. Events of one region are applied one at a time; other regions go on."""
    await conn.execute(
        "INSERT INTO regions (cycle, code, type, province) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        cycle, code, type_, province,
    )
    return await conn.fetchval(
        "SELECT score_version FROM regions WHERE cycle = $1 AND code = $2 FOR UPDATE", cycle, code
    )


async def apply_spd_answer(conn: Connection, event: Envelope, data: SpdAnswer) -> bool:
    """True when the event was newer than what is stored (and so was applied)."""
    status = await conn.execute(
        """INSERT INTO spd_answers (cycle, region, indicator, level, version)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (cycle, region, indicator) DO UPDATE
             SET level = EXCLUDED.level, version = EXCLUDED.version
             WHERE spd_answers.version < EXCLUDED.version""",
        event.cycle, event.region, data.indicator, data.level, event.version,
    )
    return status == "INSERT 0 1"


async def apply_innovation(conn: Connection, event: Envelope, data: InnovationState) -> bool:
    status = await conn.execute(
        """INSERT INTO innovations (cycle, id, region, agency_id, name, status, urusan_utama,
                                    urusan_lain, answers, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (cycle, id) DO UPDATE
             SET agency_id = EXCLUDED.agency_id, name = EXCLUDED.name, status = EXCLUDED.status,
                 urusan_utama = EXCLUDED.urusan_utama, urusan_lain = EXCLUDED.urusan_lain,
                 answers = EXCLUDED.answers, version = EXCLUDED.version
             WHERE innovations.version < EXCLUDED.version""",
        event.cycle, data.id, event.region, data.agency_id, data.name, data.status,
        data.urusan_utama, list(data.urusan_lain), dict(data.answers), event.version,
    )
    return status == "INSERT 0 1"


async def apply_evidence(conn: Connection, event: Envelope, data: EvidenceItem) -> bool:
    status = await conn.execute(
        """INSERT INTO evidence (cycle, id, region, innovation_id, indicator, state, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (cycle, id) DO UPDATE
             SET state = EXCLUDED.state, version = EXCLUDED.version
             WHERE evidence.version < EXCLUDED.version""",
        event.cycle, data.evidence_id, event.region, data.innovation_id, data.indicator,
        data.state, event.version,
    )
    return status == "INSERT 0 1"


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


async def save_score(conn: Connection, score: RegionScore, province: str | None) -> None:
    """Keep `score` in the history and as the region's current score (`province`: the one
    the region is ranked within, None for a provinsi)."""
    document = score.model_dump(mode="json")
    await conn.execute(
        """INSERT INTO scores (cycle, region, version, caused_by, cause_type, computed_at, methodology, score)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        score.cycle, score.region, score.version, score.caused_by, score.cause_type, score.computed_at,
        score.methodology, document,
    )
    await conn.execute(
        """INSERT INTO current_scores (cycle, region, type, province, version, iid_claimed,
                                       iid_provisional, iid_validated, score, caused_by, computed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (cycle, region) DO UPDATE
             SET version = EXCLUDED.version, iid_claimed = EXCLUDED.iid_claimed,
                 iid_provisional = EXCLUDED.iid_provisional, iid_validated = EXCLUDED.iid_validated,
                 score = EXCLUDED.score, caused_by = EXCLUDED.caused_by,
                 computed_at = EXCLUDED.computed_at""",
        score.cycle, score.region, score.type, province, score.version,
        score.claimed.iid, score.provisional.iid, score.validated.iid, document, score.caused_by, score.computed_at,
    )
    await conn.execute(
        "UPDATE regions SET score_version = $3 WHERE cycle = $1 AND code = $2", score.cycle, score.region, score.version
    )


async def record_applied(
    conn: Connection, cycle: int, region: str, event: Envelope, score_version: int, *, changed: bool
) -> None:
    """Keep that `event` was applied, and the score version it left the region at."""
    await conn.execute(
        """INSERT INTO applied_events (cycle, region, event_id, event_type, score_version, changed)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        cycle, region, event.event_id, event.type, score_version, changed,
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """A scored region of a type: its IID and its positions (type, province) per figure."""

    region: str
    province: str | None
    iid: Mapping[Figure, Decimal]
    position: Mapping[Figure, tuple[int, int | None]]


async def standings_between(
    conn: Connection, cycle: int, type_: str, code: str, bounds: Mapping[Figure, tuple[Decimal, Decimal]]
) -> list[Standing]:
    """The other scored regions of the type with an IID in [low, high) of some figure's
    bounds — those a region moving between low and high passed — with their positions now."""
    row_bounds = [b for f in FIGURES for b in bounds[f]]
    rows = await conn.fetch(
        """WITH ranked AS (
             SELECT region, province, iid_claimed, iid_provisional, iid_validated,
                    rank() OVER (ORDER BY iid_claimed DESC) AS claimed_type,
                    rank() OVER (PARTITION BY province ORDER BY iid_claimed DESC) AS claimed_province,
                    rank() OVER (ORDER BY iid_provisional DESC) AS provisional_type,
                    rank() OVER (PARTITION BY province ORDER BY iid_provisional DESC) AS provisional_province,
                    rank() OVER (ORDER BY iid_validated DESC) AS validated_type,
                    rank() OVER (PARTITION BY province ORDER BY iid_validated DESC) AS validated_province
             FROM current_scores WHERE cycle = $1 AND type = $2)
           SELECT * FROM ranked
           WHERE region <> $3 AND ((iid_claimed >= $4 AND iid_claimed < $5)
                                 OR (iid_provisional >= $6 AND iid_provisional < $7)
                                 OR (iid_validated >= $8 AND iid_validated < $9))""",
        cycle, type_, code, *row_bounds,
    )
    return [
        Standing(
            region=row["region"],
            province=row["province"],
            iid={f: row[f"iid_{f}"] for f in FIGURES},
            position={f: (row[f"{f}_type"], row[f"{f}_province"] if row["province"] is not None else None)
                      for f in FIGURES},
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class AboveZero:
    """How many scored regions of a type have an IID above 0 in each figure, in all and per
    province, and which regions are scored: what the unscored regions (at 0) rank behind."""

    scored: frozenset[str]
    of_type: Mapping[Figure, int]
    of_province: Mapping[tuple[Figure, str | None], int]


async def above_zero(conn: Connection, cycle: int, type_: str) -> AboveZero:
    rows = await conn.fetch(
        """SELECT region, province, iid_claimed > 0 AS claimed, iid_provisional > 0 AS provisional,
                  iid_validated > 0 AS validated
           FROM current_scores WHERE cycle = $1 AND type = $2""",
        cycle, type_,
    )
    of_type = {f: sum(1 for r in rows if r[f]) for f in FIGURES}
    of_province: dict[tuple[Figure, str | None], int] = {}
    for row in rows:
        for f in FIGURES:
            if row[f]:
                of_province[(f, row["province"])] = of_province.get((f, row["province"]), 0) + 1
    return AboveZero(frozenset(r["region"] for r in rows), of_type, of_province)


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
