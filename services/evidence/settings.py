"""The evidence service's settings: the shared ones plus its own (prefix ``INOVASI_``)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import Settings

MiB = 1024 * 1024


class EvidenceSettings(Settings):
    # Larger uploads are refused with 413 and nothing of them is kept.
    evidence_max_upload_bytes: int = Field(50 * MiB, ge=1)
    # Lifetime of a presigned download URL: short, so a leaked URL soon stops working.
    evidence_download_url_ttl_s: int = Field(300, ge=1, le=300)
    # An upload whose client sends nothing for this long is cut off (408) and discarded.
    evidence_upload_stall_timeout_s: float = Field(60.0, gt=0)
    # At most this many uploads stream to object storage at once per process; each holds a
    # thread and about three 5 MiB part buffers.
    evidence_max_concurrent_uploads: int = Field(8, ge=1)
    # Where browsers reach object storage, when not at s3_endpoint (which may be an internal
    # host such as "minio:9000"): download URLs are signed for this URL. Empty: s3_endpoint.
    evidence_public_s3_url: str | None = Field(None, pattern=r"^https?://[^/\s]+/?$")

    def s3_endpoint_url(self) -> str:
        """`s3_endpoint` as a URL: it may be given as host:port (scheme from `s3_secure`)."""
        if "://" in self.s3_endpoint:
            return self.s3_endpoint
        return ("https://" if self.s3_secure else "http://") + self.s3_endpoint


def evidence_settings(settings: Settings | None = None) -> EvidenceSettings:
    """Settings for the evidence service; shared settings are widened with the defaults
    of (or environment values for) the evidence fields."""
    if isinstance(settings, EvidenceSettings):
        return settings
    if settings is None:
        return EvidenceSettings()
    return EvidenceSettings(**settings.model_dump())
