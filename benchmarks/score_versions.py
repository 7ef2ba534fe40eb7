"""How many score versions repeat the previous one under a realistic load (a script, not a test).

Most of what operators and verifiers do changes no figure of the index: a draft innovation
and its answers, an SPD answer without evidence, evidence still pending where it changes
nothing, a verdict that keeps an answer where it was. Each such event is applied by scoring
(and recorded), but must make no score version, no `score.updated` and no webhook.

Runs the four services in this process under uvicorn (as `inovasi up` does) against the
PostgreSQL and Redis of INOVASI_DATABASE_URL / INOVASI_REDIS_URL (default: the local ones)
and moto's S3 server, with its own stream and schema prefixes, and a webhook receiver
subscribed to `score.updated`. Per region, an operator creates innovations, answers every SID
indicator on the draft, submits some, uploads evidence; the region admin answers SPD
indicators with and without evidence; a verifier accepts, rejects and re-decides — all
regions at once. When scoring has caught up, it compares every `score.updated` on the
scoring stream with the previous version of its region, and counts the webhooks delivered.

Run: .venv/bin/python -m benchmarks.score_versions [--regions 4] [--innovations 6]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import cast

import asyncpg
import httpx
from redis.asyncio import Redis

from services.common import events as ev
from services.common.methodology.catalogue import load_methodology
from services.common.settings import Settings
from services.notify.settings import NotifySettings
from services.platform import SERVICES, create_platform_app
from tests.support.journeys import Journey
from tests.support.platform import cleanup, isolated_settings, token
from tests.support.s3 import moto_s3_server
from tests.support.servers import serve, webhook_receiver

REGIONS = ("62.01", "62.02", "62.03", "62.04", "62.05", "62.06", "62.07", "62.08", "62.09", "62.10")
SCORING_GROUP = "scoring"
QUIET_S = 2.0  # scoring has caught up when nothing is pending and nothing new arrives for this long


@dataclass
class Outcome:
    events_written: int
    events_applied: int
    applied_without_version: int
    versions: int
    repeated: int
    webhooks: int
    seconds: float


def figures(score: dict) -> tuple:
    """What a version is about: the three figures without their ranks (which move with
    other regions' scores and are announced by ranking.changed)."""
    return tuple(
        tuple(sorted((k, v) for k, v in score[name].items() if k != "ranks"))
        for name in ("claimed", "provisional", "validated")
    )


async def region_load(client: httpx.AsyncClient, region: str, innovations: int, rng: random.Random) -> None:
    """One region's deadline rush: every kind of write, most of which change no figure."""
    journey = Journey(client, region, agency=f"bench-{region.replace('.', '-')}")
    await journey.register_agency()
    methodology = load_methodology("iid-2026")
    sid = [i.code for i in methodology.indicators_of("sid")]
    spd = [i.code for i in methodology.indicators_of("spd")]
    for indicator in rng.sample(spd, 4):  # answered without evidence: counts nowhere yet
        await journey.set_spd(indicator, rng.randint(1, 3))
    uploads: list[dict] = []
    for n in range(innovations):
        innovation = await journey.create_innovation(f"Inovasi {region} {n + 1}")
        for indicator in sid:
            innovation = await journey.answer(innovation, indicator, rng.randint(1, 3))
        if n % 3 == 2:
            continue  # stays a draft: none of its events changes a figure
        innovation = await journey.submit(innovation)
        for indicator in rng.sample(sid, 5):
            uploads.append(await journey.upload(indicator, innovation))
    for indicator in rng.sample(spd, 2):
        uploads.append(await journey.upload(indicator))
    for item in uploads:
        first = rng.choice(["accepted", "rejected"])
        await journey.decide(item, first, "Dokumen tidak terbaca" if first == "rejected" else None)
        if rng.random() < 0.3:  # a second look: the same verdict again, or the other one
            second = rng.choice(["accepted", "rejected"])
            await journey.decide(item, second, "Dokumen tidak terbaca" if second == "rejected" else None)


async def caught_up(redis: Redis, settings: Settings, pool: asyncpg.Pool, schema: str) -> int:
    """Wait until scoring has read and acknowledged every intake and evidence event and
    nothing changes for QUIET_S; return how many events it applied."""
    last, quiet_since = -1, time.monotonic()
    while True:
        pending = 0
        for name in (ev.INTAKE_STREAM, ev.EVIDENCE_STREAM):
            for group in await redis.xinfo_groups(settings.stream(name)):
                if group["name"] in (SCORING_GROUP, SCORING_GROUP.encode()):
                    pending += int(group["pending"]) + int(group.get("lag") or 0)
        applied = await pool.fetchval(f'SELECT count(DISTINCT event_id) FROM "{schema}".applied_events')
        if pending or applied != last:
            last, quiet_since = applied, time.monotonic()
        elif time.monotonic() - quiet_since > QUIET_S:
            return int(applied)
        await asyncio.sleep(0.2)


async def run(regions: int, innovations: int, seed: int) -> Outcome:
    with moto_s3_server() as s3, webhook_receiver() as receiver:
        common = isolated_settings(
            s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
            s3_bucket="bench-evidence",
        )
        # Only notify reads the notify_* fields; the receiver listens on loopback.
        settings = NotifySettings(**common.model_dump(), notify_allow_private_targets=True)
        redis = Redis.from_url(settings.redis_url)
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            app = create_platform_app(SERVICES, settings)
            async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
                chosen = REGIONS[:regions]
                for region in chosen:
                    response = await client.post(
                        "/notify/v1/subscriptions", headers=token("region_admin", region),
                        json={"url": receiver.url, "scope": {"region": region}, "kinds": ["score.updated"]},
                    )
                    response.raise_for_status()
                started = time.perf_counter()
                rng = random.Random(seed)
                seeds = [rng.randrange(2**32) for _ in chosen]
                await asyncio.gather(*(
                    region_load(client, region, innovations, random.Random(s))
                    for region, s in zip(chosen, seeds, strict=True)
                ))
                applied = await caught_up(redis, settings, pool, settings.schema_of("scoring"))
                seconds = time.perf_counter() - started
                written = sum([await redis.xlen(settings.stream(s)) for s in (ev.INTAKE_STREAM, ev.EVIDENCE_STREAM)])
                without_version = await pool.fetchval(
                    f'SELECT count(*) FROM "{settings.schema_of("scoring")}".applied_events WHERE NOT changed'
                )
                entries = cast(list[tuple[bytes, dict[bytes, bytes]]],
                               await redis.xrange(settings.stream(ev.SCORING_STREAM)))
                updates = [ev.from_entry(fields) for _, fields in entries]
                previous: dict[str, tuple] = {}
                versions = repeated = 0
                by_region: dict[str, list[ev.ScoreUpdated]] = defaultdict(list)
                for update in updates:
                    if isinstance(update, ev.ScoreUpdated):
                        by_region[update.region].append(update)
                for region, region_updates in by_region.items():
                    for update in sorted(region_updates, key=lambda u: u.version):
                        now = figures(update.data.model_dump(mode="json"))
                        versions += 1
                        repeated += previous.get(region) == now
                        previous[region] = now
                deadline = time.monotonic() + 30  # webhooks are sent after the fact
                while len(receiver.received) < versions and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1)  # and none more than that
                return Outcome(written, applied, int(without_version), versions, repeated,
                               len(receiver.received), seconds)
        finally:
            await redis.aclose()
            await pool.close()
            await cleanup(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=4, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--innovations", type=int, default=6, help="per region")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    out = asyncio.run(run(args.regions, args.innovations, args.seed))
    share = out.repeated / out.versions if out.versions else 0.0
    print(f"load: {args.regions} regions × {args.innovations} innovations, {out.events_written} intake and "
          f"evidence events in {out.seconds:.1f} s; scoring applied {out.events_applied}")
    print(f"score versions (score.updated): {out.versions}; applied events that made none: "
          f"{out.applied_without_version} ({out.applied_without_version / max(out.events_applied, 1):.0%} "
          f"of applied events — each of them was a version before)")
    print(f"score.updated repeating the previous version's figures: {out.repeated} of {out.versions} "
          f"(share {share:.2%}); score.updated webhooks delivered: {out.webhooks}")


if __name__ == "__main__":
    main()
