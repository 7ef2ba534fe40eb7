"""Innovation profiles and their SID answers: create, read, list, edit, submit, withdraw.

Each write runs in one transaction that stores the new state and enqueues its event
(outbox), then wakes the relay after commit: a success means both are committed. Every
refusal is raised before anything is written, so a refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.common.errors import Conflict, DomainError, Forbidden, InvalidInput, Unavailable
from services.common.events import (
    InnovationCreated,
    InnovationState,
    InnovationSubmitted,
    InnovationUpdated,
    InnovationWithdrawn,
)
from services.common.ids import uuid7
from services.common.logging import get_logger
from services.common.outbox import enqueue
from services.common.principal import Principal
from services.common.tokens import UploadGrant
from services.intake.adapters import store
from services.intake.adapters.store import StoredResponse
from services.intake.dependencies import IntakeDeps
from services.intake.domain.commands import (
    ChangeStatus,
    CreateInnovation,
    InnovationRef,
    ListInnovations,
    SetSidAnswer,
    UpdateProfile,
)
from services.intake.domain.eligibility import SUBMISSION_WINDOW, check_eligibility
from services.intake.domain.innovation import Innovation, TransitionError, new_innovation
from services.intake.handlers.shared import (
    CycleContext,
    Loaded,
    check_version,
    load_cycle,
    load_cycle_and_innovation,
    not_eligible,
    readable,
    readable_region,
    window_closed,
    writable,
)
from services.intake.views import InnovationPage, InnovationView, innovation_view

log = get_logger(__name__)

InnovationEvent = InnovationCreated | InnovationUpdated | InnovationSubmitted | InnovationWithdrawn


def _view(deps: IntakeDeps, innovation: Innovation, context: CycleContext, now: datetime) -> InnovationView:
    failures = check_eligibility(innovation.profile, innovation.answers, context.cycle, context.mandatory_sid, now)
    return innovation_view(innovation, failures, _grant(deps, innovation))


def _grant(deps: IntakeDeps, innovation: Innovation) -> str:
    grant = UploadGrant(innovation.id, innovation.cycle, innovation.region, innovation.agency_id)
    return deps.grants.current(grant, now=deps.clock().timestamp())


def _event(event_class: type[InnovationEvent], innovation: Innovation, principal: Principal) -> InnovationEvent:
    return event_class(
        actor=principal.subject,
        cycle=innovation.cycle,
        region=innovation.region,
        subject=innovation.id,
        version=innovation.version,
        data=InnovationState(
            id=innovation.id,
            agency_id=innovation.agency_id,
            name=innovation.profile.name,
            status=innovation.status,
            urusan_utama=innovation.profile.urusan_utama,
            urusan_lain=list(innovation.profile.urusan_lain),
            answers=dict(innovation.answers),
        ),
    )


# --- create --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    """A created innovation; `replayed` when an earlier request with the same
    Idempotency-Key created it (and this is its answer again)."""

    innovation: InnovationView
    replayed: bool


class _LostIdempotencyRace(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


def _replay(deps: IntakeDeps, stored: StoredResponse | None, request_hash: str) -> Created:
    """The first answer again, with a fresh upload grant (the stored one may have expired)."""
    if stored is None:  # the winner's row is gone (purged): cannot happen within a request
        raise RuntimeError("an Idempotency-Key race was lost to a request that left no response")
    if stored.request_hash != request_hash:
        raise InvalidInput.at(
            "header.Idempotency-Key",
            "this key was already used with a different request body; use a new key for a new innovation",
        )
    first = stored.response
    grant = UploadGrant(first["id"], first["cycle"], first["region"], first["agency_id"])
    fresh = deps.grants.issue(grant, now=deps.clock().timestamp())
    return Created(InnovationView.model_validate({**first, "upload_grant": fresh}), replayed=True)


async def create_innovation(deps: IntakeDeps, principal: Principal, command: CreateInnovation) -> Created:
    if principal.role != "operator" or principal.agency is None:
        raise Forbidden("only an operator creates innovations")
    agency, region = principal.agency, principal.home_region
    scope = f"create-innovation:{command.cycle}:{region}:{agency}:{principal.subject}"
    key = command.idempotency_key
    now = deps.clock()
    try:
        async with deps.pool.acquire() as conn, conn.transaction():
            context = await load_cycle(conn, command.cycle)
            if key is not None and (stored := await store.find_idempotent(conn, scope, key)) is not None:
                return _replay(deps, stored, command.request_hash)
            if not await store.agency_exists(conn, region, agency):
                raise Forbidden(
                    f"agency {agency!r} is not registered in region {region}; "
                    f"its region admin registers it at POST /v1/regions/{region}/agencies"
                )
            if not context.cycle.window_open(now):
                raise window_closed(context.cycle, now)
            innovation = new_innovation(str(uuid7()), command.cycle, region, agency, command.profile)
            saved = await store.insert_innovation(conn, innovation, principal.subject)
            event = _event(InnovationCreated, saved, principal)
            await enqueue(conn, event)
            view = _view(deps, saved, context, now).model_copy(update={"event_id": event.event_id})
            if key is not None and not await store.remember_idempotent(
                conn, scope, key, command.request_hash, 201, view.model_dump(mode="json")
            ):
                raise _LostIdempotencyRace
    except _LostIdempotencyRace:  # rolled back: answer as the winner did
        async with deps.pool.acquire() as conn:
            return _replay(deps, await store.find_idempotent(conn, scope, key or ""), command.request_hash)
    deps.wake_relay()
    log.info("innovation created", innovation=saved.id, agency=saved.agency_id)
    return Created(view, replayed=False)


# --- read ----------------------------------------------------------------------------------


async def get_innovation(deps: IntakeDeps, principal: Principal, ref: InnovationRef) -> InnovationView:
    async with deps.pool.acquire() as conn:
        loaded = await load_cycle_and_innovation(conn, ref.cycle, ref.innovation_id)
    innovation = readable(principal, loaded.innovation, ref.innovation_id)
    return _view(deps, innovation, loaded.context, deps.clock())


async def list_innovations(deps: IntakeDeps, principal: Principal, query: ListInnovations) -> InnovationPage:
    """The innovations of a region the caller reads (`region=`, by default its own); an
    operator sees only its agency's."""
    region = readable_region(principal, query.region)
    agency = query.agency
    if principal.role == "operator":
        if agency is not None and agency != principal.agency:
            raise Forbidden("an operator sees only its own agency's innovations")
        agency = principal.agency
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        context = await load_cycle(conn, query.cycle)
        items = await store.list_innovations(
            conn, query.cycle, region,
            agency=agency, statuses=query.statuses, after=query.after, limit=query.limit,
        )
    return InnovationPage(
        cycle=query.cycle,
        region=region,
        items=[_view(deps, i, context, now) for i in items],
        next_after=items[-1].id if len(items) == query.limit else None,
    )


