"""Requests and reads shared by intake's integration tests."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from services.common import events as ev
from services.common.settings import Settings
from tests.support.infra import wait_until
from tests.support.platform import token

REGION = "62.10"  # Kabupaten Gunung Mas
OTHER_REGION = "62.01"  # Kabupaten Kotawaringin Barat
ADMIN = token("region_admin", REGION)
OPERATOR = token("operator", REGION, "dinkes")
OTHER_AGENCY = token("operator", REGION, "bappeda")
MANDATORY_SID = ("sid-16", "sid-17", "sid-32", "sid-33", "sid-35")


def rancang_bangun(words: int = 300) -> str:
    return " ".join(f"kata{i}" for i in range(words))


def eligible_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Posyandu Digital",
        "urusan_utama": "kesehatan",
        "urusan_lain": ["sosial"],
        "tahapan": "penerapan",
        "jenis": "digital",
        "bentuk": "pelayanan_publik",
        "inisiator": "perangkat_daerah",
        "tanggal_uji_coba": "2024-06-01",
        "tanggal_penerapan": "2025-01-15",
        "rancang_bangun": rancang_bangun(),
        "tujuan": "Mempercepat pencatatan tumbuh kembang balita.",
        "manfaat": "Kader posyandu mencatat tanpa kertas.",
        "hasil": "Cakupan pencatatan naik dari 60% ke 92%.",
    }
    body.update(changes)
    return body


def if_match(version: int, headers: dict[str, str] = OPERATOR) -> dict[str, str]:
    return {**headers, "If-Match": f'"{version}"'}


async def register_agency(client: httpx.AsyncClient, agency: str, region: str = REGION) -> None:
    response = await client.post(
        f"/v1/regions/{region}/agencies",
        json={"id": agency, "name": f"Agency {agency}"},
        headers=token("region_admin", region),
    )
    assert response.status_code == 201, response.text


async def create_innovation(
    client: httpx.AsyncClient, body: dict[str, Any] | None = None, headers: dict[str, str] = OPERATOR
) -> dict[str, Any]:
    response = await client.post("/v1/cycles/2026/innovations", json=body or eligible_body(), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def answer_mandatory(
    client: httpx.AsyncClient, innovation: dict[str, Any], headers: dict[str, str] = OPERATOR
) -> dict[str, Any]:
    for code in MANDATORY_SID:
        response = await client.put(
            f"/v1/cycles/2026/innovations/{innovation['id']}/answers/{code}",
            json={"level": 3}, headers=if_match(innovation["version"], headers),
        )
        assert response.status_code == 200, response.text
        innovation = response.json()
    return innovation


async def snapshot(app: FastAPI) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    async with app.state.runtime.pool.acquire() as conn:
        return {
            "innovations": [dict(r) for r in await conn.fetch("SELECT * FROM innovations ORDER BY id")],
            "spd": [dict(r) for r in await conn.fetch("SELECT * FROM spd_answers ORDER BY indicator")],
            "agencies": [dict(r) for r in await conn.fetch("SELECT * FROM agencies ORDER BY region, id")],
            "outbox": await conn.fetchval("SELECT count(*) FROM outbox"),
            "idempotency": await conn.fetchval("SELECT count(*) FROM idempotency_keys"),
        }


async def published(redis: Redis, settings: Settings, count: int, timeout: float = 10.0) -> list[ev.Envelope]:
    """The intake stream once it holds `count` events (fails if it holds more)."""

    async def read() -> list[ev.Envelope] | None:
        entries = await redis.xrange(settings.stream(ev.INTAKE_STREAM))
        return [ev.from_entry(fields) for _, fields in entries] if len(entries) >= count else None

    events = await wait_until(read, timeout=timeout)
    assert len(events) == count, [e.type for e in events]
    return events


async def all_published(app: FastAPI) -> list[ev.Envelope]:
    """Every event in the outbox, once the relay has published them all."""

    async def drained() -> bool:
        async with app.state.runtime.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

    await wait_until(drained)
    async with app.state.runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT payload FROM outbox ORDER BY id")
    return [ev.parse_event(row["payload"]) for row in rows]


async def set_window(app: FastAPI, *, open_: bool) -> None:
    sql = (
        "UPDATE cycles SET window_opens_at = '2026-02-01 00:00:00+07', window_closes_at = now() + interval '1 day'"
        if open_ else
        "UPDATE cycles SET window_opens_at = '2026-02-01 00:00:00+07', window_closes_at = now() - interval '1 second'"
    )
    async with app.state.runtime.pool.acquire() as conn:
        await conn.execute(sql + " WHERE year = 2026")
