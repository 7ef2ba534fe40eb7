"""The demo's life: its settings, seeding the planned regions, then one step every
`interval_s` seconds; started with the platform and stopped before it (`attach_demo`)."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from devtools.demo.client import Actor, DemoApi, DemoStopped, _step_id, step
from devtools.demo.data import CYCLE, DEMO_AGENCY_PREFIX, WELCOME_OPERATOR_AGENCY, is_demo_agency
from devtools.demo.files import evidence_for
from devtools.demo.moves import MovePlanner, read_region
from devtools.demo.planner import PlannedInnovation, PlannedRegion, Verdict, demo_regions, plan_demo
from services.common.data.regions import RegionInfo, load_regions
from services.common.logging import get_logger
from services.common.tokens import issue_token

log = get_logger("devtools.demo")

STOP_GRACE_S = 5.0


class DemoSettings(BaseSettings):
    """The demo's own settings (prefix ``INOVASI_DEMO_``)."""

    model_config = SettingsConfigDict(env_prefix="INOVASI_DEMO_", extra="ignore")

    interval_s: float = Field(5.0, gt=0, description="seconds between two steps of the demo")
    seed: int = Field(2026, description="same seed, same demo data and the same choices")


# =========================================================================================
# Seeding
# =========================================================================================


async def seed_regions(api: DemoApi, plan: Sequence[PlannedRegion]) -> list[str]:
    """Seed every planned region that has none of the demo's agencies yet (concurrently: the
    regions are independent); the codes of those seeded now. Agencies people registered do
    not count. A region that fails (after its requests' retries) is logged and skipped."""

    async def one(planned: PlannedRegion) -> str | None:
        with step(f"demo-seed-{planned.code}"):
            try:
                if any(is_demo_agency(agency["id"]) for agency in await api.agencies(planned.code)):
                    log.info("demo region already has the demo's agencies: not seeded again", region=planned.code)
                    return None
                await seed_region(api, planned)
                return planned.code
            except DemoStopped:
                return None  # the other regions stop at their next request too
            except Exception:
                log.exception("demo seeding of a region failed; the demo moves on", region=planned.code)
                return None

    seeded = await asyncio.gather(*(one(p) for p in plan))
    if api.stopping.is_set():
        raise DemoStopped
    return [code for code in seeded if code is not None]


async def seed_region(api: DemoApi, planned: PlannedRegion) -> None:
    region = planned.code
    for agency in planned.agencies:
        await api.register_agency(region, agency)
    await seed_spd(api, planned)
    decisions: list[tuple[str, Verdict]] = []
    for innovation in planned.innovations:
        decisions += await seed_innovation(api, planned.info, innovation)
    # The verifier works after the operators, as in a real cycle.
    for evidence_id, verdict in decisions:
        await api.decide(region, evidence_id, verdict)
    log.info("demo region seeded", region=region, name=planned.info.name, agencies=len(planned.agencies),
             innovations=len(planned.innovations), submitted=sum(i.submit for i in planned.innovations),
             verified=len(decisions))


async def seed_spd(api: DemoApi, planned: PlannedRegion) -> None:
    region = planned.code
    versions = {a["indicator"]: a["version"] for a in await api.spd_answers(region)}
    for indicator, level in planned.spd_answers.items():
        await api.set_spd(region, indicator, level, versions[indicator])
    admin = Actor("region_admin", region)
    for indicator, verdict in planned.spd_evidence.items():
        upload = evidence_for(indicator, region=planned.info, subject=planned.info.name)
        item = await api.upload(admin, indicator, upload, region=region)
        if verdict is not None:
            await api.decide(region, item["id"], verdict)


async def seed_innovation(api: DemoApi, region: RegionInfo, planned: PlannedInnovation) -> list[tuple[str, Verdict]]:
    """Create, answer, upload and (if planned) submit one innovation; the verifier's planned
    decisions on its evidence, for after all operators are done."""
    operator = Actor("operator", region.code, planned.agency)
    innovation = await api.create_innovation(operator, planned.profile, planned.key)
    for indicator, level in planned.answers.items():
        innovation = await api.set_answer(operator, innovation, indicator, level)
    decisions = []
    for indicator, verdict in planned.evidence.items():
        upload = evidence_for(indicator, region=region, subject=planned.profile["name"])
        item = await api.upload(operator, indicator, upload, innovation=innovation)
        if verdict is not None:
            decisions.append((item["id"], verdict))
    if planned.submit:
        await api.submit(operator, innovation)
    return decisions


# =========================================================================================
# The demo's life: start with the platform, seed, step, stop with the platform
# =========================================================================================