# --- changes -------------------------------------------------------------------------------

Change = Callable[[Innovation, CycleContext, datetime], "Innovation | None"]


async def _change(
    deps: IntakeDeps,
    principal: Principal,
    ref: InnovationRef,
    expected_version: int | None,
    change: Change,
    event_class: type[InnovationEvent],
    *,
    before: Callable[[CycleContext], None] | None = None,
) -> InnovationView:
    """Read, decide, write: no transaction held open in between. The write (state and event
    in one statement) applies only over the version that was read, under the cycle as it was
    read; a concurrent change that committed first makes it a stale version, as if it had
    come later. An answer or a status change is written together with other requests'
    (deps.writes), a profile edit alone.

    The read is skipped when this process wrote the innovation last at the version the
    client names (deps.recent): the change is decided from that copy and written as usual,
    so the database confirms the copy or refuses the write. Only a write counts from a
    copy: when the write is refused, when the change makes no difference, or when the copy
    leads to a refusal, the change is decided again from a fresh read."""
    now = deps.clock()
    key = (ref.cycle, ref.innovation_id)

    async def decide_and_write(loaded: Loaded, *, from_copy: bool) -> InnovationView | None:
        """The view of the result; None when the write was refused (the innovation or its
        cycle changed since `loaded` was read), or when `loaded` is a copy and the change
        makes no difference to it."""
        if before is not None:
            before(loaded.context)
        current = writable(principal, loaded.innovation, ref.innovation_id)
        check_version(expected_version, current.version)
        changed = change(current, loaded.context, now)
        if changed is None:  # same as stored: no new version, no event
            return None if from_copy else _view(deps, current, loaded.context, now)
        event = _event(event_class, changed, principal)
        if changed.profile is current.profile:  # an answer or a status keeps the profile object
            saved = await deps.writes.save(changed, event, cycle_revision=loaded.cycle_revision)
        else:
            async with deps.pool.acquire() as conn:
                saved = await store.save_innovation(conn, changed, event, cycle_revision=loaded.cycle_revision)
        if saved is None:
            return None
        deps.recent.put(key, Loaded(loaded.context, loaded.cycle_revision, saved))
        deps.wake_relay()
        # Debug, not info: in a deadline rush this is thousands of lines a second, and the
        # event on intake.events already records every change durably.
        log.debug("innovation changed", innovation=saved.id, change=event_class.__name__, version=saved.version)
        return _view(deps, saved, loaded.context, now).model_copy(update={"event_id": event.event_id})

    copy = deps.recent.get(key)
    if copy is not None and copy.innovation is not None and copy.innovation.version == expected_version:
        try:
            written = await decide_and_write(copy, from_copy=True)
        except DomainError:
            written = None
        if written is not None:
            return written
        deps.recent.discard(key)
    # No connection is held while the change waits for its group to be written.
    for _ in range(_FRESH_ATTEMPTS):
        async with deps.pool.acquire() as conn:
            loaded = await load_cycle_and_innovation(conn, ref.cycle, ref.innovation_id)
        written = await decide_and_write(loaded, from_copy=False)
        if written is not None:
            return written
        async with deps.pool.acquire() as conn:
            latest = await store.get_innovation(conn, ref.cycle, ref.innovation_id)
        check_version(expected_version, latest.version if latest is not None else 0)
    # Each attempt found the innovation unchanged but the cycle's row changed under it.
    raise Unavailable(reason="the cycle was being changed while this change was written; try again")


