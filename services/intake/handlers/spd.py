"""SPD answers: indicators answered once per region, by its region admin."""

from __future__ import annotations

from services.common.errors import Forbidden
from services.common.events import SpdAnswer, SpdAnswerSet, spd_subject
from services.common.logging import get_logger
from services.common.methodology.catalogue import Indicator
from services.common.outbox import enqueue
from services.common.principal import Principal
from services.intake.adapters import store
from services.intake.adapters.store import SpdAnswerRecord
from services.intake.dependencies import IntakeDeps
from services.intake.domain.commands import SetSpdAnswer, SpdAnswersQuery
from services.intake.handlers.shared import (
    check_region,
    check_version,
    load_cycle,
    require_region_reader,
    window_closed,
)
from services.intake.views import SpdAnswers, SpdAnswerView

log = get_logger(__name__)


def _answer_view(cycle: int, region: str, indicator: Indicator, record: SpdAnswerRecord | None) -> SpdAnswerView:
    return SpdAnswerView(
        cycle=cycle,
        region=region,
        indicator=indicator.code,
        name=indicator.name,
        mandatory=indicator.mandatory,
        level=record.level if record else None,
        version=record.version if record else 0,
        updated_at=record.updated_at if record else None,
    )


async def list_spd_answers(deps: IntakeDeps, principal: Principal, query: SpdAnswersQuery) -> SpdAnswers:
    check_region(query.region)
    require_region_reader(principal, query.region)
    async with deps.pool.acquire() as conn:
        context = await load_cycle(conn, query.cycle)
        records = await store.list_spd_answers(conn, query.cycle, query.region)
    return SpdAnswers(
        cycle=query.cycle,
        region=query.region,
        methodology=context.methodology.id,
        answers=[
            _answer_view(query.cycle, query.region, i, records.get(i.code))
            for i in context.methodology.indicators_of("spd")
        ],
    )


async def set_spd_answer(deps: IntakeDeps, principal: Principal, command: SetSpdAnswer) -> SpdAnswerView:
    cycle, region = command.cycle, command.region
    check_region(region)
    if not principal.can_answer_spd(region):
        raise Forbidden(f"only a region admin of {region} answers its SPD indicators")
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        context = await load_cycle(conn, cycle)
        indicator = context.indicator(command.indicator, "spd")
        await store.lock_spd_slot(conn, cycle, region, indicator.code)
        record = await store.get_spd_answer(conn, cycle, region, indicator.code)
        current = record.version if record else 0
        check_version(command.expected_version, current)
        if not context.cycle.window_open(now):
            raise window_closed(context.cycle, now)
        if (record.level if record else None) == command.level:
            return _answer_view(cycle, region, indicator, record)
        record = await store.save_spd_answer(
            conn, cycle, region, indicator.code, command.level, current + 1, principal.subject
        )
        event = SpdAnswerSet(
            actor=principal.subject,
            cycle=cycle,
            region=region,
            subject=spd_subject(region, indicator.code),
            version=record.version,
            data=SpdAnswer(indicator=indicator.code, level=command.level),
        )
        await enqueue(conn, event)
    deps.wake_relay()
    log.info("spd answer set", region=region, indicator=indicator.code, version=record.version)
    return _answer_view(cycle, region, indicator, record).model_copy(update={"event_id": event.event_id})
