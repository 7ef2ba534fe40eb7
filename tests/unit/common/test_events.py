"""The event contract: ids, envelope validation, parsing and the stream-entry wire format."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.common import events as ev
from services.common.ids import uuid7
from services.common.logging import bind_correlation_id
from tests.support import events as samples


def test_uuid7_is_version_7_rfc_variant_and_carries_the_time() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7_sorts_in_creation_order_even_within_one_millisecond() -> None:
    ids = [uuid7() for _ in range(20_000)]  # many share a millisecond
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert [i.bytes for i in ids] == sorted(i.bytes for i in ids)  # PostgreSQL uuid order


EVERY_KIND = [*samples.one_of_each(), *samples.account_events()]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: f"{e.type}-{e.subject}")
def test_every_event_type_round_trips_through_json(event: ev.BaseEnvelope) -> None:
    parsed = ev.parse_event(event.model_dump_json())
    assert type(parsed) is type(event)
    assert parsed == event
    assert ev.parse_event(json.loads(event.model_dump_json())) == event


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: f"{e.type}-{e.subject}")
def test_stream_entry_round_trip_with_bytes_or_str_keys(event: ev.BaseEnvelope) -> None:
    fields = ev.to_entry(event)
    assert set(fields) == {"__data__", "type", "event_id"}
    as_bytes = {k.encode(): v.encode() for k, v in fields.items()}
    assert ev.from_entry(as_bytes) == event
    assert ev.from_entry(fields) == event


def test_every_event_class_is_in_the_union_and_published_on_its_producers_stream() -> None:
    assert set(ev.EVENT_TYPES) == {
        "spd.answer_set", "innovation.created", "innovation.updated", "innovation.submitted",
        "innovation.withdrawn", "evidence.stored", "evidence.accepted", "evidence.rejected",
        "score.updated", "ranking.changed",
        "account.created", "account.updated", "account.disabled", "token.revoked",
    }
    for event in EVERY_KIND:
        assert ev.stream_of(event.producer) in ev.STREAMS
    assert {type(e) for e in EVERY_KIND} == set(ev.EVENT_CLASSES)
    assert ev.stream_of("web") == ev.WEB_STREAM == "web.events" and ev.WEB_STREAM in ev.STREAMS
    assert ev.WEB_STREAM not in ev.ENVELOPE_STREAMS  # not for consumer groups: read group-less


def test_decimals_travel_as_strings() -> None:
    wire = json.loads(samples.score_updated().model_dump_json())
    assert wire["data"]["claimed"]["iid"] == "47.04"
    assert wire["data"]["validated"]["total"] == "107.6200"


def test_correlation_id_defaults_to_the_bound_one_else_the_event_id() -> None:
    alone = samples.innovation()
    assert alone.correlation_id == str(alone.event_id)
    with bind_correlation_id("req-42"):
        inside = samples.innovation()
    assert inside.correlation_id == "req-42"
    assert samples.innovation(correlation_id="given").correlation_id == "given"


def test_occurred_at_is_timezone_aware_utc() -> None:
    event = samples.spd_answer_set()
    assert event.occurred_at.tzinfo is not None
    assert abs((datetime.now(UTC) - event.occurred_at).total_seconds()) < 5


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: samples.spd_answer_set(subject="62.10/spd/other"), "subject must be '62.10/spd/spd-01'"),
        (lambda: samples.innovation(subject="inn-2"), "subject must be 'inn-1'"),
        (lambda: samples.innovation("innovation.created", data={"status": "submitted"}),
         "innovation.created requires data.status 'draft'"),
        (lambda: samples.innovation("innovation.withdrawn", data={"status": "draft"}),
         "requires data.status 'withdrawn'"),
        (lambda: samples.evidence("evidence.accepted", data={"state": "pending"}),
         "evidence.accepted requires data.state 'accepted'"),
        (lambda: samples.evidence("evidence.rejected", data={"reason": "  "}), "needs a reason"),
        (lambda: samples.evidence(data={"sha256": None}), "needs sha256 and size"),
        (lambda: samples.evidence(data={"sha256": "XYZ"}), "sha256"),
        (lambda: samples.score_updated(subject="62.11"), "subject must be '62.10'"),
        (lambda: samples.spd_answer_set(level=4), "less than or equal to 3"),
        (lambda: samples.spd_answer_set(region="62-10"), "region"),
        (lambda: samples.innovation(version=0), "version"),
        (lambda: samples.innovation(data={"answers": {"sid-01": 0}}), "greater than or equal to 1"),
        (lambda: samples.innovation(actor="has space"), "actor"),
        (lambda: samples.account(subject="acc-other"), f"subject must be {samples.ACCOUNT!r}"),
        (lambda: samples.account("account.disabled", data={"status": "active"}),
         "account.disabled requires data.status 'disabled'"),
        (lambda: samples.account(region="62.11"), "region must equal data.region"),
        (lambda: samples.account(data={"role": "god"}), "role"),
        (lambda: samples.token_revoked(subject="tok-2"), "subject must be 'tok-1'"),
        (lambda: samples.token_revoked("bad token id"), "token_id"),
    ],
)
def test_invalid_events_are_refused_naming_the_problem(build, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        build()
    assert message in str(excinfo.value)


def test_unknown_type_is_refused_and_unknown_fields_are_ignored() -> None:
    wire = json.loads(samples.innovation().model_dump_json())
    with pytest.raises(ValidationError, match="union_tag_invalid|does not match any of the expected tags"):
        ev.parse_event({**wire, "type": "innovation.exploded"})
    # Tolerant reader: a field added by a newer producer does not break this consumer.
    newer = {**wire, "added_later": 1, "data": {**wire["data"], "also_new": True}}
    assert ev.parse_event(newer) == ev.parse_event(wire)


def test_events_are_immutable() -> None:
    event = samples.innovation()
    with pytest.raises(ValidationError):
        event.version = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "fields",
    [{}, {b"type": b"innovation.created"}, {b"__data__": b"not json"}, {b"__data__": b'{"type": "x"}'}],
)
def test_entries_that_are_not_events_are_undecodable(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(ev.UndecodableEntry):
        ev.from_entry(fields)


def test_times_travel_as_iso_8601_with_their_offset() -> None:
    wire = json.loads(samples.score_updated().model_dump_json())
    for value in (wire["occurred_at"], wire["data"]["computed_at"]):
        assert value.endswith("+00:00") and datetime.fromisoformat(value).tzinfo is not None


def test_a_score_update_of_contract_1_0_is_read_not_dead_lettered() -> None:
    """Events published before the score read model (still on a stream or in an outbox at an
    upgrade) carried only the methodology, caused_by and the figures in their data."""
    current = json.loads(samples.score_updated(version=7).model_dump_json())
    legacy_data = {
        "methodology": "iid-2026",
        "caused_by": current["data"]["caused_by"],
        **{
            f: {k: v for k, v in current["data"][f].items() if k != "basic_services_covered"}
            for f in ("claimed", "provisional", "validated")
        },
    }
    legacy = {**current, "data": legacy_data}
    event = ev.parse_event(json.dumps(legacy))
    assert isinstance(event, ev.ScoreUpdated)
    data = event.data
    assert (data.cycle, data.region, data.name, data.type, data.province) == (
        2026, "62.10", "Kabupaten Gunung Mas", "kabupaten", "62"
    )
    assert data.version == 7 and str(data.caused_by) == legacy_data["caused_by"] and data.cause_type is None
    assert data.computed_at == event.occurred_at
    assert data.validated.iid == event.data.validated.iid and data.validated.basic_services_covered is None
    assert data.claimed.ranks == ev.FigureRanks.model_validate(current["data"]["claimed"]["ranks"])


def test_account_events_have_no_cycle_and_a_national_account_no_region() -> None:
    national = samples.account("account.created", "acc-kemendagri",
                               data={"role": "national", "region": None, "agency": None})
    wire = json.loads(national.model_dump_json())
    assert "cycle" not in wire and wire["region"] is None and wire["producer"] == "web"
    parsed = ev.from_entry(ev.to_entry(national))
    assert isinstance(parsed, ev.AccountCreated) and not isinstance(parsed, ev.Envelope)
    assert parsed.data.role == "national" and parsed.region is None
    # Tolerant reader for account events too.
    assert ev.parse_event({**wire, "added_later": [1]}) == national
    # An account event is not an event of a cycle: it cannot pass for one.
    with pytest.raises(ValidationError):
        ev.InnovationCreated.model_validate(wire)


def test_actor_names_the_person_and_is_optional_for_old_readers_and_writers() -> None:
    event = samples.innovation(actor="acc-0f3c")
    wire = json.loads(event.model_dump_json())
    assert wire["actor"] == "acc-0f3c"
    assert ev.parse_event(wire).actor == "acc-0f3c"
    # An event written before `actor` existed reads with no actor.
    del wire["actor"]
    assert ev.parse_event(wire).actor is None
    assert samples.score_updated().actor is None
