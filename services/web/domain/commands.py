"""The typed commands and queries of the web service's use cases."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.principal import Role


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    password: str = field(repr=False)
    address: str  # the client's address (through a trusted proxy: the one it forwarded)
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class SessionCookie:
    """The secret a browser sends in its session cookie."""

    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChangePassword:
    current: str = field(repr=False)
    new: str = field(repr=False)
    repeated: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CreateAccount:
    username: str
    password: str = field(repr=False)
    role: Role
    region: str | None
    agency: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class AccountRef:
    account_id: str


@dataclass(frozen=True, slots=True)
class SessionRef:
    session_id: str


@dataclass(frozen=True, slots=True)
class CreateToken:
    name: str
    days: int


@dataclass(frozen=True, slots=True)
class TokenRef:
    token_id: str


@dataclass(frozen=True, slots=True)
class RegisterAgency:
    agency_id: str
    name: str


@dataclass(frozen=True, slots=True)
class CreateWebhook:
    url: str
    kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WebhookRef:
    subscription_id: str


@dataclass(frozen=True, slots=True)
class RegionRef:
    code: str


# --- region pages (dashboard, live feed, rankings) ------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveFeedQuery:
    """Follow a region's score: from `last_event_id` (the SSE id last received), or from now
    after its current score."""

    region: str
    last_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class RankingsQuery:
    """`/peringkat` as its address asks (each value as given, checked by the use case):
    `jenis` the region type, `angka` the figure, `provinsi` a provinsi's code or `nasional`,
    `cari` text in a region's name or code, `halaman` the page."""

    jenis: str | None = None
    angka: str | None = None
    provinsi: str | None = None
    cari: str | None = None
    halaman: str | None = None
