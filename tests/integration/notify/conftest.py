"""Fixtures for notify's integration tests: the shared `settings` (tests/integration/conftest.py)
as NotifySettings, with webhook retries and polling shrunk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from services.notify.settings import NotifySettings
from tests.support.platform import isolated_settings


def notify_settings(**overrides: Any) -> NotifySettings:
    """Isolated settings (own prefixes) for notify; a test building its own cleans them up."""
    base = isolated_settings()
    values = {
        "notify_backoff_initial_s": 0.05,
        "notify_backoff_max_s": 0.2,
        "notify_max_attempts": 3,
        "notify_delivery_poll_s": 0.2,
        "notify_webhook_timeout_s": 2.0,
        **overrides,
    }
    return NotifySettings(**base.model_dump(), **values)


@pytest.fixture
def settings_factory() -> Callable[[], NotifySettings]:
    return notify_settings
