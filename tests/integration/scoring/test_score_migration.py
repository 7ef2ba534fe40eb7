"""Scores stored before the read model (migration 002) are converted, not lost: the history and
the current score read back as `RegionScore`s with the same figures, the region's name, and
no ranks (they were not kept then)."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from services.common.db import create_pool, migrate
from services.scoring.adapters import state_store
from tests.support.platform import cleanup, isolated_settings

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "scoring" / "migrations"


def legacy_figures(iid: str) -> dict:
    """A score's figures as migration 001 stored them (no ranks, decimals as strings)."""
    figure = {
        "iid": iid, "category": "kurang_inovatif", "innovations_counted": 3, "basic_services_covered": 2,
        "spd": "40.0000", "sid_average": "16.2500", "sji": "0.0000", "total": "56.2500",
    }
    return {"claimed": figure, "provisional": figure, "validated": {**figure, "iid": "10.00"}}


async def test_scores_of_migration_001_read_back_as_the_read_model(tmp_path, monkeypatch):
    # A package with migration 001 only: the schema as a deployment had it before 002.
    legacy = tmp_path / "legacy_scoring_migrations"
    legacy.mkdir()
    (legacy / "__init__.py").write_text("")
    shutil.copy(MIGRATIONS / "001_scoring_state.sql", legacy)
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = isolated_settings()
    schema = settings.schema_of("scoring")
    causes = [uuid.uuid4(), uuid.uuid4()]
    try:
        assert await migrate(settings.database_url, schema, "legacy_scoring_migrations") == [
            "common/001_outbox_inbox", "common/002_outbox_lease", "001_scoring_state"
        ]
        conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": schema})
        try:
            await conn.execute("INSERT INTO regions VALUES (2026, '62.10', 'kabupaten', '62', 2)")
            for version, (cause, iid) in enumerate(zip(causes, ("22.50", "23.00"), strict=True), start=1):
                await conn.execute(
                    """INSERT INTO scores (cycle, region, version, caused_by, cause_type, computed_at,
                                          methodology, figures)
                       VALUES (2026, '62.10', $1, $2, 'evidence.accepted', '2026-11-01 10:00:00+00', 'iid-2026', $3)""",
                    version, cause, json.dumps(legacy_figures(iid)),
                )
            await conn.execute(
                """INSERT INTO current_scores (cycle, region, type, province, version, iid_claimed, iid_provisional,
                                               iid_validated, figures, caused_by, computed_at)
                   VALUES (2026, '62.10', 'kabupaten', '62', 2, 23.00, 23.00, 10.00, $1, $2,
                           '2026-11-01 10:00:00+00')""",
                json.dumps(legacy_figures("23.00")), causes[1],
            )
        finally:
            await conn.close()

        applied = await migrate(settings.database_url, schema, "services.scoring.migrations")
        assert applied[0] == "002_score_read_model"
        pool = await create_pool(settings.database_url, schema, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                current = await state_store.current_score(conn, 2026, "62.10")
                history = await state_store.score_history(conn, 2026, "62.10", 10)
        finally:
            await pool.close()
    finally:
        await cleanup(settings)
        sys.modules.pop("legacy_scoring_migrations", None)

    assert current is not None and current == history[0]
    assert (current.name, current.type, current.province) == ("Kabupaten Gunung Mas", "kabupaten", "62")
    assert (current.version, current.caused_by, current.cause_type) == (2, causes[1], "evidence.accepted")
    assert current.claimed.iid == Decimal("23.00") and current.validated.iid == Decimal("10.00")
    assert current.claimed.sid_average == Decimal("16.2500") and current.claimed.basic_services_covered == 2
    assert current.claimed.ranks.type is None and current.validated.ranks.province is None
    assert current.computed_at is not None and current.computed_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert [(s.version, s.caused_by, str(s.claimed.iid)) for s in history] == [
        (2, causes[1], "23.00"), (1, causes[0], "22.50")
    ]
