"""The HTTP side every service shares: the app factory, bearer-token authentication (declared
in the OpenAPI document), the API docs served without a CDN, and the one translation of
domain errors into HTTP answers.

Every error has one shape, so a client always learns which field was wrong and why:

    {"error": "invalid_request", "problems": [{"field": "body.level", "reason": "..."}]}
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount

from services.common.body_limit import BodyLimit, Route
from services.common.db import OUTAGE_ERRORS
from services.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InputInterrupted,
    InputStalled,
    InvalidInput,
    NotEligible,
    NotFound,
    PreconditionRequired,
    StaleVersion,
    TooLarge,
    Unavailable,
    UnsupportedContent,
)
from services.common.health import Check, health_router
from services.common.logging import CorrelationIdMiddleware, get_logger
from services.common.metrics import HTTP_REQUEST_SECONDS
from services.common.principal import Principal, Role, require_role
from services.common.revocations import Revocations
from services.common.tokens import TokenError, VerifiedTokens

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from services.common.service import ServiceRuntime

log = get_logger(__name__)

# The one mapping from domain errors to HTTP statuses (the most specific class wins).
HTTP_STATUS: Mapping[type[DomainError], int] = {
    InvalidInput: 422,
    NotEligible: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    PreconditionRequired: 428,
    StaleVersion: 412,
    TooLarge: 413,
    UnsupportedContent: 415,
    InputStalled: 408,
    InputInterrupted: 400,
    Unavailable: 503,
}


def status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        status = HTTP_STATUS.get(cls)
        if status is not None:
            return status
    return 400


def error_response(error: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s is not None else None
    return JSONResponse(error.body(), status_code=status_of(error), headers=headers)


def _location(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def install_error_handlers(app: FastAPI, *, retry_after_s: int = 2) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, Unavailable) and exc.retry_after_s is None:
            exc.retry_after_s = retry_after_s
        return error_response(exc)

    async def _outage(_request: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL unreachable (down, restarting, no connection free in time): nothing was
        # changed, since every write is one transaction; the client may simply try again.
        log.warning("request failed: a server is unreachable", error=repr(exc))
        reason = "a server this request needs is unreachable; nothing was changed, try again shortly"
        return error_response(Unavailable(reason=reason, retry_after_s=retry_after_s))

    for error in OUTAGE_ERRORS:
        app.add_exception_handler(error, _outage)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _location(err.get("loc", ())), "reason": str(err.get("msg", "invalid"))}
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid_request", "problems": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else {"error": "http_error", "reason": exc.detail}
        return JSONResponse(detail, status_code=exc.status_code, headers=getattr(exc, "headers", None))


# --- authentication ----------------------------------------------------------------------


class Unauthorized(HTTPException):
    def __init__(self, reason: str) -> None:
        super().__init__(
            status_code=401,
            detail={"error": "unauthorized", "reason": reason},
            headers={"WWW-Authenticate": 'Bearer realm="inovasi"'},
        )


# Declares the scheme in every service's OpenAPI document (each operation that needs a token
# lists it, so Swagger UI's "Authorize" sends it); the answer to a missing or bad token stays
# ours, below, not FastAPI's.
bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description=(
        "`Authorization: Bearer <token>`: an HS256 JWT signed with `INOVASI_AUTH_SECRET`, carrying "
        "`role`, `region` and for an operator `agency` (`inovasi token issue` prints one)."
    ),
    auto_error=False,
)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Principal:
    """FastAPI dependency: the request's principal, or 401: no token, a bad one, or one of a
    disabled account or revoked (checked in memory: `services.common.revocations`). (Async,
    so no thread hand-off.)"""
    if credentials is None:  # no header, another scheme, or no token after "Bearer"
        raise Unauthorized("Authorization: Bearer <token> header required")
    tokens: VerifiedTokens = request.app.state.tokens
    try:
        principal = tokens.verify(credentials.credentials)
    except TokenError as exc:
        raise Unauthorized(str(exc)) from None
    revocations: Revocations | None = getattr(request.app.state, "revocations", None)
    refusal = revocations.refusal(principal) if revocations is not None else None
    if refusal is not None:
        raise Unauthorized(refusal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def revoked_since(request: Request, principal: Principal) -> str | None:
    """Why a principal authenticated at the start of a long-lived response (the live feed)
    is no longer honoured — its account disabled, its token revoked — or None."""
    revocations: Revocations | None = getattr(request.app.state, "revocations", None)
    return revocations.refusal(principal) if revocations is not None else None


def with_role(*roles: Role) -> Callable[[Principal], Any]:
    """Dependency: the principal, or 403 for other roles, before the body is even read."""

    async def check(principal: CurrentPrincipal) -> Principal:
        require_role(principal, *roles)
        return principal

    return check


EVENT_ID_HEADER = "X-Event-Id"


def json_response(
    result: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A use case's typed result as the response body (its JSON is the API's), serialised
    once: routes declare the model as `response_model` for the OpenAPI document. A write's
    result names the event it caused; so does the X-Event-Id header."""
    headers = dict(headers or {})
    event_id = getattr(result, "event_id", None)
    if event_id is not None:
        headers[EVENT_ID_HEADER] = str(event_id)
    return ModelResponse(result, status_code=status_code, headers=headers or None)


