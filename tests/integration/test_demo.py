"""`inovasi up --demo`: the platform under a real uvicorn server with the demo attached seeds
a small cycle through the API, keeps it moving so that scores change, leaves alone what a
person does in its regions (the README's walkthrough), and on a second start against the
same database seeds nothing twice (and keeps moving)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from redis.asyncio import Redis

from devtools.demo import CYCLE, VIDEO_INDICATOR, Demo, DemoSettings, attach_demo, evidence_for, plan_demo
from services.common import events as ev
from services.common.methodology.catalogue import load_methodology
from services.common.principal import Role
from services.intake.domain.eligibility import MIN_RANCANG_BANGUN_WORDS
from services.intake.domain.profile import count_words
from services.platform import SERVICES, create_platform_app
from tests.support.infra import free_port, wait_until
from tests.support.journeys import Journey
from tests.support.platform import AUTH_SECRET, cleanup, isolated_settings, token

# In a child process: moto's server in this process would compete with the four services
# for the GIL and make seeding (hundreds of uploads) twice as slow.
from tests.support.s3 import moto_s3_server_process
from tests.support.servers import serve

pytestmark = pytest.mark.integration

HOME = "62.10"  # Kabupaten Gunung Mas
FAST = DemoSettings(interval_s=0.2, seed=7)
MANDATORY_SID = load_methodology("iid-2026").mandatory_codes("sid")


@asynccontextmanager
async def platform_with_demo(settings) -> AsyncIterator[tuple[httpx.AsyncClient, Demo]]:
    """As `inovasi up --demo` runs it: one app, the demo attached before uvicorn starts."""
    port = free_port()
    app = create_platform_app(SERVICES, settings)
    demo = attach_demo(app, base_url=f"http://127.0.0.1:{port}", secret=AUTH_SECRET, region=HOME, settings=FAST)
    async with serve(app, port) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield client, demo


async def score(client: httpx.AsyncClient, region: str = HOME) -> dict:
    response = await client.get(f"/scoring/v1/cycles/{CYCLE}/regions/{region}/score", headers=token("viewer", region))
    assert response.status_code == 200, response.text
    return response.json()


async def counts(client: httpx.AsyncClient, regions: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """(agencies, innovations) of each region, as its admin reads them."""
    found = {}
    for region in regions:
        admin = token("region_admin", region)
        agencies = await client.get(f"/intake/v1/regions/{region}/agencies", headers=admin)
        innovations = await client.get(f"/intake/v1/cycles/{CYCLE}/innovations", params={"limit": 500}, headers=admin)
        assert agencies.status_code == innovations.status_code == 200
        found[region] = (len(agencies.json()["agencies"]), len(innovations.json()["items"]))
    return found


async def scores_caused_by_steps(redis: Redis, settings) -> list[ev.ScoreUpdated]:
    """score.updated events of the home region caused by a demo step (the step's
    X-Correlation-ID travels on every event it causes)."""
    entries = await redis.xrange(settings.stream(ev.SCORING_STREAM))
    updates = [ev.from_entry(fields) for _, fields in entries]
    return [u for u in updates if u.region == HOME and u.correlation_id.startswith("demo-step-")]


async def walkthrough_in_home_region(client: httpx.AsyncClient) -> dict:
    """What a person following the README does while the demo runs: registers `dinkes` in
    62.10, creates an innovation, answers its mandatory indicators at level 1, uploads
    evidence for two of them and submits it; the innovation."""
    person = Journey(client, region=HOME, agency="dinkes")
    registered = await client.post(f"/intake/v1/regions/{HOME}/agencies", headers=person.admin,
                                   json={"id": "dinkes", "name": "Dinas Kesehatan"})
    assert registered.status_code == 201, f"the demo took the agency id 'dinkes': {registered.text}"
    innovation = await person.create_innovation("Posyandu Keliling Warga")
    for indicator in MANDATORY_SID:
        innovation = await person.answer(innovation, indicator, 1)
    for indicator in MANDATORY_SID[:2]:
        await person.upload(indicator, innovation)
    return await person.submit(innovation)


async def as_the_person_left_it(client: httpx.AsyncClient, innovation: dict) -> tuple:
    """The innovation's version, status and answers, and the state of each of its evidence items."""
    current = await client.get(f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}",
                               headers=token("operator", HOME, "dinkes"))
    assert current.status_code == 200, current.text
    found = current.json()
    items = [item for item in await region_evidence(client, "verifier") if item["innovation"] == innovation["id"]]
    return (found["version"], found["status"], found["answers"],
            sorted((item["id"], item["state"], item["version"]) for item in items))


