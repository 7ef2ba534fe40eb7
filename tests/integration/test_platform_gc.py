"""While the platform runs, the garbage collector waits for many more objects than CPython's
default before it collects (services.platform's lifespan: at the default, scoring spent about
a fifth of its CPU in collections under load); stopping puts the previous thresholds back,
and cycles are still collected."""

from __future__ import annotations

import gc
import weakref

import pytest

from services.platform import GC_THRESHOLDS, create_platform_app
from tests.support.platform import cleanup, isolated_settings, running

pytestmark = pytest.mark.integration


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


async def test_the_platform_raises_the_collector_s_thresholds_while_it_runs() -> None:
    settings = isolated_settings()
    before = gc.get_threshold()
    assert before != GC_THRESHOLDS
    try:
        async with running(create_platform_app(["intake"], settings)) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert gc.get_threshold() == GC_THRESHOLDS
            # A cycle nothing refers to is still freed once enough objects were allocated.
            a, b = Node(), Node()
            a.other, b.other = b, a
            gone = weakref.ref(a)
            del a, b
            garbage = [Node() for _ in range(2 * GC_THRESHOLDS[0])]
            del garbage
            assert gone() is None
    finally:
        await cleanup(settings)
    assert gc.get_threshold() == before
