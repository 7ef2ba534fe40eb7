"""The web service's settings: the common ones plus where the APIs are, how long a session
lives, and how many login attempts an address may make.

Field names start with `web_` because `inovasi up` runs every service from one environment
(INOVASI_WEB_API_URL, INOVASI_WEB_SESSION_TTL_S, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import Settings


class WebSettings(Settings):
    # Where the four APIs answer when the web app runs alone (`inovasi serve web`): the
    # gateway (http://gateway:8000), or one URL per service with `{service}` in it
    # (http://{service}:8000, as Kubernetes names the Services). Unused under `inovasi up`,
    # where the web app calls the APIs in the same process.
    web_api_url: str | None = None
    # Seconds a call to an API may take before the page says the service is unavailable.
    web_api_timeout_s: float = Field(10.0, gt=0, le=120)
    # The assessment year the pages show.
    web_cycle: int = Field(2026, ge=2000, le=2100)
    # A browser session ends this long after login (absolute), or after this long unused (idle).
    web_session_ttl_s: int = Field(12 * 3600, ge=60, le=30 * 24 * 3600)
    web_session_idle_s: int = Field(2 * 3600, ge=60, le=30 * 24 * 3600)
    # Login attempts one client address may make in the window (429 with Retry-After beyond).
    web_login_address_limit: int = Field(10, ge=1, le=10_000)
    # Login attempts for one user name in the window, whoever makes them.
    web_login_account_limit: int = Field(10, ge=1, le=10_000)
    web_login_window_s: int = Field(300, ge=1, le=24 * 3600)
    # Addresses of the proxies (the gateway) whose X-Forwarded-For and X-Forwarded-Proto are
    # believed: comma-separated IPs, or * for any (a container reached only through the
    # gateway). Other clients' forwarded headers are ignored.
    web_trusted_proxies: str = "127.0.0.1,::1"
    # The time zone pages write times in (Indonesia's three, fixed offsets): WIB, WITA or WIT.
    web_timezone: Literal["WIB", "WITA", "WIT"] = "WIB"

    # --- the work pages (evidence upload and view; see entrypoints/work_pages.py) ---------
    # The same settings the evidence service reads (one environment under `inovasi up`): an
    # upload larger than this is refused here before a byte reaches the API, and where
    # browsers reach object storage (download URLs are signed for it; the web app fetches a
    # file through s3_endpoint, keeping that host in the signed Host header).
    evidence_max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    evidence_public_s3_url: str | None = Field(None, pattern=r"^https?://[^/\s]+/?$")

    def s3_endpoint_url(self) -> str:
        """`s3_endpoint` as a URL (it may be given as host:port; the scheme from `s3_secure`)."""
        if "://" in self.s3_endpoint:
            return self.s3_endpoint
        return ("https://" if self.s3_secure else "http://") + self.s3_endpoint

    def trusts(self, address: str | None) -> bool:
        allowed = {item.strip() for item in self.web_trusted_proxies.split(",") if item.strip()}
        return "*" in allowed or (address is not None and address in allowed)


def web_settings(settings: Settings | None) -> WebSettings:
    """The web view of any Settings; the web_* fields come from the environment unless given."""
    if isinstance(settings, WebSettings):
        return settings
    if settings is None:
        return WebSettings()
    common = settings.model_dump(include=set(Settings.model_fields))
    return WebSettings(**common)
