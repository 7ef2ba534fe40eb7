"""The delivery worker's claim with a long backlog for one receiver: each receiver gets at
most its share, the others are not crowded out, the oldest due go first, and the claim reads
a few index entries per receiver — its plan has no scan of the deliveries table and sorts
only the per-receiver candidates, never the backlog (checked on EXPLAIN's JSON plan, custom
and generic, not on timings)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from services.notify.adapters import store
from tests.integration.notify.test_delivery_worker import notify_without_worker, queue, subscribe

pytestmark = pytest.mark.integration

SLOW = "http://127.0.0.1:9001"
OTHERS = ("http://127.0.0.1:9002", "http://127.0.0.1:9003", "http://localhost:9002")
BACKLOG = 2000
PER_TARGET = 4


async def _setup(client: Any, runtime: Any) -> dict[str, list[str]]:
    """Two subscriptions of the slow receiver with BACKLOG due deliveries between them (the
    oldest of all), and three other receivers with three deliveries each."""
    subscriptions: dict[str, list[str]] = {}
    slow = [await subscribe(client, f"{SLOW}/hooks/a"), await subscribe(client, f"{SLOW}/hooks/b?x=1")]
    subscriptions[SLOW] = slow
    for subscription in slow:
        await queue(runtime, subscription, BACKLOG // 2, due_seconds_ago=600)
    for target in OTHERS:
        subscriptions[target] = [await subscribe(client, f"{target}/in")]
        await queue(runtime, subscriptions[target][0], 3, due_seconds_ago=60)
    async with runtime.pool.acquire() as conn:
        await conn.execute("ANALYZE deliveries")
    return subscriptions


async def claimed(conn: Any, **kwargs: Any) -> list[store.ClaimedDelivery]:
    """One claim, rolled back (the next one sees the same deliveries)."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        return await store.claim_due(conn, lease_s=60, **kwargs)
    finally:
        await transaction.rollback()


async def test_one_claim_takes_each_receivers_share_and_the_oldest_first() -> None:
    async with notify_without_worker() as (client, runtime, _):
        await _setup(client, runtime)
        async with runtime.pool.acquire() as conn:
            # Every delivery knows its receiver, written straight into the table or not.
            targets = await conn.fetch("SELECT target, count(*) AS n FROM deliveries GROUP BY target")
            assert {row["target"]: row["n"] for row in targets} == {SLOW: BACKLOG, **{t: 3 for t in OTHERS}}

            claims = await claimed(conn, limit=20, per_target=PER_TARGET)
            assert Counter(c.target for c in claims) == {SLOW: PER_TARGET, **{t: 3 for t in OTHERS}}
            # The slow receiver's share is its oldest due deliveries (ties by id).
            oldest = await conn.fetch(
                """SELECT id FROM deliveries WHERE target = $1 AND status = 'pending'
                   ORDER BY next_attempt_at, id LIMIT $2""",
                SLOW, PER_TARGET,
            )
            assert [c.id for c in claims if c.target == SLOW] == [row["id"] for row in oldest]
            assert all(c.attempt == 1 for c in claims) and all(c.url.startswith(c.target + "/") for c in claims)

            # A small claim: oldest due first across receivers — the slow one's share, then
            # the oldest of the others.
            few = await claimed(conn, limit=PER_TARGET + 1, per_target=PER_TARGET)
            assert Counter(c.target for c in few)[SLOW] == PER_TARGET and len(few) == PER_TARGET + 1

            # A busy receiver is left out; the others still come.
            others = await claimed(conn, limit=20, per_target=PER_TARGET, skip_targets=[SLOW])
            assert Counter(c.target for c in others) == {t: 3 for t in OTHERS}
            assert await store.seconds_until_next_due(conn, [SLOW]) is not None
            assert await store.seconds_until_next_due(conn, [SLOW, *OTHERS]) is None


async def test_concurrent_claims_skip_each_others_rows_and_keep_the_limit() -> None:
    async with notify_without_worker() as (client, runtime, _):
        await _setup(client, runtime)
        async with runtime.pool.acquire() as first, runtime.pool.acquire() as second, first.transaction():
            mine = await store.claim_due(first, limit=20, lease_s=60, per_target=PER_TARGET)
            async with second.transaction():
                theirs = await store.claim_due(second, limit=20, lease_s=60, per_target=PER_TARGET)
                # The slow receiver's share is locked by the first: the second claim takes
                # nothing more of it (its share counts the rows in flight), nor any row twice.
                assert not {c.id for c in mine} & {c.id for c in theirs}
                assert Counter(c.target for c in theirs)[SLOW] == 0
            assert Counter(c.target for c in mine)[SLOW] == PER_TARGET


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def _rows_out(node: dict[str, Any]) -> float:
    return float(node["Actual Rows"]) * float(node["Actual Loops"])


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
async def test_the_claim_reads_per_receiver_index_entries_not_the_backlog(plan_cache_mode: str) -> None:
    async with notify_without_worker() as (client, runtime, _):
        await _setup(client, runtime)

        captured: dict[str, Any] = {}

        class Capture:  # claim_due's one query, as sent; no rows, so it stops there
            async def fetch(self, query: str, *args: Any) -> list[Any]:
                captured["query"], captured["args"] = query, args
                return []

        await store.claim_due(Capture(), limit=20, lease_s=60, per_target=PER_TARGET)  # type: ignore[arg-type]
        async with runtime.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute(f"SET LOCAL plan_cache_mode = {plan_cache_mode}")
                explain = await conn.prepare("EXPLAIN (ANALYZE, FORMAT JSON) " + captured["query"])
                for _ in range(6):  # past the point where a prepared statement may go generic
                    result = await explain.fetchval(*captured["args"])
            finally:
                await transaction.rollback()
        nodes = _nodes(json.loads(result)[0]["Plan"])
        receivers, candidates = 1 + len(OTHERS), PER_TARGET + 3 * len(OTHERS)

        scans = [node for node in nodes if node.get("Relation Name") == "deliveries"]
        assert scans, "the plan reads deliveries somewhere"
        shape = [(node["Node Type"], node.get("Relation Name"), _rows_out(node)) for node in nodes]
        assert not [node for node in scans if node["Node Type"] in ("Seq Scan", "Bitmap Heap Scan")], shape
        # All reads of deliveries together yield a few rows per receiver (one to find it, its
        # candidates, those again by id, the claimed ones updated), never the backlog.
        assert sum(_rows_out(node) for node in scans) <= 2 * (receivers + 1) + 3 * candidates < BACKLOG / 20
        # Sorts take the per-receiver candidates at most.
        for sort in (node for node in nodes if node["Node Type"] in ("Sort", "Incremental Sort")):
            assert sum(_rows_out(child) for child in sort.get("Plans", [])) <= receivers * PER_TARGET
        assert not [node for node in nodes if node["Node Type"] == "WindowAgg"]
