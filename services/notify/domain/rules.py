"""What notify sends for an event: the kinds an event produces, category changes, and the
webhook body. Pure: the handler supplies what notify last saw of a region."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from services.common.events import Envelope, EvidenceRejected, ScoreUpdated

Kind = Literal["score.updated", "category.changed", "evidence.rejected"]
KINDS: tuple[Kind, ...] = get_args(Kind)
FIGURES = ("claimed", "provisional", "validated")


@dataclass(frozen=True)
class CategoryChange:
    figure: str  # claimed, provisional or validated
    previous: str
    current: str

    def as_json(self) -> dict[str, str]:
        return {"figure": self.figure, "from": self.previous, "to": self.current}


@dataclass(frozen=True)
class SeenScore:
    """The newest score.updated notify has seen for a region: its version and categories."""

    version: int
    categories: Mapping[str, str]


def categories_of(event: ScoreUpdated) -> dict[str, str]:
    return {figure: getattr(event.data, figure).category for figure in FIGURES}


def category_changes(previous: Mapping[str, str] | None, current: Mapping[str, str]) -> list[CategoryChange]:
    """The figures whose category differs from the previous score's. Nothing seen before
    means nothing to compare with, hence no change (a first score is not an alert)."""
    if previous is None:
        return []
    return [
        CategoryChange(figure, previous[figure], current[figure])
        for figure in FIGURES
        if figure in previous and figure in current and previous[figure] != current[figure]
    ]


@dataclass(frozen=True)
class Notification:
    """One kind of alert an event produces, with its extra body fields."""

    kind: Kind
    extra: Mapping[str, Any]


def notifications_for_score(event: ScoreUpdated, seen: SeenScore | None) -> list[Notification]:
    """score.updated for a score newer than the last one seen for the region, and
    category.changed when a figure's category moved. A score that is not newer (reordered
    or replayed) produces nothing: a receiver never sees a region's score go back in time,
    nor a change that is not one."""
    if seen is not None and event.version <= seen.version:
        return []
    out = [Notification("score.updated", {})]
    changes = category_changes(seen.categories if seen else None, categories_of(event))
    if changes:
        out.append(Notification("category.changed", {"changes": [c.as_json() for c in changes]}))
    return out


def notifications_for_rejection(event: EvidenceRejected) -> list[Notification]:
    """Every rejection is a fact a region wants to hear about, whatever came after it."""
    return [Notification("evidence.rejected", {})]


def webhook_body(event: Envelope, notification: Notification) -> str:
    """The exact JSON text POSTed (and signed): `kind`, the event envelope's fields as on
    the stream, and the notification's extra fields (`changes` for category.changed)."""
    document: dict[str, Any] = {"kind": notification.kind}
    document.update(json.loads(event.model_dump_json()))
    document.update(notification.extra)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def dedupe_kinds(kinds: Sequence[str]) -> list[str]:
    """Kinds in catalogue order, each once."""
    return [k for k in KINDS if k in kinds]
