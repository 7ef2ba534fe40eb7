"""How long from a verifier's accepted evidence decision to the score update on the live
feed (a script, not a test).

Runs the four services in this process under uvicorn (as `inovasi up` does) against the
PostgreSQL and Redis of INOVASI_DATABASE_URL / INOVASI_REDIS_URL (default: the local ones)
and moto's S3 server, with its own stream and schema prefixes. An operator uploads evidence
for 100 answers; a dashboard listens on the SSE stream; a verifier accepts the items one at a
time, and for each the time from sending the decision to receiving the score.updated it
caused is measured.

Run: .venv/bin/python -m benchmarks.decision_to_sse [--decisions 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from services.common.methodology.catalogue import load_methodology
from services.platform import SERVICES, create_platform_app
from tests.support.journeys import CYCLE, Journey
from tests.support.platform import cleanup, isolated_settings
from tests.support.s3 import moto_s3_server
from tests.support.servers import listen_sse, serve

REGION = "62.10"


async def run(decisions: int) -> list[float]:
    with moto_s3_server() as s3:
        settings = isolated_settings(
            s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
            s3_bucket="bench-evidence", consumer_block_ms=1000, outbox_poll_s=1.0,
        )
        try:
            app = create_platform_app(SERVICES, settings)
            async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
                journey = Journey(client, REGION)
                await journey.register_agency()
                sid = [i.code for i in load_methodology("iid-2026").indicators_of("sid")]
                uploads: list[dict] = []
                while len(uploads) < decisions:
                    innovation = await journey.create_innovation(f"Inovasi {len(uploads) // len(sid) + 1}")
                    for indicator in sid:
                        innovation = await journey.answer(innovation, indicator, 2)
                    innovation = await journey.submit(innovation)
                    for indicator in sid[: decisions - len(uploads)]:
                        uploads.append(await journey.upload(indicator, innovation))
                await asyncio.sleep(2)  # let the uploads' own score updates pass
                url = f"/scoring/v1/cycles/{CYCLE}/stream?region={REGION}"
                validated = (await journey.score())["validated"]["iid"]
                async with listen_sse(client, url, journey.viewer) as feed:
                    latencies = []
                    for item in uploads:
                        seen = len(feed.events)
                        started = time.perf_counter()
                        await journey.decide(item, "accepted")
                        # Accepting an answer of a submitted innovation raises the validated
                        # IID: the first update showing a new value is the one it caused.
                        while not any(e.json()["validated"]["iid"] != validated for e in feed.events[seen:]):
                            await asyncio.sleep(0.001)
                        latencies.append(time.perf_counter() - started)
                        validated = feed.events[-1].json()["validated"]["iid"]
                    return latencies
        finally:
            await cleanup(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=100)
    args = parser.parse_args()
    latencies = sorted(asyncio.run(run(args.decisions)))
    ms = [x * 1000 for x in latencies]
    print(
        f"accepted decision → SSE score update over {len(ms)} decisions: median {statistics.median(ms):.0f} ms, "
        f"p90 {ms[int(len(ms) * 0.9) - 1]:.0f} ms, worst {ms[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
