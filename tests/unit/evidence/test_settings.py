"""The evidence service's settings: its own fields, and the S3 endpoint as a URL."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.settings import Settings
from services.evidence.settings import EvidenceSettings, evidence_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INOVASI_EVIDENCE_MAX_UPLOAD_BYTES", "1048576")
    settings = EvidenceSettings()
    assert settings.evidence_max_upload_bytes == 1048576
    assert settings.evidence_download_url_ttl_s == 300


def test_download_urls_live_at_most_five_minutes() -> None:
    with pytest.raises(ValidationError, match="evidence_download_url_ttl_s"):
        EvidenceSettings(evidence_download_url_ttl_s=301)


@pytest.mark.parametrize(
    ("endpoint", "secure", "url"),
    [
        ("127.0.0.1:9000", False, "http://127.0.0.1:9000"),
        ("s3.example.go.id", True, "https://s3.example.go.id"),
        ("http://minio:9000", True, "http://minio:9000"),  # an explicit scheme wins
    ],
)
def test_the_s3_endpoint_may_be_host_and_port_or_a_url(endpoint: str, secure: bool, url: str) -> None:
    assert EvidenceSettings(s3_endpoint=endpoint, s3_secure=secure).s3_endpoint_url() == url


def test_shared_settings_are_widened_keeping_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INOVASI_EVIDENCE_MAX_UPLOAD_BYTES", "2048")
    shared = Settings(stream_prefix="t1.", auth_secret="s" * 32)
    widened = evidence_settings(shared)
    assert (widened.stream_prefix, widened.auth_secret.get_secret_value()) == ("t1.", "s" * 32)
    assert widened.evidence_max_upload_bytes == 2048
    assert evidence_settings(widened) is widened
