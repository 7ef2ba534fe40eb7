"""Screenshots of the five pages for the docs, and the dashboard's figures of speed and weight.

    .venv/bin/python -m devtools.screenshots [--out docs/screenshots] [--region 62.10]

Starts the platform as `inovasi up --demo` does (the four APIs and the web app on a free
loopback port, the demo seeding its regions), on the PostgreSQL, Redis and S3 that
`inovasi up` would choose (configured, local, else embedded) but under schema and stream
prefixes of its own, removed afterwards: a `./dev run` beside it is not touched. It logs in
as each role through the login page in Debian's Chromium (Playwright, `--chromium`; never a
downloaded browser; the `test` extra installs Playwright) and saves

    Dasbor daerah (region admin)   dasbor-daerah-{desktop,phone}.png
    Inovasi saya (operator)        inovasi-saya-{desktop,phone}.png
    Verifikasi (verifier)          verifikasi-{desktop,phone}.png
    Peringkat (national)           peringkat-{desktop,phone}.png
    Pengaturan (region admin)      pengaturan-{desktop,phone}.png

at 1280×800 and 360×740 (the whole page, at most `--max-height` CSS pixels tall), as PNGs
reduced to a 256-colour palette. Then it loads the dashboard `--runs` times, each in a new
browser (cold cache), and prints the medians: first contentful paint (Performance API), the
time until the first message of the live feed (SSE) has updated a figure, and the bytes
transferred for the page (Chrome's encoded lengths, headers included; the live feed is
counted separately, it stays open).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
CYCLE = 2026


@dataclass(frozen=True)
class Shot:
    slug: str  # file name stem
    title: str  # the page's name in the menu
    role: str
    path: str  # {region} is the home region


SHOTS = (
    Shot("dasbor-daerah", "Dasbor daerah", "region_admin", "/daerah/{region}"),
    Shot("inovasi-saya", "Inovasi saya", "operator", "/inovasi"),
    Shot("verifikasi", "Verifikasi", "verifier", "/verifikasi"),
    Shot("peringkat", "Peringkat", "national", "/peringkat"),
    Shot("pengaturan", "Pengaturan", "region_admin", "/pengaturan"),
)

# Recorded in the page before its own scripts run (an init script: not subject to the page's
# Content-Security-Policy), in ms since the navigation started (performance.now()): when the
# live feed's connection opened, when its first message reached the page's handler, when
# that message had been applied to the score section (the time line under the figures is
# rewritten by every score message), and when a figure's IID first changed.
PROBE = """
(() => {
  const probe = window.__probe = {open: null, message: null, applied: null, figure: null};
  const now = () => performance.now();
  const first = (name) => { if (probe[name] === null) probe[name] = now(); };
  const wrap = (listener, name) => {
    if (typeof listener !== "function" && !(listener && listener.handleEvent)) return listener;
    return function (event) {
      first(name);
      return typeof listener === "function" ? listener.call(this, event) : listener.handleEvent(event);
    };
  };
  if (window.EventSource) {
    const proto = window.EventSource.prototype;
    const add = proto.addEventListener;
    proto.addEventListener = function (type, listener, options) {
      const name = type === "open" ? "open" : type === "error" ? null : "message";
      return add.call(this, type, name ? wrap(listener, name) : listener, options);
    };
    const descriptor = Object.getOwnPropertyDescriptor(proto, "onmessage");
    if (descriptor && descriptor.set) {
      Object.defineProperty(proto, "onmessage", {
        configurable: true, get: descriptor.get,
        set(listener) { descriptor.set.call(this, wrap(listener, "message")); },
      });
    }
  }
  const observe = (selector, name) => {
    const observer = new MutationObserver(() => first(name));
    document.querySelectorAll(selector).forEach((el) => observer.observe(
      el, {childList: true, characterData: true, subtree: true}));
  };
  document.addEventListener("DOMContentLoaded", () => {
    observe("[data-live-time]", "applied");
    observe("[data-figure]", "figure");
  });
})();
"""


@dataclass
class Measurement:
    first_paint_ms: float | None = None
    first_contentful_paint_ms: float | None = None
    open_ms: float | None = None
    message_ms: float | None = None
    applied_ms: float | None = None
    figure_changed_ms: float | None = None
    page_bytes: int = 0
    feed_bytes: int = 0
    requests: dict[str, int] = field(default_factory=dict)


# --- the platform -------------------------------------------------------------------------


@asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited during start-up")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        begin_shutdown = getattr(app.state, "begin_shutdown", None)
        if begin_shutdown is not None:
            begin_shutdown()  # the live feeds end, so the server can stop
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def remove_prefixes(settings: Any) -> None:
    """Drop the run's schemas and stream keys."""
    import asyncpg
    from redis.asyncio import Redis

    from services.platform import APPS

    redis = Redis.from_url(settings.redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{settings.stream_prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
    conn = await asyncpg.connect(settings.database_url)
    try:
        for service in APPS:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.schema_of(service)}" CASCADE')
    finally:
        await conn.close()


async def settled_score(client: httpx.AsyncClient, region: str, token: str, quiet_s: float = 3.0,
                        limit_s: float = 300.0) -> dict[str, Any]:
    """The region's score once its version has not moved for `quiet_s` (the demo's seeding
    has reached the scores)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + limit_s
    last: dict[str, Any] | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        response = await client.get(f"/scoring/v1/cycles/{CYCLE}/regions/{region}/score", headers=headers)
        score = response.json() if response.status_code == 200 else None
        if score is not None and score.get("version", 0) > 0:
            if last is None or score["version"] != last["version"]:
                last, since = score, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return score
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the score of {region} did not settle within {limit_s:.0f} s")


# --- the browser --------------------------------------------------------------------------


def launch_args() -> list[str]:
    return ["--no-sandbox"] if os.geteuid() == 0 else []


async def logged_in(browser: Any, url: str, username: str, password: str, viewport: dict[str, int]) -> Any:
    """A new context (cold cache) whose page has logged in through the login form."""
    context = await browser.new_context(base_url=url, viewport=viewport, locale="id-ID", timezone_id="Asia/Jakarta",
                                        device_scale_factor=1)
    page = await context.new_page()
    await page.goto("/login")
    await page.locator('input[name="username"]').fill(username)
    await page.locator('input[name="password"]').fill(password)
    async with page.expect_navigation():
        await page.locator('form[action="/login"] [type="submit"]').click()
    if "/login" in page.url:
        raise RuntimeError(f"{username} could not log in: {await page.locator('main').inner_text()}")
    return context, page


def small_png(data: bytes) -> bytes:
    """The screenshot as a 256-colour palette PNG (a text page loses nothing visible)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


async def settle(page: Any) -> None:
    """Wait until the page has loaded and its live data (if any) has arrived."""
    await page.wait_for_load_state("load")
    with suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=3_000)  # a live feed keeps it busy
    await page.evaluate("document.fonts.ready.then(() => true)")
    await page.wait_for_timeout(500)


