"""The demo acts only on what it created: its agencies (ids with the reserved prefix), their
innovations and the evidence it uploaded. Agencies and innovations people create in its
regions (the README's walkthrough registers `dinkes-<date and time>` in 62.10) are never touched."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest

from devtools.demo import DEMO_AGENCY_PREFIX, Actor, MovePlanner, RegionState, is_demo_agency, plan_demo, welcome_text
from devtools.demo import runner as demo_runner
from services.common.data.regions import load_regions
from services.common.methodology.catalogue import load_methodology
from services.common.tokens import verify_token

HOME = "62.10"
SECRET = "unit-" + "0123456789abcdef" * 4
MANDATORY = load_methodology("iid-2026").mandatory_codes("sid")
DEMO_UPLOADER = Actor("operator", HOME, "demo-dinkes").subject
PERSON_UPLOADER = "operator:62.10:dinkes"  # the default subject of a token a person issues


def innovation(innovation_id: str, agency: str, name: str, status: str, *, eligible: bool = True) -> dict[str, Any]:
    answers = {code: 1 for code in MANDATORY} | {"sid-18": 2}
    return {"id": innovation_id, "agency_id": agency, "name": name, "status": status, "version": 7,
            "answers": answers, "eligibility": {"eligible": eligible, "problems": []}}


def evidence(evidence_id: str, innovation_id: str | None, indicator: str, state: str, uploaded_by: str) -> dict:
    return {"id": evidence_id, "innovation": innovation_id, "indicator": indicator, "state": state,
            "uploaded_by": uploaded_by, "uploaded_at": "2026-03-01T08:00:00+07:00"}


def region_as_read() -> RegionState:
    """62.10 as its admin reads it: the demo's innovations, and those of a person's agency
    `dinkes` with work in every state a move looks for (pending, accepted and rejected
    evidence, answers without evidence, levels to raise, an eligible draft), plus SPD evidence
    the demo and a person uploaded."""
    innovations = [
        innovation("demo-1", "demo-dinkes", "Posyandu Digital", "submitted"),
        innovation("demo-2", "demo-disdik", "Guru Kunjung", "draft"),
        innovation("person-1", "dinkes", "Ambulans Desa", "submitted"),
        innovation("person-2", "dinkes", "Antrean Puskesmas", "draft"),
    ]
    items = [
        evidence("e-demo-pending", "demo-1", "sid-16", "pending", DEMO_UPLOADER),
        evidence("e-demo-accepted", "demo-1", "sid-17", "accepted", DEMO_UPLOADER),
        evidence("e-demo-rejected", "demo-1", "sid-32", "rejected", DEMO_UPLOADER),
        evidence("e-person-pending", "person-1", "sid-16", "pending", PERSON_UPLOADER),
        evidence("e-person-accepted", "person-1", "sid-17", "accepted", PERSON_UPLOADER),
        evidence("e-person-rejected", "person-1", "sid-32", "rejected", PERSON_UPLOADER),
        evidence("e-spd-demo", None, "spd-01", "pending", Actor("region_admin", HOME).subject),
        evidence("e-spd-person", None, "spd-03", "pending", "region_admin:62.10"),
    ]
    spd = [{"indicator": "spd-01", "level": 1, "version": 1}, {"indicator": "spd-03", "level": 2, "version": 1}]
    return RegionState(load_regions()[HOME], innovations, items, spd)


class RecordingApi:
    """Stands in for DemoApi: records what each move would send."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        async def record(*args: Any, **kwargs: Any) -> dict[str, Any]:
            self.calls.append((name, args, kwargs))
            return {"id": "new-evidence"}

        return record


def every_move(planner: MovePlanner, state: RegionState) -> list:
    kinds = (planner.verifications, planner.fixes, planner.missing_uploads, planner.draft_steps,
             planner.level_raises, planner.more_answers, planner.spd_steps, planner.rechecks)
    return [move for kind in kinds for move in kind(state)]


