"""An operator's submission travels intake → evidence → scoring → notify and reaches a
dashboard: the score from the API, the event on the SSE stream and the signed webhook all
show the same IIDs, equal to what the engine computes from the state read back from intake
and evidence."""

from __future__ import annotations

import json
import time

import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.common.methodology.catalogue import load_methodology
from services.notify.domain.signing import verify_signature
from services.scoring.domain.engine import FIGURES, compile_methodology, score_region
from services.scoring.domain.state import StoredEvidence, StoredInnovation, region_from_state
from tests.support.infra import wait_until
from tests.support.journeys import CYCLE, Journey
from tests.support.servers import listen_sse, webhook_receiver

pytestmark = pytest.mark.integration
REGION = "62.10"


async def state_read_back(journey: Journey) -> dict[str, str]:
    """The region's state as intake and evidence report it, scored by the engine."""
    client, headers = journey.client, journey.admin
    spd_response = await client.get(f"/intake/v1/cycles/{CYCLE}/regions/{REGION}/spd", headers=headers)
    spd = (await journey.check(spd_response, 200))["answers"]
    listing = await journey.check(await client.get(f"/intake/v1/cycles/{CYCLE}/innovations", headers=headers), 200)
    innovations = [
        StoredInnovation(i["id"], i["status"], i["urusan_utama"], tuple(i["urusan_lain"]), i["answers"])
        for i in listing["items"]
    ]
    evidence = []
    for params in [{"region": REGION}] + [{"innovation": i.id} for i in innovations]:
        listed = await client.get("/evidence/v1/evidence", params={"cycle": CYCLE, **params}, headers=headers)
        items = (await journey.check(listed, 200))["items"]
        evidence += [StoredEvidence(e["innovation"], e["indicator"], e["state"]) for e in items]
    levels = {a["indicator"]: a["level"] for a in spd}
    region = region_from_state(REGION, "kabupaten", "62", levels, innovations, evidence)
    score = score_region(region, compile_methodology("iid-2026"))
    return {f: str(score.figures[f].iid) for f in FIGURES}


def iids(score: dict) -> dict[str, str]:
    return {f: str(score[f]["iid"]) for f in FIGURES}


def without_ranks(score: dict) -> dict:
    """A score's JSON with the ranks left out (the REST answer shows the current ranks)."""
    return {k: ({**v, "ranks": None} if k in FIGURES else v) for k, v in score.items()}


async def published_score(settings, version: int) -> dict:
    """The data of the score.updated event of `version`, as JSON on the stream."""
    redis = Redis.from_url(settings.redis_url)
    try:
        entries = await redis.xrange(settings.stream(ev.SCORING_STREAM))
    finally:
        await redis.aclose()
    events = [json.loads(fields[ev.DATA_FIELD.encode()]) for _, fields in entries]
    [event] = [e for e in events if e["type"] == "score.updated" and e["version"] == version]
    return event["data"]


async def test_submission_reaches_score_api_sse_and_signed_webhook_with_the_same_iids(platform):
    client, settings = platform
    journey = Journey(client, REGION)
    methodology = load_methodology("iid-2026")
    mandatory = methodology.mandatory_codes("sid")

    with webhook_receiver() as receiver:
        subscription = await journey.check(await client.post(
            "/notify/v1/subscriptions",
            json={"url": receiver.url, "scope": {"region": REGION}, "kinds": ["score.updated", "evidence.rejected"]},
            headers=journey.admin), 201)
        async with listen_sse(client, f"/scoring/v1/cycles/{CYCLE}/stream?region={REGION}", journey.viewer) as feed:
            await journey.register_agency()
            # An operator creates an innovation, answers its indicators and uploads evidence.
            innovation = await journey.create_innovation("Posyandu Digital Gunung Mas")
            answered = list(mandatory) + ["sid-18", "sid-25", "sid-30"]
            for k, indicator in enumerate(answered):
                innovation = await journey.answer(innovation, indicator, 1 + k % 3)
            uploads = {indicator: await journey.upload(indicator, innovation) for indicator in answered}
            innovation = await journey.submit(innovation)
            assert innovation["status"] == "submitted"
            # The region admin answers two SPD indicators with evidence.
            await journey.set_spd("spd-01", 3)
            await journey.set_spd("spd-08", 2)
            spd_evidence = [await journey.upload("spd-01"), await journey.upload("spd-08")]
            # A verifier accepts some and rejects one.
            for item in spd_evidence + [uploads[i] for i in answered[:-2]]:
                await journey.decide(item, "accepted")
            rejected = await journey.decide(uploads[answered[-1]], "rejected", "Tangkapan layar tidak terbaca")
            assert rejected["state"] == "rejected"

            expected = await state_read_back(journey)
            assert expected["claimed"] != expected["validated"]  # pending and rejected items matter
            started = time.monotonic()

            async def api_matches():
                return iids(await journey.score()) == expected

            await wait_until(api_matches, timeout=30)

            async def sse_matches():
                if not feed.events:
                    return False
                latest = max((e.json() for e in feed.events), key=lambda e: e["version"])
                return iids(latest) == expected

            await wait_until(sse_matches, timeout=30)

            async def webhook_matches():
                scores = [w for w in receiver.received if w.headers.get("x-inovasi-kind") == "score.updated"]
                if not scores:
                    return False
                latest = max(scores, key=lambda w: w.json()["version"])
                return latest if iids(latest.json()["data"]) == expected else False

            webhook = await wait_until(webhook_matches, timeout=30)
            settled_in = time.monotonic() - started
            assert settled_in < 30
            signed = {"timestamp": webhook.headers["x-inovasi-timestamp"],
                      "signature": webhook.headers["x-inovasi-signature"]}
            assert verify_signature(subscription["secret"], webhook.body, **signed, now=time.time())
            assert not verify_signature("another-secret", webhook.body, **signed, now=time.time())
            # The rejection was alerted too, with the verifier's reason.
            async def rejection_alerted():
                return [w for w in receiver.received if w.headers.get("x-inovasi-kind") == "evidence.rejected"]

            # One score, one shape: the event's data, the REST score, the SSE message and the
            # webhook's data of the same version are the same JSON, ranks aside.
            rest = await journey.score()
            sse = max((e.json() for e in feed.events), key=lambda e: e["version"])
            assert rest["version"] == sse["version"] == webhook.json()["version"]
            published = await published_score(settings, rest["version"])
            assert without_ranks(rest) == without_ranks(sse) == without_ranks(published)
            assert sse == published and webhook.json()["data"] == published
            alert = (await wait_until(rejection_alerted, timeout=30))[0].json()
            assert alert["data"]["reason"] == "Tangkapan layar tidak terbaca"
            # The deliveries are in the log.
            log = await journey.check(await client.get("/notify/v1/deliveries", headers=journey.admin), 200)
            assert any(d["status"] == "delivered" for d in log["deliveries"])