class ModelResponse(JSONResponse):
    """A JSONResponse whose content is a pydantic model, serialised straight to JSON bytes by
    pydantic (as compact as Starlette's, without building a dict for json.dumps first)."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return content.model_dump_json().encode()
        return super().render(content)


# --- the app -----------------------------------------------------------------------------


async def service_dependencies(request: Request) -> Any:
    """FastAPI dependency: the typed dependencies of the service that serves the request;
    each service annotates it with its own type (`Annotated[IntakeDeps, Depends(...)]`)."""
    runtime: ServiceRuntime[Any] = request.app.state.runtime
    return runtime.deps



def create_service_app(
    runtime: ServiceRuntime[Any],
    routers: Sequence[APIRouter],
    *,
    title: str,
    body_limits: Mapping[Route, int] | None = None,
    fast_paths: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
) -> FastAPI:
    """The service's ASGI app. Its routes are relative (`/v1/...`); it is mounted under
    `/<service>` by `inovasi up` and `inovasi serve`, so URLs are the same in both.
    `body_limits` raises the request-body limit of some routes above the default.
    `fast_paths`: ASGI middleware that answer a hot route's well-formed requests without
    FastAPI's per-request machinery, innermost (inside correlation ids, body limits and
    metrics), passing everything else on (services/intake/entrypoints/fast_answers.py)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    secret = runtime.settings.require_auth_secret()
    # Swagger UI and ReDoc come from the service itself (install_api_docs), not from a CDN.
    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.begin_shutdown = runtime.begin_shutdown  # the server calls it when it starts stopping
    app.state.tokens = VerifiedTokens(secret)  # authenticate verifies with it
    app.state.revocations = runtime.revocations  # authenticate refuses what it lists
    install_error_handlers(app, retry_after_s=runtime.settings.unavailable_retry_after_s)
    for fast_path in fast_paths:
        app.add_middleware(fast_path)
    app.add_middleware(CorrelationIdMiddleware)
    # A body is bounded before anything reads it...
    app.add_middleware(BodyLimit, default=runtime.settings.max_request_body_bytes, routes=body_limits)
    # ...and timed outside that, so its refusals count too. (Added last, so it runs first.)
    app.add_middleware(RequestMetrics, service=runtime.name)
    app.include_router(health_router(RuntimeChecks(runtime)))
    install_api_docs(app)
    for router in routers:
        app.include_router(router)
    return app


# --- request metrics ---------------------------------------------------------------------

