"""Browser sessions and CSRF: lifetimes, where a person lands, and safe redirects.

A session lives at most its absolute lifetime (12 h by default) from login and ends sooner
when unused for the idle time (2 h). Its last use is written at most once a minute. Every
form carries the session's CSRF token (before login, the login form's own token), compared
in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.principal import Role

TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionTimes:
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    def alive(self, now: datetime, idle: timedelta) -> bool:
        return now < self.expires_at and now < self.last_seen_at + idle

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_EVERY


def csrf_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def landing_path(role: Role, region: str | None) -> str:
    """Where a person lands after login: region admin and viewer the region's dashboard, an
    operator its innovations, a verifier the verification desk, the others the rankings."""
    if role in ("region_admin", "viewer") and region is not None:
        return f"/daerah/{region}"
    if role == "operator":
        return "/inovasi"
    if role == "verifier":
        return "/verifikasi"
    return "/peringkat"


def safe_next(path: str | None) -> str | None:
    """A path on this site to return to after login, or None: never another host
    (`//host`, `/\\host`, a scheme) and never the login or logout page itself."""
    if not path or len(path) > 500 or not path.startswith("/") or path.startswith(("//", "/\\")):
        return None
    if any(ord(c) < 0x21 or c == "\\" for c in path):
        return None
    if path.split("?", 1)[0] in ("/login", "/logout"):
        return None
    return path