async def region_evidence(client: httpx.AsyncClient, role: Role) -> list[dict]:
    items: list[dict] = []
    params: dict = {"cycle": CYCLE, "region": HOME, "limit": 500}
    while True:
        page = await client.get("/evidence/v1/evidence", params=params, headers=token(role, HOME))
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if page.json()["next_after"] is None:
            return items
        params["after"] = page.json()["next_after"]


def test_the_demo_plan_is_deterministic_and_its_submissions_are_eligible() -> None:
    plan = plan_demo(HOME, seed=7)
    assert plan == plan_demo(HOME, seed=7) and plan != plan_demo(HOME, seed=8)
    assert [region.code for region in plan] == [HOME, "62.01", "62.71", "62"]
    mandatory = set(load_methodology("iid-2026").mandatory_codes("sid"))
    for region in plan:
        assert 3 <= len(region.agencies) <= 5
        for innovation in region.innovations:
            assert count_words(innovation.profile["rancang_bangun"]) >= MIN_RANCANG_BANGUN_WORDS
            if innovation.submit:
                assert mandatory <= set(innovation.answers)
        per_agency = [sum(i.agency == a.id for i in region.innovations) for a in region.agencies]
        assert all(2 <= n <= 4 for n in per_agency)
    video = evidence_for(VIDEO_INDICATOR, region=plan[0].info, subject="x")
    assert video.content is None and video.link.startswith("https://")
    assert evidence_for("sid-16", region=plan[0].info, subject="x").content.startswith(b"%PDF-")
    assert evidence_for("sid-30", region=plan[0].info, subject="x").content.startswith(b"\x89PNG")


async def test_demo_seeds_a_cycle_keeps_scores_moving_and_seeds_only_once() -> None:
    with moto_s3_server_process() as s3:
        settings = isolated_settings(
            s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key, s3_bucket="demo-evidence",
        )
        redis = Redis.from_url(settings.redis_url)
        try:
            async with platform_with_demo(settings) as (client, demo):
                await asyncio.wait_for(demo.seeded.wait(), 40)
                assert demo.newly_seeded == list(demo.regions) and HOME in demo.regions

                async def counted_and_validated() -> dict | None:
                    figures = await score(client)
                    claimed, validated = figures["claimed"], figures["validated"]
                    ok = claimed["innovations_counted"] > 0 and validated["innovations_counted"] > 0
                    return figures if ok else None

                figures = await wait_until(counted_and_validated, timeout=20, interval=0.2)
                assert float(figures["validated"]["iid"]) > 0
                seeded = await counts(client, demo.regions)
                assert all(agencies >= 3 and innovations >= 2 * agencies for agencies, innovations in seeded.values())

                # A later step changes the home region's score: a newer version, caused by a step.
                version_after_seeding = (await score(client))["version"]

                async def moved_by_a_step() -> list[ev.ScoreUpdated]:
                    updates = await scores_caused_by_steps(redis, settings)
                    return [u for u in updates if u.version > version_after_seeding]

                await wait_until(moved_by_a_step, timeout=20, interval=0.2)
                assert (await score(client))["version"] > version_after_seeding
                assert demo.steps_taken > 0

                # A person works in the home region as the README shows; the demo, which acts
                # only on its own agencies, takes its steps around that work and never in it.
                persons = await walkthrough_in_home_region(client)
                left = await as_the_person_left_it(client, persons)
                steps_before = demo.steps_taken

                async def ten_more_steps() -> bool:
                    return demo.steps_taken >= steps_before + 10

                await wait_until(ten_more_steps, timeout=20, interval=0.2)
                assert await as_the_person_left_it(client, persons) == left
                # Steps never create agencies or innovations: only the person's are new.
                seeded[HOME] = (seeded[HOME][0] + 1, seeded[HOME][1] + 1)
                assert await counts(client, demo.regions) == seeded

            async with platform_with_demo(settings) as (client, demo):
                await asyncio.wait_for(demo.seeded.wait(), 20)
                assert demo.newly_seeded == []
                assert await counts(client, demo.regions) == seeded

                async def stepping() -> bool:
                    return demo.steps_taken >= 5

                await wait_until(stepping, timeout=10)  # and keeps moving after a restart
                assert await as_the_person_left_it(client, persons) == left
        finally:
            await redis.aclose()
            await cleanup(settings)
