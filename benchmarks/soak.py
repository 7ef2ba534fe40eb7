"""Memory over a sustained rush (a script, not a test): the platform answering a steady load
for ten minutes, each process's resident memory sampled meanwhile. The goal: flat — every
process's RSS at the end within 10 % of its RSS once warmed up.

    .venv/bin/python benchmarks/soak.py [--mode serve|up] [--duration 600] [--rate 200] [--warmup 60]
        [--sample 10] [--operators 64] [--regions 8] [--clients 2]

The platform, its setup and the load are benchmarks/pipeline.py's (everything on this
machine's loopback, removed at the end): `--operators` operators in `--regions` regions, each
with a submitted innovation whose accepted evidence makes every answer move the score; the
open-loop generator offers `--rate` answers/s for `--duration` s from `--clients` client
processes, while a dashboard follows the province's live feed. Every `--sample` s the script
reads each platform process's VmRSS (/proc/<pid>/status). It prints the samples, then per
process the RSS at the end of the warm-up (`--warmup` s into the load), at the end and the
highest, and the change from the first to the last; then how many answers were offered,
accepted (2xx) and applied by scoring.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: services and tests from this checkout
    sys.path.append(str(ROOT))

from benchmarks import pipeline  # noqa: E402  (after the path is set)
from benchmarks.sse_fanout import rss_mib  # noqa: E402

GOAL_GROWTH = 0.10


async def sample_memory(pids: dict[str, int], every: float, samples: list[tuple[float, dict[str, float]]],
                        t0: float) -> None:
    while True:
        samples.append((time.monotonic() - t0, {name: rss_mib(pid) for name, pid in pids.items()}))
        await asyncio.sleep(every)


async def soak(args: argparse.Namespace, work: Path) -> bool:
    import asyncpg

    from tests.support.infra import unique_suffix

    suffix = unique_suffix()
    prefixes = {"INOVASI_STREAM_PREFIX": f"{suffix}.", "INOVASI_SCHEMA_PREFIX": f"{suffix}_"}
    children = pipeline.Children(work)
    met = False
    try:
        with pipeline.s3_server() as s3:
            pg = None
            try:
                env = pipeline.platform_env(args, s3, prefixes)
                platform = await pipeline.start_platform(args.mode, children, env, prefixes)
                operators = await pipeline.set_up_operators(platform, args.operators,
                                                            pipeline.REGIONS[: args.regions])
                print(f"[{args.mode}] platform ready, {len(operators)} operators in {args.regions} regions; "
                      f"{args.rate:g} answers/s for {args.duration:g} s; schemas and streams prefixed {suffix}",
                      flush=True)
                await asyncio.sleep(2.0)
                pg = await asyncpg.connect(args.database_url)
                specs = await pipeline.refresh_platform(platform, operators)
                host, port = pipeline._host_port(platform.urls["intake"])
                plan = pipeline.LoadPlan(host, port, args.rate, len(specs), args.duration, args.grace,
                                         stop_at_end=False, keep_records=True)
                samples: list[tuple[float, dict[str, float]]] = []
                async with pipeline.following(platform, operators[0].region):
                    sampler = asyncio.create_task(sample_memory(platform.pids, args.sample, samples,
                                                                time.monotonic()))
                    try:
                        load = await pipeline.generate(plan, specs, args.clients)
                    finally:
                        sampler.cancel()
                accepted = [r for r in load.records if 200 <= r[4] < 300 and r[5]]
                rows = await pipeline.wait_applied_ids(pg, platform.schema("scoring"), [r[5] for r in accepted],
                                                       args.drain_timeout)
                met = report(samples, args, load.offered, len(accepted), len(rows))
            finally:
                if pg is not None:
                    await pg.close()
                children.stop_all()
    finally:
        await pipeline.cleanup(args, prefixes, [])
    return met


def report(samples: list[tuple[float, dict[str, float]]], args: argparse.Namespace, offered: int, accepted: int,
           applied: int) -> bool:
    names = list(samples[0][1]) if samples else []
    print("RSS (MiB) while the load ran:")
    print("  " + "  ".join(["    s", *(f"{name:>9}" for name in names)]))
    for at, values in samples:
        print("  " + "  ".join([f"{at:5.0f}", *(f"{values[name]:9.1f}" for name in names)]))
    warm = [values for at, values in samples if at >= args.warmup]
    met = bool(warm) and accepted == offered and applied == accepted
    for name in names:
        first, last = warm[0][name] if warm else float("nan"), samples[-1][1][name]
        highest = max(values[name] for _, values in samples)
        growth = (last - first) / first if first else float("nan")
        flat = abs(growth) <= GOAL_GROWTH
        met = met and flat
        print(f"  {name}: {first:.1f} MiB after the warm-up ({args.warmup:g} s), {last:.1f} at the end, highest "
              f"{highest:.1f}; change {growth:+.1%} (goal within ±{GOAL_GROWTH:.0%}: {'met' if flat else 'not met'})")
    print(f"answers offered {offered}, accepted (2xx) {accepted}, applied by scoring {applied}")
    print(f"memory flat over {args.duration:g} s at {args.rate:g} answers/s: {'met' if met else 'not met'}")
    return met


def parse_args() -> argparse.Namespace:
    from tests.support.infra import DATABASE_URL, REDIS_URL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["serve", "up"], default="serve")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 600)")
    parser.add_argument("--rate", type=float, default=200.0, help="answers/s offered (default 200)")
    parser.add_argument("--warmup", type=float, default=60.0,
                        help="seconds into the load before the first RSS the end is compared with (default 60)")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples (default 10)")
    parser.add_argument("--operators", type=int, default=64)
    parser.add_argument("--regions", type=int, default=8, choices=range(1, len(pipeline.REGIONS) + 1),
                        metavar="1-14")
    parser.add_argument("--clients", type=int, default=2, help="open-loop client processes (default 2)")
    parser.add_argument("--grace", type=float, default=30.0)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--pg-pool-max", type=int, default=8)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()
    if args.warmup >= args.duration:
        parser.error("--warmup must be shorter than --duration")
    return args


def main() -> int:
    args = parse_args()
    print(f"soak: {os.cpu_count()} CPUs, mode {args.mode}, {args.rate:g} answers/s for {args.duration:g} s",
          flush=True)
    work = Path(tempfile.mkdtemp(prefix="inovasi-soak-"))
    try:
        met = asyncio.run(soak(args, work))
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