UNMATCHED = "unmatched"
# Any other method (a client may send any token) is counted as "other": bounded labels.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Pure ASGI middleware: each request's time to its response's start (status and headers)
    into `inovasi_http_request_seconds{service, route, method, status}` — for a stream (the
    live feed) or a download, the time to open it, not its life. `route` is the path template
    of the route that answered (`/v1/cycles/{year}/regions/{code}/score`; a mount's
    `/docs-assets/{path}`), never the raw path: `unmatched` when no route did (404, slash
    redirect, a body refused by its Content-Length before routing), so the labels stay few.
    A request whose app raises before answering counts as the 500 the server sends.

    Outermost in a service's stack. It reads the route the router records in the (shared)
    scope, so it adds no routing of its own: a few µs per request, and no hop to a thread."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service
        # (route, method, status) -> the histogram's child: no label lookup (and its lock)
        # per request. Bounded: routes and methods are few, statuses are 100-599.
        self._children: dict[tuple[str, str, int], Any] = {}
        # id(endpoint) -> template, for what the router matched without recording a route
        # (a mount, a plain Starlette route).
        self._endpoints: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # What a router outside this app (the platform's mounts) put there already.
        outer = (scope.get("route"), scope.get("endpoint"))
        answered = False

        async def timed_send(message: Message) -> None:
            nonlocal answered
            if not answered and message["type"] == "http.response.start":
                answered = True
                self._observe(scope, outer, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            if not answered:  # the server answers 500
                answered = True
                self._observe(scope, outer, 500, time.perf_counter() - started)
            raise

    def _observe(self, scope: Scope, outer: tuple[Any, Any], status: int, seconds: float) -> None:
        route = scope.get("route")
        if route is not None and route is not outer[0]:
            template = getattr(route, "path", None) or UNMATCHED
        else:
            endpoint = scope.get("endpoint")
            template = UNMATCHED if endpoint is None or endpoint is outer[1] else self._template_of(scope, endpoint)
        method = scope["method"]
        key = (template, method if method in _METHODS else "other", status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = HTTP_REQUEST_SECONDS.labels(self.service, key[0], key[1], str(status))
        child.observe(seconds)

    def _template_of(self, scope: Scope, endpoint: Any) -> str:
        """The template of the app's route whose endpoint (or mounted app) is `endpoint`."""
        template = self._endpoints.get(id(endpoint))
        if template is None:
            template = UNMATCHED
            for route in getattr(scope.get("app"), "routes", ()):
                if getattr(route, "endpoint", None) is endpoint:
                    template = route.path
                    break
                if isinstance(route, Mount) and route.app is endpoint:
                    template = route.path + "/{path}"
                    break
            self._endpoints[id(endpoint)] = template
        return template


# --- the API docs ------------------------------------------------------------------------

# Swagger UI's and ReDoc's files as fastapi-offline ships them: many pemda networks reach no
# CDN, so every service serves them itself, under its own prefix.
DOCS_ASSETS = "/docs-assets"
_DOCS_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
# No online validator badge (an image from validator.swagger.io); the rest as FastAPI has it.
SWAGGER_UI_PARAMETERS: Mapping[str, Any] = {"validatorUrl": None}


def install_api_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc` (ReDoc) for the app's OpenAPI document, with every
    asset served by the app at `/docs-assets/`. URLs carry the mount prefix (`/intake/docs`
    loads `/intake/openapi.json`), as the app is mounted under `/<service>`."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_DOCS_ASSETS_DIR), name="docs-assets")

    def urls(request: Request) -> tuple[str, str]:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return f"{root}{app.openapi_url}", f"{root}{DOCS_ASSETS}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        openapi_url, assets = urls(request)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            oauth2_redirect_url=None,  # bearer tokens only: no OAuth2 flow to come back from
            swagger_ui_parameters=dict(SWAGGER_UI_PARAMETERS),
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        openapi_url, assets = urls(request)
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )


class RuntimeChecks(Mapping[str, Check]):
    """The readiness checks exist only once the lifespan has opened the infrastructure."""

    def __init__(self, runtime: ServiceRuntime[Any]) -> None:
        self._runtime = runtime

    def __getitem__(self, key: str) -> Check:
        return self._runtime.checks[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runtime.checks)

    def __len__(self) -> int:
        return len(self._runtime.checks)
