"""What the web service's handlers need, typed: built once by `app.py` when the service
starts (or by the command line, without the APIs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.common.errors import Unavailable
from services.common.fanout import StreamHub
from services.web.adapters.api import Apis
from services.web.adapters.files import FileStore
from services.web.adapters.passwords import PasswordHasher
from services.web.settings import WebSettings


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebDeps:
    settings: WebSettings
    pool: asyncpg.Pool
    passwords: PasswordHasher
    auth_secret: str
    wake_relay: Callable[[], None]  # after a commit that enqueued events: publish them soon
    apis: Apis | None = None  # None for the command line, which calls no API
    clock: Callable[[], datetime] = utcnow
    # scoring.events, for the dashboards' live feed (None for the command line)
    score_events: StreamHub | None = None
    # evidence files from object storage, for the work pages (None for the command line)
    files: FileStore | None = None

    def require_apis(self) -> Apis:
        if self.apis is None:
            raise Unavailable(reason="the APIs are not reachable from here")
        return self.apis

    def require_score_events(self) -> StreamHub:
        if self.score_events is None:
            raise Unavailable(reason="the score event stream is not reachable from here")
        return self.score_events

    def require_files(self) -> FileStore:
        if self.files is None:
            raise Unavailable(reason="the evidence files are not reachable from here")
        return self.files
