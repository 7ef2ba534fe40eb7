"""The four services as ASGI apps behind URL prefixes, and the web app at the root: all of
them in one process (`inovasi up`) or one of them (`inovasi serve <service>`, as a container
runs it). In both cases the URLs are the same: `/intake/v1/…`, `/evidence/v1/…`,
`/scoring/v1/…`, `/notify/v1/…`, and the pages (`/login`, `/daerah/62.10`, …) at `/`, so a
gateway in front of the containers routes by prefix and sends the rest to the web app.

`/api` is a page (in Bahasa Indonesia, for the people who open it) linking to each mounted
service's API docs; `/docs` leads there. The web app is mounted last, at the root, so the
API prefixes, `/api`, `/healthz` and `/readyz` come first; in the same process it calls the
APIs over an in-process transport (no socket). Without the web app, `/` leads to `/api`
and any other path answers a JSON 404 in the services' error shape; with it, the web app
answers unknown paths (an HTML page, or that JSON for a client that does not ask for HTML)."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from html import escape
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from services.common.errors import NotFound
from services.common.health import run_check
from services.common.http import error_response
from services.common.settings import Settings

SERVICES = ("intake", "evidence", "scoring", "notify")  # the APIs, each under its prefix
WEB = "web"  # the pages, at the root
APPS = (*SERVICES, WEB)  # what `inovasi up` runs
CHECK_TIMEOUT_S = 2.0
# The collector's thresholds while the services run (CPython's default: 700, 10, 10): see
# lifespan. Only the youngest generation's is raised; the older ones keep their ratios, so
# long-lived cycles are still collected as often relative to it.
GC_THRESHOLDS = (50_000, 10, 10)
_gc_raised_by = 0  # platform apps running in this process (tests run several, overlapping)
_gc_default = gc.get_threshold()


@contextmanager
def _collector_thresholds_raised() -> Iterator[None]:
    """GC_THRESHOLDS while at least one platform app runs in the process; the thresholds found
    at import once the last one stops."""
    global _gc_raised_by
    _gc_raised_by += 1
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        _gc_raised_by -= 1
        if _gc_raised_by == 0:
            gc.set_threshold(*_gc_default)


def service_module(name: str):
    if name not in APPS:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(APPS)}")
    return importlib.import_module(f"services.{name}.app")


def service_app(name: str, settings: Settings | None = None) -> FastAPI:
    """One service's app. A service with settings of its own (evidence, notify, web) extends
    the shared ones with its fields from the environment."""
    return service_module(name).create_app(settings or Settings())


class _Deferred:
    """The platform app, for the web app's in-process API client, before it exists."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def create_platform_app(names: Sequence[str] = SERVICES, settings: Settings | None = None) -> Starlette:
    """The named services mounted under their prefixes (the web app, if named, at the root,
    last), started and stopped together, with `/healthz` and `/readyz` for the whole process."""
    unknown = [name for name in names if name not in APPS]
    if unknown:
        raise ValueError(f"unknown service {unknown[0]!r}; one of {', '.join(APPS)}")
    apis = [name for name in SERVICES if name in names]
    apps = {name: service_app(name, settings) for name in apis}
    deferred = _Deferred()
    if WEB in names:
        from services.web.app import create_app as create_web_app

        # With APIs beside it, the web app calls them in this process; alone, at INOVASI_WEB_API_URL.
        apps[WEB] = create_web_app(settings or Settings(), api_app=deferred if apis else None, api_prefixes=apis)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for sub in apps.values():  # started in order, stopped in reverse
                await stack.enter_async_context(sub.router.lifespan_context(sub))
            # What start-up built (catalogues, models, clients) lives as long as the process:
            # keep it out of the garbage collector's full collections, which otherwise pause
            # a request now and then for as long as it takes to walk all of it (~100 ms).
            gc.freeze()
            # CPython starts a collection every 700 container objects allocated and not yet
            # freed: under load that is dozens a second, each full one walking everything the
            # process holds (scoring spent about a fifth of its CPU there, in ~130 ms pauses).
            # Nearly all of a request's objects are freed by reference counting; only cycles
            # need the collector, and these thresholds still collect them, in bounded batches.
            with _collector_thresholds_raised():
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

    async def api_docs(request: Request) -> HTMLResponse:
        return HTMLResponse(front_page(apis, _root(request), web=WEB in apps))

    async def docs(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{_root(request)}/api", status_code=307)

    async def http_error(request: Request, exc: Exception) -> Response:
        return _http_error(request, exc, apis)

    routes: list[BaseRoute] = [
        Route("/api", api_docs),  # GET and HEAD
        Route("/docs", docs),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    routes += [Mount(f"/{name}", app=apps[name]) for name in apis]
    if WEB in apps:
        routes.append(Mount("", app=apps[WEB]))  # last: the API prefixes above come first
    else:
        routes.append(Route("/", docs))
    platform = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    deferred.app = platform
    platform.state.services = apps
    platform.state.begin_shutdown = lambda: [sub.state.runtime.begin_shutdown() for sub in apps.values()]
    return platform


# --- the front door --------------------------------------------------------------------

# What each service is for, as the page says it.
SERVICE_SUMMARIES: Mapping[str, str] = {
    "intake": "Perangkat daerah (OPD), profil inovasi, jawaban indikator SID dan SPD, pengajuan dan penarikan.",
    "evidence": "Data dukung (berkas dan tautan) untuk setiap jawaban, dan verifikasinya.",
    "scoring": "Skor IID daerah (diklaim, sementara, tervalidasi), peringkat, penjelasan, rencana "
    "peningkatan, dan siaran langsung pembaruan skor (SSE).",
    "notify": "Langganan webhook pembaruan skor dan riwayat pengirimannya.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 46rem; padding: 2rem 1.25rem; line-height: 1.5; color: #1d2733; }
h1 { margin-bottom: .25rem; }
h2 { margin-top: 2rem; font-size: 1.15rem; }
.lead { font-size: 1.1rem; margin-top: 0; }
ul.services { list-style: none; padding: 0; }
ul.services > li { border: 1px solid #d6dde5; border-radius: .5rem; padding: .75rem 1rem; margin: .75rem 0; }
ul.services p { margin: .25rem 0 .5rem; }
a { color: #0b5cad; }
code { background: #f1f4f7; padding: 0 .25rem; border-radius: .25rem; }
nav a { margin-right: 1rem; }
"""


def _root(request: Request) -> str:
    """The prefix the platform itself is served under (empty unless a proxy sets one)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def front_page(services: Sequence[str], root: str = "", *, web: bool = False) -> str:
    """The page at `/api`: what inovasi is, and for each mounted service its API docs
    (Swagger UI, ReDoc, OpenAPI JSON); then the platform's health checks. No asset from
    elsewhere: many pemda networks reach no CDN."""
    login = (
        f'<p>Untuk bekerja, <a href="{root}/login">masuk ke aplikasi web</a>.</p>' if web
        else "<p>Aplikasi web tidak berjalan di proses ini.</p>"
    )
    items = []
    for name in services:
        base = f"{root}/{escape(name)}"
        items.append(
            f"""<li><h3>{escape(name)}</h3>
<p>{escape(SERVICE_SUMMARIES.get(name, ""))}</p>
<nav><a href="{base}/docs">Swagger UI</a>
<a href="{base}/redoc">ReDoc</a>
<a href="{base}/openapi.json">OpenAPI (JSON)</a></nav></li>"""
        )
    return f"""<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>inovasi — dokumentasi API</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>inovasi</h1>
<p class="lead">inovasi adalah tempat pemerintah daerah menghimpun inovasi perangkat daerahnya beserta
data dukungnya, dan tempat Bapperinda/Bappeda memantau setiap hari posisi daerahnya dalam Indeks
Inovasi Daerah (IID) Kemendagri.</p>
{login}
<p>Halaman ini menautkan dokumentasi API setiap layanan.
Setiap permintaan ke API memerlukan header <code>Authorization: Bearer &lt;token&gt;</code>
(token API pribadi dibuat di halaman Pengaturan aplikasi web; untuk operasi,
<code>inovasi token issue</code>; di Swagger UI, tekan <em>Authorize</em>).</p>
<h2>Layanan</h2>
<ul class="services">
{chr(10).join(items)}
</ul>
<h2>Kesehatan platform</h2>
<nav><a href="{root}/healthz">/healthz</a> (proses berjalan)
<a href="{root}/readyz">/readyz</a> (siap melayani: PostgreSQL, Redis, S3)</nav>
<h2>Panduan</h2>
<p>Langkah demi langkah dengan curl — dari token sampai skor daerah: bagian
<em>Walkthrough with curl</em> di README repositori (skrip yang sama: <code>docs/walkthrough.sh</code>).</p>
</body>
</html>
"""


def _http_error(request: Request, exc: Exception, services: Sequence[str]) -> Response:
    """The platform's own HTTP errors in the services' JSON shape (`{"error", "reason"}`),
    not Starlette's plain text: an unknown path is a `not_found` naming where things are."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code == 404:
        prefixes = ", ".join(f"/{name}/" for name in services)
        reason = f"no such path: {request.url.path}; the services are under {prefixes} and /api lists their API docs"
        return error_response(NotFound(reason=reason))
    return JSONResponse({"error": "http_error", "reason": exc.detail}, exc.status_code, headers=exc.headers)
