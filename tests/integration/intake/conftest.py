"""Fixtures for intake's integration tests: a running intake app (real PostgreSQL and Redis)
and its client. `settings` (own schema and stream prefix) and `redis` (to read the stream)
come from tests/integration/conftest.py."""

from __future__ import annotations

import pytest

from services.intake.app import create_app
from tests.support.platform import running


@pytest.fixture
async def app(settings):
    return create_app(settings)


@pytest.fixture
async def client(app):
    async with running(app) as client:
        yield client
