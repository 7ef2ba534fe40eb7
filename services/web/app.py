"""Builds the web service: accounts and sessions in its schema (`web`), its outbox to
`web.events`, and the pages, which call the four APIs as the signed-in person — in the same
process when the platform mounts them beside it (`inovasi up`), else at INOVASI_WEB_API_URL
(`inovasi serve web`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.common.body_limit import BodyLimit
from services.common.events import SCORING_STREAM
from services.common.health import health_router
from services.common.http import RequestMetrics, RuntimeChecks
from services.common.logging import CorrelationIdMiddleware
from services.common.service import Infrastructure, ServiceRuntime, ServiceSpec
from services.common.settings import Settings
from services.web.adapters.api import Apis
from services.web.adapters.files import FileStore
from services.web.adapters.passwords import PasswordHasher
from services.web.dependencies import WebDeps
from services.web.entrypoints import http, region_pages, work_pages
from services.web.entrypoints.rendering import STATIC, Pages
from services.web.entrypoints.security import SecurityHeaders
from services.web.settings import WebSettings, web_settings

SERVICE = "web"


@asynccontextmanager
async def dependencies(infrastructure: Infrastructure[WebSettings], *, api_app: Any = None) -> AsyncIterator[WebDeps]:
    settings = infrastructure.settings
    secret = settings.require_auth_secret()
    if api_app is not None:
        apis = Apis.in_process(secret, api_app, settings.web_api_timeout_s)
    else:
        apis = Apis.over_http(secret, settings.web_api_url or "", settings.web_api_timeout_s)
    files = FileStore(settings.s3_endpoint_url(), settings.evidence_public_s3_url,
                      timeout_s=settings.web_api_timeout_s)
    try:
        # The dashboards' live feed: one reader of scoring.events per process (fan-out).
        score_events = infrastructure.fanout.hub(SCORING_STREAM)
        yield WebDeps(settings=settings, pool=infrastructure.pool, passwords=PasswordHasher(), auth_secret=secret,
                      wake_relay=infrastructure.wake_relay, apis=apis, score_events=score_events, files=files)
    finally:
        await apis.aclose()
        await files.aclose()


def spec(api_app: Any = None) -> ServiceSpec[WebSettings, WebDeps]:
    return ServiceSpec(name=SERVICE, migrations="services.web.migrations",
                       dependencies=partial(dependencies, api_app=api_app))


def create_app(settings: Settings | None = None, *, api_app: Any = None, api_prefixes: Sequence[str] = ()) -> FastAPI:
    """The web app. `api_app`: the ASGI app serving the APIs in this process (the platform);
    without it, INOVASI_WEB_API_URL must say where they are. `api_prefixes`: the APIs
    mounted beside it, named in a 404's JSON answer."""
    resolved = web_settings(settings)
    if api_app is None and not resolved.web_api_url:
        raise RuntimeError(
            "INOVASI_WEB_API_URL is not set: the web app alone calls the APIs there (e.g. the gateway, "
            "http://gateway:8000)"
        )
    runtime: ServiceRuntime[WebDeps] = ServiceRuntime(spec(api_app), resolved)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="inovasi web", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.state.begin_shutdown = runtime.begin_shutdown
    app.state.auth_secret = resolved.require_auth_secret()
    app.state.pages = Pages(resolved.web_timezone)
    http.install_error_pages(app, api_prefixes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(BodyLimit, default=resolved.max_request_body_bytes, routes=work_pages.body_limits(resolved))
    app.add_middleware(RequestMetrics, service=SERVICE)  # outermost: refusals are timed too
    app.include_router(health_router(RuntimeChecks(runtime)))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(http.router)
    app.include_router(region_pages.router)  # the dashboard, its live feed, profiles, rankings
    work_pages.install(app)  # the operator's and the verifier's pages, evidence files
    return app
