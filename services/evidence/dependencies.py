"""What the evidence service's handlers need, typed: built once by `app.py` at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from services.common.tokens import UploadGrants
from services.evidence.adapters.object_store import ObjectStore
from services.evidence.settings import EvidenceSettings


@dataclass(frozen=True)
class EvidenceDeps:
    settings: EvidenceSettings
    pool: asyncpg.Pool
    objects: ObjectStore
    wake_relay: Callable[[], None]  # after a commit that enqueued events: publish them soon
    grants: UploadGrants  # verifies the upload grants intake hands out with innovations
