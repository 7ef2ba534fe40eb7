"""The IID over time as an SVG line chart, computed on the server (no chart library, nothing
from another host, no script): a step line per figure — a score holds until the next version
— from the first version to now, on a scale that fits the values, with the category
thresholds drawn where they fall inside it. The template draws the result; a table of the
same values stands beside it for screen readers and for anyone who prefers numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from services.web.domain.region_texts import short_date

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 30  # margins around the plot, in viewBox units
SCALES = (4, 8, 20, 40, 60, 80, 100)  # the top of the y axis: the first that fits, 4 ticks
FIGURE_ORDER = ("claimed", "provisional", "validated")


@dataclass(frozen=True, slots=True)
class ScorePoint:
    """One score version: when it was computed and each figure's IID."""

    at: datetime
    iids: dict[str, Decimal]


class _Chart(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChartLine(_Chart):
    figure: str
    points: str  # the polyline's `points`
    end_x: float
    end_y: float


class ChartTick(_Chart):
    at: float  # x or y in viewBox units
    label: str


class ChartThreshold(_Chart):
    y: float
    label: str
    value: Decimal


class Chart(_Chart):
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    scale_max: int
    lines: list[ChartLine]
    y_ticks: list[ChartTick]
    x_ticks: list[ChartTick]
    thresholds: list[ChartThreshold]


def _round(value: float) -> float:
    return round(value, 1)


def history_chart(
    points: Sequence[ScorePoint],
    now: datetime,
    thresholds: Sequence[tuple[str, Decimal]] = (),
    zone: str = "WIB",
) -> Chart | None:
    """The chart of `points` (oldest first) up to `now`; None without any point.
    `thresholds`: (label, lowest IID) of each category above the lowest."""
    if not points:
        return None
    highest = max(max(p.iids.values(), default=Decimal(0)) for p in points)
    scale_max = next((s for s in SCALES if Decimal(s) >= highest * Decimal("1.1")), SCALES[-1])
    start, end = points[0].at, max(now, points[-1].at)
    span = (end - start).total_seconds()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(at: datetime, index: int) -> float:
        if span <= 0:  # one moment only: spread the versions evenly
            return LEFT + plot_w * (index / max(len(points) - 1, 1)) if len(points) > 1 else LEFT + plot_w / 2
        return LEFT + plot_w * (at - start).total_seconds() / span

    def y_of(iid: Decimal) -> float:
        return TOP + plot_h * (1 - float(min(iid, Decimal(scale_max))) / scale_max)

    xs = [x_of(p.at, i) for i, p in enumerate(points)]
    x_end = LEFT + plot_w if span > 0 else xs[-1]
    lines: list[ChartLine] = []
    for figure in FIGURE_ORDER:
        coordinates: list[tuple[float, float]] = []
        for i, point in enumerate(points):
            y = y_of(point.iids.get(figure, Decimal(0)))
            if coordinates:
                coordinates.append((xs[i], coordinates[-1][1]))  # the step: held until now
            coordinates.append((xs[i], y))
        coordinates.append((x_end, coordinates[-1][1]))
        text = " ".join(f"{_round(x)},{_round(y)}" for x, y in coordinates)
        lines.append(ChartLine(figure=figure, points=text, end_x=_round(x_end), end_y=_round(coordinates[-1][1])))
    y_ticks = [ChartTick(at=_round(y_of(Decimal(scale_max * k) / 4)), label=str(scale_max * k // 4))
               for k in range(5)]
    x_ticks = [ChartTick(at=_round(xs[0]), label=short_date(start, zone))]
    if span > 0 and short_date(end, zone) != x_ticks[0].label:
        x_ticks.append(ChartTick(at=_round(x_end), label=short_date(end, zone)))
    shown = [ChartThreshold(y=_round(y_of(value)), label=label, value=value)
             for label, value in thresholds if value <= scale_max]
    return Chart(scale_max=scale_max, lines=lines, y_ticks=y_ticks, x_ticks=x_ticks, thresholds=shown)
