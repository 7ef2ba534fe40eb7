from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.settings import Settings


def test_reads_inovasi_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INOVASI_REDIS_URL", "redis://redis.internal:6380/2")
    monkeypatch.setenv("INOVASI_STREAM_PREFIX", "t1a2b.")
    monkeypatch.setenv("INOVASI_SCHEMA_PREFIX", "t1a2b_")
    monkeypatch.setenv("INOVASI_MAX_DELIVERIES", "7")
    monkeypatch.setenv("INOVASI_AUTH_SECRET", "s3cret")
    monkeypatch.setenv("REDIS_URL", "redis://ignored:1/0")  # no prefix: not ours
    settings = Settings()
    assert settings.redis_url == "redis://redis.internal:6380/2"
    assert settings.max_deliveries == 7
    assert settings.stream("intake.events") == "t1a2b.intake.events"
    assert settings.schema_of("scoring") == "t1a2b_scoring"
    assert settings.auth_secret is not None and settings.auth_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_defaults_point_at_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INOVASI_DATABASE_URL", "INOVASI_REDIS_URL", "INOVASI_STREAM_PREFIX",
                 "INOVASI_SCHEMA_PREFIX", "INOVASI_AUTH_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "postgresql://root@127.0.0.1:5432/postgres"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.stream("scoring.events") == "scoring.events"
    assert settings.schema_of("intake") == "intake"
    assert settings.auth_secret is None


@pytest.mark.parametrize("field, value", [
    ("schema_prefix", "Bad-Prefix"), ("schema_prefix", "1abc"), ("stream_prefix", "a b"),
    ("max_deliveries", 0), ("reclaim_idle_ms", 0),
])
def test_rejects_unusable_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


def test_a_service_subclasses_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    class ScoringSettings(Settings):
        recompute_batch: int = 10

    monkeypatch.setenv("INOVASI_RECOMPUTE_BATCH", "25")
    assert ScoringSettings().recompute_batch == 25