async def screenshot(page: Any, path: Path, max_height: int) -> int:
    height = await page.evaluate("document.documentElement.scrollHeight")
    width = page.viewport_size["width"]
    clip = {"x": 0, "y": 0, "width": width, "height": min(height, max_height)}
    data = await page.screenshot(full_page=True, clip=clip, animations="disabled", caret="hide")
    png = small_png(data)
    path.write_bytes(png)
    return len(png)


async def take_screenshots(browser: Any, url: str, region: str, accounts: dict[str, tuple[str, str]],
                           out: Path, max_height: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        username, password = accounts[shot.role]
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context, page = await logged_in(browser, url, username, password, viewport)
            try:
                response = await page.goto(shot.path.format(region=region))
                if response is None or response.status != 200:
                    raise RuntimeError(f"{shot.title}: {shot.path} answered {response and response.status}")
                await settle(page)
                size = await screenshot(page, out / f"{shot.slug}-{label}.png", max_height)
                print(f"  {shot.title:<14} {label:<7} {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}"
                      f"/{shot.slug}-{label}.png  {size / 1024:.0f} KiB", file=sys.stderr)
            finally:
                await context.close()


async def measure_dashboard(browser: Any, url: str, region: str, account: tuple[str, str],
                            figure_wait_s: float = 0.0) -> Measurement:
    """One cold load of the dashboard, logged in already (the login page's own load is not
    counted): paint times, live data, bytes."""
    context, page = await logged_in(browser, url, *account, DESKTOP)
    try:
        await context.add_init_script(PROBE)
        # A fresh page of the same context keeps the session but has an empty memory cache; the
        # HTTP cache is emptied through the DevTools protocol.
        await page.close()
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.clearBrowserCache")
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        result = Measurement()
        urls: dict[str, str] = {}
        types: dict[str, str] = {}
        received: dict[str, int] = {}

        def on_response(event: dict[str, Any]) -> None:
            urls[event["requestId"]] = event["response"]["url"]
            types[event["requestId"]] = event["response"].get("mimeType", "")

        def on_data(event: dict[str, Any]) -> None:
            received[event["requestId"]] = received.get(event["requestId"], 0) + event.get("encodedDataLength", 0)

        def on_finished(event: dict[str, Any]) -> None:
            received[event["requestId"]] = int(event["encodedDataLength"])  # the whole, headers included

        cdp.on("Network.responseReceived", on_response)
        cdp.on("Network.dataReceived", on_data)
        cdp.on("Network.loadingFinished", on_finished)
        response = await page.goto(f"/daerah/{region}", wait_until="load")
        if response is None or response.status != 200:
            raise RuntimeError(f"the dashboard answered {response and response.status}")
        with suppress(Exception):
            await page.wait_for_function("window.__probe.applied !== null", timeout=10_000)
        if figure_wait_s > 0:  # a figure changes at a demo step that concerns the region
            with suppress(Exception):
                await page.wait_for_function("window.__probe.figure !== null", timeout=figure_wait_s * 1000)
        await page.wait_for_timeout(300)
        paints = await page.evaluate(
            "Object.fromEntries(performance.getEntriesByType('paint').map(p => [p.name, p.startTime]))")
        probe = await page.evaluate("window.__probe")
        result.first_paint_ms = paints.get("first-paint")
        result.first_contentful_paint_ms = paints.get("first-contentful-paint")
        result.open_ms = probe["open"]
        result.message_ms = probe["message"]
        result.applied_ms = probe["applied"]
        result.figure_changed_ms = probe["figure"]
        for request_id, size in received.items():
            if "event-stream" in types.get(request_id, ""):
                result.feed_bytes += size
            else:
                result.page_bytes += size
                name = httpx.URL(urls.get(request_id, "?")).path
                result.requests[name] = result.requests.get(name, 0) + size
        return result
    finally:
        await context.close()


def median(values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    return f"{statistics.median(known):.0f} ms (min {min(known):.0f}, max {max(known):.0f}, {len(known)} runs)"


# --- the run ------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    from devtools.demo import DemoSettings, attach_demo
    from devtools.demo.accounts import ensure_demo_accounts
    from devtools.embedded import EmbeddedServers, free_port
    from services.common.logging import configure_logging
    from services.common.tokens import issue_token
    from services.platform import APPS, create_platform_app
    from services.web.settings import WebSettings

    configure_logging("WARNING", json=False, service="screenshots")
    secret = secrets.token_hex(32)
    suffix = f"shots{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="inovasi-screenshots-") as data_dir, \
            EmbeddedServers.from_environment(Path(data_dir)) as servers:
        endpoints = await asyncio.to_thread(servers.start)
        for choice in servers.choices:
            print(f"  {choice}", file=sys.stderr)
        settings = WebSettings(
            database_url=endpoints.database_url, redis_url=endpoints.redis_url, s3_endpoint=endpoints.s3_endpoint,
            s3_access_key=endpoints.s3_access_key, s3_secret_key=SecretStr(endpoints.s3_secret_key),
            s3_secure=endpoints.s3_secure, s3_bucket=f"{suffix}-evidence", auth_secret=SecretStr(secret),
            schema_prefix=f"{suffix}_", stream_prefix=f"{suffix}.", log_level="WARNING",
            web_login_address_limit=10_000,
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        app = create_platform_app(APPS, settings)
        demo = attach_demo(app, base_url=url, secret=secret, region=args.region,
                           settings=DemoSettings(interval_s=args.interval, seed=args.seed))
        try:
            demo_accounts = await ensure_demo_accounts(settings, args.region, Path(data_dir))
            accounts: dict[str, tuple[str, str]] = {a.role: (a.username, a.password) for a in demo_accounts}
            async with serve(app, port), httpx.AsyncClient(base_url=url, timeout=30) as client:
                started = time.monotonic()
                await asyncio.wait_for(demo.seeded.wait(), 600)
                score = await settled_score(client, args.region, issue_token(secret, "viewer", args.region))
                print(f"demo seeded in {time.monotonic() - started:.0f} s; {args.region}: IID "
                      + ", ".join(f"{name} {score[name]['iid']}" for name in ("claimed", "provisional", "validated")),
                      file=sys.stderr)
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(executable_path=args.chromium, args=launch_args())
                    try:
                        if not args.no_screenshots:
                            await take_screenshots(browser, url, args.region, accounts, args.out, args.max_height)
                        runs = [await measure_dashboard(browser, url, args.region, accounts["region_admin"],
                                                        args.figure_wait)
                                for _ in range(args.runs)]
                    finally:
                        await browser.close()
        finally:
            await remove_prefixes(settings)
    last = runs[-1]
    print(f"\nDashboard /daerah/{args.region} on the demo, cold cache, {args.runs} loads, medians:")
    print(f"  first paint               {median([r.first_paint_ms for r in runs])}")
    print(f"  first contentful paint    {median([r.first_contentful_paint_ms for r in runs])}")
    print(f"  live feed open            {median([r.open_ms for r in runs])}")
    print(f"  first live message        {median([r.message_ms for r in runs])}")
    print(f"  live data on the page     {median([r.applied_ms for r in runs])}")
    if args.figure_wait > 0:
        print(f"  first figure change       {median([r.figure_changed_ms for r in runs])}  (waited up to "
              f"{args.figure_wait:g} s; the demo steps every {args.interval:g} s, in one of its regions)")
    weights = [r.page_bytes for r in runs]
    print(f"  page weight               {statistics.median(weights) / 1024:.1f} KiB transferred "
          f"({len(last.requests)} requests: "
          + ", ".join(f"{name} {size / 1024:.1f} KiB" for name, size in sorted(last.requests.items())) + ")")
    print(f"  live feed until measured  {statistics.median([r.feed_bytes for r in runs]) / 1024:.1f} KiB")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    parser.add_argument("--region", default="62.10", help="the demo's home region")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable (never downloaded)")
    parser.add_argument("--runs", type=int, default=5, help="cold loads of the dashboard to measure")
    parser.add_argument("--max-height", type=int, default=2400, help="tallest screenshot, CSS pixels")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between the demo's steps")
    parser.add_argument("--seed", type=int, default=2026, help="the demo's seed")
    parser.add_argument("--figure-wait", type=float, default=0.0,
                        help="also wait up to this many seconds per load for a figure to change (a demo step)")
    parser.add_argument("--no-screenshots", action="store_true", help="only measure")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"{args.chromium} is missing: apt-get install chromium (no browser is downloaded)", file=sys.stderr)
        return 1
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