# A write refused although the innovation is still at the version read means the cycle's
# row changed in between (its window was edited): decided again, a few times at most.
_FRESH_ATTEMPTS = 3


def _edit(apply: Callable[[Innovation], Innovation | None]) -> Change:
    """An edit of profile or answers. Allowed in any status while the window is open; a
    submitted innovation stays submitted, so the edit must keep it eligible."""

    def change(current: Innovation, context: CycleContext, now: datetime) -> Innovation | None:
        if not context.cycle.window_open(now):
            raise window_closed(context.cycle, now)
        changed = apply(current)
        if changed is not None and changed.status == "submitted":
            every = check_eligibility(changed.profile, changed.answers, context.cycle, context.mandatory_sid, now)
            failures = [f for f in every if f.rule != SUBMISSION_WINDOW]
            if failures:
                raise not_eligible(
                    failures, "a submitted innovation must stay eligible; withdraw it first to make this change"
                )
        return changed

    return change


async def update_profile(deps: IntakeDeps, principal: Principal, command: UpdateProfile) -> InnovationView:
    edit = _edit(lambda current: current.with_profile(command.profile))
    return await _change(deps, principal, command.innovation, command.expected_version, edit, InnovationUpdated)


async def set_sid_answer(deps: IntakeDeps, principal: Principal, command: SetSidAnswer) -> InnovationView:
    def known_sid_indicator(context: CycleContext) -> None:
        # An unknown or SPD indicator is refused before anything else about the innovation.
        context.indicator(command.indicator, "sid")

    edit = _edit(lambda current: current.with_answer(command.indicator, command.level))
    return await _change(
        deps, principal, command.innovation, command.expected_version, edit, InnovationUpdated,
        before=known_sid_indicator,
    )


def _submit(current: Innovation, context: CycleContext, now: datetime) -> Innovation:
    try:
        submitted = current.submit()
    except TransitionError as exc:
        raise Conflict.at("status", str(exc)) from None
    failures = check_eligibility(current.profile, current.answers, context.cycle, context.mandatory_sid, now)
    if failures:
        rules = sorted({f.rule for f in failures})
        raise not_eligible(failures, f"the innovation is not eligible; failed rules: {', '.join(rules)}")
    return submitted


def _withdraw(current: Innovation, context: CycleContext, now: datetime) -> Innovation:
    if not context.cycle.window_open(now):
        raise window_closed(context.cycle, now)
    try:
        return current.withdraw()
    except TransitionError as exc:
        raise Conflict.at("status", str(exc)) from None


async def submit_innovation(deps: IntakeDeps, principal: Principal, command: ChangeStatus) -> InnovationView:
    return await _change(deps, principal, command.innovation, command.expected_version, _submit, InnovationSubmitted)


async def withdraw_innovation(deps: IntakeDeps, principal: Principal, command: ChangeStatus) -> InnovationView:
    return await _change(
        deps, principal, command.innovation, command.expected_version, _withdraw, InnovationWithdrawn
    )
