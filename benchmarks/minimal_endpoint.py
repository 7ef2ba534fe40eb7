"""The ceiling `benchmarks/pipeline.py` measures the platform's writes against: the least an
HTTP write can do on this stack (a script run as a server, not a test).

One FastAPI app under uvicorn, configured exactly as `inovasi serve` runs a service (uvicorn
with `log_config=None`, the services' `configure_logging`, so one JSON access-log line per
request as they write; the same `INOVASI_LOG_LEVEL`; asyncpg pool sized by
`INOVASI_PG_POOL_MIN` / `INOVASI_PG_POOL_MAX`). Its write has the shape of intake's answer
write, so the same load generators (the wrk Lua script, pipeline.py's open-loop clients) drive
both unchanged:

    PUT /v1/items/{item}/answers/{indicator}   Authorization: Bearer <JWT>, If-Match: "<version>",
                                               body {"level": n}

It decodes and verifies the bearer token (HS256, `INOVASI_AUTH_SECRET`, the services' issuer,
`exp`/`iat`/`sub` required), then runs one PostgreSQL transaction: an upsert of the item
guarded by the version (a stale `If-Match` is a 412 carrying `current_version`, as intake's),
and an insert into an outbox table. It answers the item as JSON with `ETag`, `X-Event-Id` and
the request's `X-Correlation-ID` echoed. Nothing else: no NOTIFY, no relay, no consumers.
`GET /v1/items/{item}` reads an item's version and level (0 / null when it has none yet).

    INOVASI_AUTH_SECRET=... .venv/bin/python benchmarks/minimal_endpoint.py --port 8100 [--schema bench_minimal]

The schema (default `bench_minimal`) is created at start; dropping it is the caller's job.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import jwt
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: services from this checkout
    sys.path.append(str(ROOT))

from services.common.logging import configure_logging  # noqa: E402
from services.common.tokens import ISSUER  # noqa: E402

_VERSION_TAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


class LevelBody(BaseModel):
    level: int = Field(ge=1, le=3)


def create_app(database_url: str, schema: str, secret: str, pool_min: int, pool_max: int) -> FastAPI:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"schema {schema!r}: lowercase letters, digits and _ only")
    pools: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        setup = await asyncpg.connect(database_url)
        try:
            await setup.execute(f"""
                CREATE SCHEMA IF NOT EXISTS {schema};
                CREATE TABLE IF NOT EXISTS {schema}.items (
                    id text PRIMARY KEY, indicator text NOT NULL, level int NOT NULL, version int NOT NULL);
                CREATE TABLE IF NOT EXISTS {schema}.outbox (
                    id bigserial PRIMARY KEY, event_id uuid NOT NULL, stream text NOT NULL, payload jsonb NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz)""")
        finally:
            await setup.close()
        pools["db"] = await asyncpg.create_pool(database_url, min_size=pool_min, max_size=pool_max)
        try:
            yield
        finally:
            await pools["db"].close()

    app = FastAPI(lifespan=lifespan)
    upsert = f"""
        INSERT INTO {schema}.items (id, indicator, level, version) VALUES ($1, $2, $3, 1)
        ON CONFLICT (id) DO UPDATE SET level = EXCLUDED.level, version = items.version + 1
        WHERE items.version = $4
        RETURNING version"""
    outbox = f"INSERT INTO {schema}.outbox (event_id, stream, payload) VALUES ($1, 'minimal.events', $2::jsonb)"

    def echo(request: Request) -> dict[str, str]:
        correlation = request.headers.get("x-correlation-id")
        return {"X-Correlation-ID": correlation} if correlation else {}

    def error(request: Request, status: int, code: str, **details: Any) -> JSONResponse:
        return JSONResponse({"error": code, "problems": [], **details}, status, headers=echo(request))

    @app.put("/v1/items/{item_id}/answers/{indicator}")
    async def write(
        item_id: str, indicator: str, body: LevelBody, request: Request,
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> JSONResponse:
        scheme, _, token = (authorization or "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise jwt.InvalidTokenError("no bearer token")
            claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "iss"]})
        except jwt.InvalidTokenError as exc:
            return error(request, 401, "unauthenticated", reason=str(exc))
        match = _VERSION_TAG.match((if_match or "").strip())
        if match is None:
            return error(request, 428, "precondition_required")
        expected = int(match.group(1))
        event_id = uuid.uuid4()
        async with pools["db"].acquire() as conn, conn.transaction():
            version = await conn.fetchval(upsert, item_id, indicator, body.level, expected)
            if version is None:
                current = await conn.fetchval(f"SELECT version FROM {schema}.items WHERE id = $1", item_id)
                return error(request, 412, "precondition_failed", current_version=current)
            payload = {"event_id": str(event_id), "type": "item.updated", "subject": item_id, "version": version,
                       "actor": claims.get("sub"), "data": {"indicator": indicator, "level": body.level}}
            await conn.execute(outbox, event_id, json.dumps(payload))
        answer = {"id": item_id, "indicator": indicator, "level": body.level, "version": version,
                  "event_id": str(event_id)}
        return JSONResponse(answer, headers={"ETag": f'"{version}"', "X-Event-Id": str(event_id), **echo(request)})

    @app.get("/v1/items/{item_id}")
    async def read(item_id: str) -> JSONResponse:
        row = await pools["db"].fetchrow(f"SELECT version, level FROM {schema}.items WHERE id = $1", item_id)
        version, level = (row["version"], row["level"]) if row else (0, None)
        return JSONResponse({"id": item_id, "version": version, "level": level})

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--schema", default="bench_minimal")
    args = parser.parse_args()
    secret = os.environ.get("INOVASI_AUTH_SECRET")
    if not secret:
        raise SystemExit("minimal_endpoint: set INOVASI_AUTH_SECRET")
    level = os.environ.get("INOVASI_LOG_LEVEL", "INFO")
    configure_logging(level, json=True, service="minimal")
    app = create_app(
        os.environ.get("INOVASI_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"), args.schema, secret,
        int(os.environ.get("INOVASI_PG_POOL_MIN", "2")), int(os.environ.get("INOVASI_PG_POOL_MAX", "10")),
    )
    # As services/cli.py `_uvicorn` runs every service.
    access_log = os.environ.get("INOVASI_ACCESS_LOG", "false").lower() in ("1", "true", "yes", "on")
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None, log_level=level.lower(),
                            timeout_graceful_shutdown=10, access_log=access_log)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
