"""What notify sends for an event: kinds, category changes, the webhook body."""

from __future__ import annotations

import json

from services.common import events as ev
from services.notify.domain.rules import (
    CategoryChange,
    SeenScore,
    category_changes,
    dedupe_kinds,
    notifications_for_rejection,
    notifications_for_score,
    webhook_body,
)
from tests.support import events as sample

INOVATIF = {"claimed": "inovatif", "provisional": "inovatif", "validated": "inovatif"}


def score(version: int, **categories: str) -> ev.ScoreUpdated:
    base = sample.score_updated(version=version)
    data = base.data.model_copy(
        update={f: getattr(base.data, f).model_copy(update={"category": c}) for f, c in categories.items()}
    )
    return base.model_copy(update={"data": data})


def test_category_changes_lists_each_figure_that_moved():
    current = {**INOVATIF, "validated": "kurang_inovatif", "claimed": "sangat_inovatif"}
    assert category_changes(INOVATIF, current) == [
        CategoryChange("claimed", "inovatif", "sangat_inovatif"),
        CategoryChange("validated", "inovatif", "kurang_inovatif"),
    ]
    assert category_changes(INOVATIF, INOVATIF) == []
    assert category_changes(None, current) == []  # nothing seen: nothing to compare with


def test_a_first_score_is_an_update_but_not_a_change():
    assert [n.kind for n in notifications_for_score(score(1), None)] == ["score.updated"]


def test_a_newer_score_with_another_category_is_a_change():
    out = notifications_for_score(score(4, validated="sangat_inovatif"), SeenScore(3, INOVATIF))
    assert [n.kind for n in out] == ["score.updated", "category.changed"]
    assert out[1].extra == {"changes": [{"figure": "validated", "from": "inovatif", "to": "sangat_inovatif"}]}


def test_a_score_not_newer_than_the_one_seen_produces_nothing():
    seen = SeenScore(5, INOVATIF)
    assert notifications_for_score(score(5, validated="sangat_inovatif"), seen) == []
    assert notifications_for_score(score(2, validated="kurang_inovatif"), seen) == []


def test_a_rejection_is_always_sent():
    rejected = sample.evidence("evidence.rejected", version=2)
    assert [n.kind for n in notifications_for_rejection(rejected)] == ["evidence.rejected"]


def test_webhook_body_is_the_envelope_plus_kind_and_extras():
    event = score(4, validated="sangat_inovatif")
    change = notifications_for_score(event, SeenScore(3, INOVATIF))[1]
    body = json.loads(webhook_body(event, change))
    assert body["kind"] == "category.changed"
    assert body["changes"][0]["to"] == "sangat_inovatif"
    envelope = {k: v for k, v in body.items() if k not in ("kind", "changes")}
    assert envelope == json.loads(event.model_dump_json())
    assert ev.parse_event(envelope) == event


def test_webhook_body_keeps_indonesian_text_readable():
    event = sample.evidence("evidence.rejected", version=2, data={"reason": "SK bupati belum ditandatangani — ulangi"})
    text = webhook_body(event, notifications_for_rejection(event)[0])
    assert "— ulangi" in text and "\\u" not in text


def test_kinds_are_deduplicated_in_catalogue_order():
    kinds = ["evidence.rejected", "score.updated", "evidence.rejected"]
    assert dedupe_kinds(kinds) == ["score.updated", "evidence.rejected"]
