"""The demo's HTTP client: every call as a person (`Actor`) with a signed token, one
correlation id per step."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

from devtools.demo.data import CYCLE, AgencyKind
from devtools.demo.files import EvidenceUpload
from devtools.demo.planner import Verdict
from services.common.tokens import issue_token

# Seeding and steps retry an upload this long while the evidence service has not yet seen
# a just-created innovation (it answers 409 with Retry-After until its projection catches up).
PROJECTION_WAIT_S = 30.0
PROJECTION_POLL_S = 0.25


# The X-Correlation-ID of the requests of the current step. The services put it on every
# event the step causes, score.updated included, so a step can be followed through the logs
# ("demo-step-12") and a test can tell which score change a step caused.
_step_id: ContextVar[str] = ContextVar("inovasi_demo_step", default="demo")


@contextmanager
def step(correlation_id: str) -> Iterator[None]:
    token = _step_id.set(correlation_id)
    try:
        yield
    finally:
        _step_id.reset(token)


@dataclass(frozen=True, slots=True)
class Actor:
    role: str
    region: str
    agency: str | None = None

    def __str__(self) -> str:
        return f"operator {self.agency}" if self.agency else self.role.replace("_", " ")


class DemoStopped(Exception):
    """The server is shutting down: the demo stops between two requests."""


class DemoRequestError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:300]}")
        self.status_code = response.status_code


class DemoApi:
    """The demo's calls to the public API. A fresh token per request (they are cheap and
    expire after 12 h, and the demo may run for days)."""

    def __init__(self, client: httpx.AsyncClient, secret: str, stopping: asyncio.Event) -> None:
        self.client = client
        self.secret = secret
        self.stopping = stopping

    async def call(self, actor: Actor, method: str, path: str, *, expect: Sequence[int] = (200,),
                   headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        if self.stopping.is_set():
            raise DemoStopped
        token = issue_token(self.secret, actor.role, actor.region, actor.agency)  # type: ignore[arg-type]
        all_headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": _step_id.get(), **(headers or {})}
        response = await self.client.request(method, path, headers=all_headers, **kwargs)
        if response.status_code not in expect:
            raise DemoRequestError(response)
        return response

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake (and stop) at once on shutdown."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        if self.stopping.is_set():
            raise DemoStopped

    # --- intake ------------------------------------------------------------------------

    async def agencies(self, region: str) -> list[dict[str, Any]]:
        response = await self.call(Actor("region_admin", region), "GET", f"/intake/v1/regions/{region}/agencies")
        return response.json()["agencies"]

    async def register_agency(self, region: str, agency: AgencyKind) -> None:
        # 409: registered by an earlier, interrupted seeding; that is what we wanted.
        await self.call(Actor("region_admin", region), "POST", f"/intake/v1/regions/{region}/agencies",
                        json={"id": agency.id, "name": agency.name}, expect=(201, 409))

    async def create_innovation(self, operator: Actor, profile: dict[str, Any], key: str) -> dict[str, Any]:
        response = await self.call(operator, "POST", f"/intake/v1/cycles/{CYCLE}/innovations", json=profile,
                                   headers={"Idempotency-Key": key}, expect=(201,))
        created = response.json()
        if response.headers.get("Idempotent-Replayed") == "true":
            # The replay is the first answer, with its old version: read the current one.
            return await self.innovation(operator, created["id"])
        return created

    async def innovation(self, actor: Actor, innovation_id: str) -> dict[str, Any]:
        return (await self.call(actor, "GET", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation_id}")).json()

    async def innovations(self, region: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"after": after} if after else {})}
            page = (await self.call(Actor("region_admin", region), "GET", f"/intake/v1/cycles/{CYCLE}/innovations",
                                    params=params)).json()
            items += page["items"]
            after = page["next_after"]
            if after is None:
                return items

    async def set_answer(
        self, operator: Actor, innovation: dict[str, Any], indicator: str, level: int
    ) -> dict[str, Any]:
        response = await self.call(
            operator, "PUT", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/answers/{indicator}",
            json={"level": level}, headers={"If-Match": str(innovation["version"])},
        )
        return response.json()

    async def submit(self, operator: Actor, innovation: dict[str, Any]) -> dict[str, Any]:
        response = await self.call(operator, "POST", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/submit",
                                   headers={"If-Match": str(innovation["version"])})
        return response.json()

    async def spd_answers(self, region: str) -> list[dict[str, Any]]:
        path = f"/intake/v1/cycles/{CYCLE}/regions/{region}/spd"
        return (await self.call(Actor("region_admin", region), "GET", path)).json()["answers"]

    async def set_spd(self, region: str, indicator: str, level: int, version: int) -> dict[str, Any]:
        # An SPD answer never set has version 0: the first write sends If-Match: 0.
        response = await self.call(Actor("region_admin", region), "PUT",
                                   f"/intake/v1/cycles/{CYCLE}/regions/{region}/spd/{indicator}",
                                   json={"level": level}, headers={"If-Match": str(version)})
        return response.json()

    # --- evidence ----------------------------------------------------------------------

    async def upload(self, actor: Actor, indicator: str, upload: EvidenceUpload, *,
                     innovation_id: str | None = None, region: str | None = None) -> dict[str, Any]:
        """Upload one file or link for a SID answer (innovation_id) or an SPD answer (region).
        A just-created innovation may not be known to the evidence service yet (409 with
        Retry-After until its projection catches up): retry for a while."""
        params = {"cycle": CYCLE, "indicator": indicator,
                  **({"innovation": innovation_id} if innovation_id else {"region": region})}
        if upload.link is not None:
            body: dict[str, Any] = {"json": {"link": upload.link}}
        else:
            body = {"content": upload.content, "headers": {"Content-Type": "application/octet-stream"}}
        deadline = asyncio.get_running_loop().time() + PROJECTION_WAIT_S
        while True:
            try:
                return (await self.call(actor, "POST", "/evidence/v1/evidence", params=params,
                                        expect=(201,), **body)).json()
            except DemoRequestError as error:
                if error.status_code != 409 or asyncio.get_running_loop().time() > deadline:
                    raise
            # Retry-After says 1 s; polling faster keeps seeding quick and costs one cheap query.
            await self.pause(PROJECTION_POLL_S)

    async def evidence(self, region: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"cycle": CYCLE, "region": region, "limit": 500}
            if after:
                params["after"] = after
            page = (await self.call(Actor("verifier", region), "GET", "/evidence/v1/evidence", params=params)).json()
            items += page["items"]
            after = page["next_after"]
            if after is None:
                return items

    async def decide(self, region: str, evidence_id: str, verdict: Verdict) -> None:
        body = {"decision": verdict.decision, **({"reason": verdict.reason} if verdict.reason else {})}
        await self.call(Actor("verifier", region), "POST", f"/evidence/v1/evidence/{evidence_id}/decision", json=body)

    # --- scoring -----------------------------------------------------------------------

    async def score(self, region: str) -> dict[str, Any]:
        path = f"/scoring/v1/cycles/{CYCLE}/regions/{region}/score"
        return (await self.call(Actor("viewer", region), "GET", path)).json()
