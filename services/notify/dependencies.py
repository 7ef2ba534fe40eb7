"""What notify's handlers need, typed: built once by `app.py` when the service starts."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.notify.settings import NotifySettings


@dataclass(frozen=True)
class NotifyDeps:
    settings: NotifySettings
    pool: asyncpg.Pool