def mentions(value: Any, words: set[str]) -> bool:
    """Whether `value` (a call's arguments, nested) contains one of `words`."""
    if isinstance(value, dict):
        return any(mentions(v, words) for v in value.values())
    if isinstance(value, list | tuple):
        return any(mentions(v, words) for v in value)
    return str(value) in words


def test_no_move_touches_a_persons_innovation_or_evidence() -> None:
    api = RecordingApi()
    state = region_as_read()
    moves = every_move(MovePlanner(api, random.Random(3)), state)  # type: ignore[arg-type]
    for move in moves:
        asyncio.run(move.run())

    theirs = {"person-1", "person-2", "dinkes", "e-person-pending", "e-person-accepted", "e-spd-person"}
    assert [call for call in api.calls if mentions(call[1:], theirs)] == []
    assert all(move.actor.agency is None or is_demo_agency(move.actor.agency) for move in moves)
    # Not vacuous: the demo's own innovations, evidence and SPD keep moving.
    decided = {args[1] for name, args, _ in api.calls if name == "decide"}
    assert decided == {"e-demo-pending", "e-demo-accepted", "e-spd-demo"}
    assert {name for name, _, _ in api.calls} >= {"upload", "set_answer", "submit", "set_spd"}


def test_the_demo_reads_back_only_its_own_innovations_and_their_evidence() -> None:
    state = region_as_read()
    assert [i["id"] for i in state.innovations] == ["demo-1", "demo-2"]
    assert {e["id"] for e in state.evidence} == {
        "e-demo-pending", "e-demo-accepted", "e-demo-rejected", "e-spd-demo", "e-spd-person",
    }
    assert {e["id"] for e in state.to_decide("pending")} == {"e-demo-pending", "e-spd-demo"}


def test_whatever_the_draw_the_planner_chooses_among_its_own() -> None:
    api = RecordingApi()
    for seed in range(200):
        move = MovePlanner(api, random.Random(seed)).choose(region_as_read())  # type: ignore[arg-type]
        assert move is not None
        asyncio.run(move.run())
    assert not [call for call in api.calls if mentions(call[1:], {"person-1", "person-2", "e-person-pending"})]


def test_every_planned_agency_is_the_demos_and_the_printed_operator_is_a_home_agency() -> None:
    plan = plan_demo(HOME, seed=7)
    agencies = {agency.id for region in plan for agency in region.agencies}
    assert agencies and all(is_demo_agency(a) and a.startswith(DEMO_AGENCY_PREFIX) for a in agencies)
    assert all(is_demo_agency(i.agency) for region in plan for i in region.innovations)
    assert not is_demo_agency("dinkes")

    text = welcome_text("http://127.0.0.1:8000", SECRET, HOME, [HOME], 5.0)
    operator_token = re.search(r"export OPERATOR=(\S+)", text).group(1)
    operator = verify_token(SECRET, operator_token)
    assert operator.region == HOME and operator.agency in {agency.id for agency in plan[0].agencies}
    assert f"'{operator.agency}'" in text


async def test_a_region_with_only_peoples_agencies_is_seeded_and_one_with_the_demos_is_not(monkeypatch) -> None:
    plan = plan_demo(HOME, seed=7)
    existing = {HOME: [{"id": "dinkes"}], plan[1].code: [{"id": "dinkes"}, {"id": plan[1].agencies[0].id}]}
    seeded: list[str] = []

    class Api:
        stopping = asyncio.Event()

        async def agencies(self, region: str) -> list[dict[str, str]]:
            return existing.get(region, [])

    async def seed_region(_api: Any, planned: Any) -> None:
        seeded.append(planned.code)

    monkeypatch.setattr(demo_runner, "seed_region", seed_region)
    newly_seeded = await demo_runner.seed_regions(Api(), plan)  # type: ignore[arg-type]
    assert newly_seeded == [region.code for region in plan if region.code != plan[1].code]
    assert sorted(seeded) == sorted(newly_seeded)


@pytest.mark.parametrize("agency_id", ["dinkes", "bapperinda", "demo", "dinkes-demo", "xdemo-dinkes"])
def test_agency_ids_people_choose_are_not_the_demos(agency_id: str) -> None:
    assert not is_demo_agency(agency_id)