class Demo:
    """The background task of `inovasi up --demo`. `seeded` is set once the seeding phase is
    over (it seeded `newly_seeded`, found the regions seeded, or was interrupted by
    shutdown); `steps_taken` counts the steps taken since."""

    def __init__(self, app: Any, *, base_url: str, secret: str, region: str, settings: DemoSettings) -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.home = region
        self.settings = settings
        self.regions = demo_regions(region)
        self.seeded = asyncio.Event()
        self.newly_seeded: list[str] = []
        self.steps_taken = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random(settings.seed)
        self._regions_info = {code: load_regions()[code] for code in self.regions}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inovasi-demo")

    async def stop(self) -> None:
        """Let the current request finish (the demo stops between requests), then cancel if
        it takes longer than STOP_GRACE_S."""
        self._stopping.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE_S)
        if not done:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        # In-process transport: the demo's requests go through every route, token check and
        # validation of the mounted services, but need no socket, so they work before uvicorn
        # listens and whatever --host it binds.
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=self.base_url, timeout=60) as client:
            api = DemoApi(client, self.secret, self._stopping)
            try:
                await self._seed(api)
                await self._keep_moving(api)
            except DemoStopped:
                log.info("demo stopped")
            except Exception:  # never let the demo take the server down
                log.exception("demo failed and stopped; the services keep running")

    async def _seed(self, api: DemoApi) -> None:
        try:
            self.newly_seeded = await seed_regions(api, plan_demo(self.home, self.settings.seed))
        finally:
            self.seeded.set()
        print(welcome_text(self.base_url, self.secret, self.home, self.newly_seeded, self.settings.interval_s),
              file=sys.stderr, flush=True)

    async def _keep_moving(self, api: DemoApi) -> None:
        planner = MovePlanner(api, self._rng)
        number = 0
        while True:
            await api.pause(self.settings.interval_s)
            number += 1
            with step(f"demo-step-{number}"):
                try:
                    if await self._take_one_step(api, planner):
                        self.steps_taken += 1
                except DemoStopped:
                    raise
                except Exception as exc:  # a refused or failed step is logged; the next one comes
                    log.warning("demo step failed", step=number, error=str(exc)[:500])

    async def _take_one_step(self, api: DemoApi, planner: MovePlanner) -> bool:
        """Draw a region (the home region twice as often as a neighbour) and take one step
        there; another region if nothing is left to do in it."""
        order = self._regions_by_draw()
        for code in order:
            state = await read_region(api, self._regions_info[code])
            move = planner.choose(state)
            if move is None:
                continue
            score = await api.score(code)
            await move.run()
            validated, claimed = score["validated"], score["claimed"]
            rank = validated["ranks"]["type"]
            log.info(
                f"demo: {move.actor} of {code} {move.summary}",
                region=code, actor=str(move.actor), step=_step_id.get(),
                # The region's standing as the step was taken; its effect shows in the next line.
                claimed_iid=claimed["iid"], validated_iid=validated["iid"], category=validated["category"],
                rank=f"{rank['position']}/{rank['of']} {state.info.type}",
            )
            return True
        log.info("demo: nothing left to do in any demo region")
        return False

    def _regions_by_draw(self) -> list[str]:
        weights = {code: 2.0 if code == self.home else 1.0 for code in self.regions}
        first = self._rng.choices(list(weights), weights=list(weights.values()))[0]
        return [first] + [code for code in self.regions if code != first]


def welcome_text(base_url: str, secret: str, region: str, newly_seeded: Sequence[str], interval_s: float) -> str:
    """Tokens for the home region's people and requests to try, printed once seeding is over."""
    home = WELCOME_OPERATOR_AGENCY
    tokens = {
        "ADMIN": issue_token(secret, "region_admin", region),
        "VERIFIER": issue_token(secret, "verifier", region),
        "OPERATOR": issue_token(secret, "operator", region, home),
        "VIEWER": issue_token(secret, "viewer", region),
    }
    seeded = f"seeded {', '.join(newly_seeded)}" if newly_seeded else "found its regions already seeded"
    info = load_regions()[region]

    def curl(token: str, path: str, flags: str = "-s") -> str:
        return f"  curl {flags} -H \"Authorization: Bearer ${token}\" '{base_url}{path}'"

    # A kabupaten or kota is ranked within its province too; provinces only among themselves.
    ranking = f"type={info.type}" + (f"&province={info.province_code}" if info.type != "provinsi" else "")
    lines = [
        "",
        f"inovasi demo: {seeded}; one step every {interval_s:g} s from now on.",
        f"It acts only on its own agencies (ids starting with '{DEMO_AGENCY_PREFIX}') and their innovations.",
        f"Log in at {base_url}/login with the demo accounts printed above (kept in .inovasi/demo-accounts.json).",
        f"Tokens for region {region} (12 h; the operator is of the demo's agency '{home}'):",
        "",
        *(f"  export {name}={value}" for name, value in tokens.items()),
        "",
        "Try:",
        curl("VIEWER", f"/scoring/v1/cycles/{CYCLE}/regions/{region}/score"),
        curl("VIEWER", f"/scoring/v1/cycles/{CYCLE}/rankings?{ranking}"),
        curl("VIEWER", f"/scoring/v1/cycles/{CYCLE}/stream?region={region}", flags="-N"),
        curl("ADMIN", f"/intake/v1/cycles/{CYCLE}/regions/{region}/agencies/status"),
        curl("VERIFIER", f"/evidence/v1/evidence?cycle={CYCLE}&region={region}&state=pending"),
        curl("OPERATOR", f"/intake/v1/cycles/{CYCLE}/innovations"),
        "",
    ]
    return "\n".join(lines)


def attach_demo(app: Any, *, base_url: str, secret: str, region: str, settings: DemoSettings | None = None) -> Demo:
    """Run the demo alongside `app` (the platform app of `create_platform_app`): it starts
    once the services are up and stops before they stop. Raises ValueError for a region that
    does not exist."""
    demo = Demo(app, base_url=base_url, secret=secret, region=region, settings=settings or DemoSettings())
    services_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan_with_demo(platform: Any) -> AsyncIterator[Any]:
        async with services_lifespan(platform) as state:
            demo.start()
            try:
                yield state
            finally:
                await demo.stop()  # before the services stop: no step runs against closed pools

    app.router.lifespan_context = lifespan_with_demo
    app.state.demo = demo
    return demo
