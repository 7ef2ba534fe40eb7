"""The four services as ASGI apps behind URL prefixes: all of them in one process
(`inovasi up`) or one of them (`inovasi serve <service>`, as a container runs it). In both
cases the URLs are the same: `/intake/v1/…`, `/evidence/v1/…`, `/scoring/v1/…`,
`/notify/v1/…`, so a gateway in front of the containers routes by prefix."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from services.common.health import run_check
from services.common.settings import Settings

SERVICES = ("intake", "evidence", "scoring", "notify")
CHECK_TIMEOUT_S = 2.0


def service_module(name: str):
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    return importlib.import_module(f"services.{name}.app")


def service_app(name: str, settings: Settings | None = None) -> FastAPI:
    """One service's app. A service with settings of its own (evidence, notify) extends the
    shared ones with its fields from the environment."""
    return service_module(name).create_app(settings or Settings())


def create_platform_app(names: Sequence[str] = SERVICES, settings: Settings | None = None) -> Starlette:
    """The named services mounted under their prefixes, started and stopped together, with
    `/healthz` and `/readyz` for the whole process."""
    apps = {name: service_app(name, settings) for name in names}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for sub in apps.values():  # started in order, stopped in reverse
                await stack.enter_async_context(sub.router.lifespan_context(sub))
            # What start-up built (catalogues, models, clients) lives as long as the process:
            # keep it out of the garbage collector's full collections, which otherwise pause
            # a request now and then for as long as it takes to walk all of it (~100 ms).
            gc.freeze()
            yield

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "services": list(apps)})

    async def readyz(_request: Request) -> JSONResponse:
        results = {}
        for name, sub in apps.items():
            checks = dict(sub.state.runtime.checks)
            errors = await asyncio.gather(*(run_check(c, CHECK_TIMEOUT_S) for c in checks.values()))
            results[name] = {check: error or "ok" for check, error in zip(checks, errors, strict=True)}
        ready = all(v == "ok" for service in results.values() for v in service.values())
        return JSONResponse({"status": "ready" if ready else "unavailable", "checks": results}, 200 if ready else 503)

    routes: list[BaseRoute] = [Route("/healthz", healthz), Route("/readyz", readyz)]
    routes += [Mount(f"/{name}", app=sub) for name, sub in apps.items()]
    platform = Starlette(routes=routes, lifespan=lifespan)
    platform.state.services = apps
    platform.state.begin_shutdown = lambda: [sub.state.runtime.begin_shutdown() for sub in apps.values()]
    return platform
