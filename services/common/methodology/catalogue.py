"""The IID methodology catalogues (indicators, weights, levels, divisor, thresholds) as
validated models.

The YAML files under `data/` are the project's source of truth, copied from the published
pedoman transcriptions. Every service reads indicator codes, weights and evidence kinds from
here, so a catalogue that does not add up is refused at load time with an error naming the
problem rather than producing wrong scores later.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache, cached_property
from importlib import resources
from itertools import pairwise
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Aspect = Literal["spd", "sid"]
EvidenceKind = Literal["pdf", "image", "video", "link"]
HUNDREDTH = Decimal("0.01")


class CatalogueError(ValueError):
    """A methodology or urusan catalogue that is malformed or does not add up."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _exact_decimal(value: object) -> object:
    # YAML gives floats (0.75, 65.01); go through str so 0.1 stays 0.1 exactly.
    if isinstance(value, float):
        return Decimal(str(value))
    return value


class LevelOption(_Model):
    level: int = Field(ge=1, le=3)
    label: str
    label_en: str


class Basis(_Model):
    id: str
    name: str
    name_en: str
    levels: tuple[LevelOption, ...]


class EvidenceRule(_Model):
    assumed: bool = False
    description: str
    description_en: str
    kinds: tuple[EvidenceKind, ...]


class Indicator(_Model):
    code: str
    number: int
    sub: str | None = None
    aspect: Aspect
    variable: str
    name: str
    name_en: str
    weight: Decimal = Field(gt=0)
    mandatory: bool = False
    # True where the row was filled in from another pedoman: the UI flags it as non-official.
    assumed: bool = False
    choose_one_basis: bool = False
    levels: tuple[LevelOption, ...]
    bases: tuple[Basis, ...] = ()
    evidence: EvidenceRule | None = None

    _to_decimal = field_validator("weight", mode="before")(_exact_decimal)

    @model_validator(mode="after")
    def _levels_are_one_to_three(self) -> Indicator:
        if sorted(option.level for option in self.levels) != [1, 2, 3]:
            raise ValueError(f"{self.code}: levels must be exactly 1, 2 and 3")
        return self

    @property
    def max_points(self) -> Decimal:
        return self.weight * 3


class Category(_Model):
    id: str
    label: str
    label_en: str
    min: Decimal = Field(ge=0, le=100)
    max: Decimal = Field(ge=0, le=100)

    _to_decimal = field_validator("min", "max", mode="before")(_exact_decimal)


class SjiRule(_Model):
    assumed: bool = False
    per_innovation: Decimal = Field(gt=0)
    cap_innovations: int = Field(gt=0)
    requires_basic_services_covered: int = Field(ge=0)

    _to_decimal = field_validator("per_innovation", mode="before")(_exact_decimal)


class MaxScores(_Model):
    spd: Decimal
    sid: Decimal
    sji: Decimal
    total: Decimal

    _to_decimal = field_validator("spd", "sid", "sji", "total", mode="before")(_exact_decimal)


class AspectInfo(_Model):
    id: Aspect
    name: str
    name_en: str
    answered: str
    variables: tuple[str, ...]


class Methodology(_Model):
    id: str
    title: str
    valid_for_cycles: tuple[int, ...]
    source: str
    max_scores: MaxScores
    sid_divisor_floor: int = Field(gt=0)
    sji: SjiRule
    formula: dict[str, str]
    categories: tuple[Category, ...]
    aspects: tuple[AspectInfo, ...]
    notes: tuple[str, ...] = ()
    indicators: tuple[Indicator, ...]

    @model_validator(mode="after")
    def _adds_up(self) -> Methodology:
        problems: list[str] = []
        seen: set[str] = set()
        for indicator in self.indicators:
            if indicator.code in seen:
                problems.append(f"indicator code {indicator.code!r} appears more than once")
            seen.add(indicator.code)
        sums = {
            "spd": sum((i.max_points for i in self.indicators if i.aspect == "spd"), Decimal(0)),
            "sid": sum((i.max_points for i in self.indicators if i.aspect == "sid"), Decimal(0)),
            "sji": self.sji.per_innovation * self.sji.cap_innovations,
        }
        for part, computed in sums.items():
            declared = getattr(self.max_scores, part)
            if computed != declared:
                problems.append(
                    f"max_scores.{part} is {declared} but the indicators add up to {computed}"
                )
        declared_total = self.max_scores.total
        parts_total = self.max_scores.spd + self.max_scores.sid + self.max_scores.sji
        if parts_total != declared_total:
            problems.append(
                f"max_scores.total is {declared_total} but spd + sid + sji = {parts_total}"
            )
        problems.extend(_category_problems(self.categories))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- lookups used by every service -------------------------------------------------

    @cached_property
    def indicator_by_code(self) -> dict[str, Indicator]:
        return {i.code: i for i in self.indicators}

    def indicators_of(self, aspect: Aspect) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.aspect == aspect)

    def mandatory_codes(self, aspect: Aspect) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators if i.aspect == aspect and i.mandatory)

    def category_for(self, iid: Decimal) -> Category:
        """The highest category whose `min` the (rounded) IID reaches."""
        for category in self.categories:
            if iid >= category.min:
                return category
        return self.categories[-1]

    def next_category_above(self, category_id: str) -> Category | None:
        ids = [c.id for c in self.categories]
        position = ids.index(category_id)
        return self.categories[position - 1] if position > 0 else None


def _category_problems(categories: tuple[Category, ...]) -> list[str]:
    """Categories must tile 0.00–100.00 from highest to lowest with no gap or overlap."""
    problems: list[str] = []
    if not categories:
        return ["categories: none given"]
    ids = [c.id for c in categories]
    if len(set(ids)) != len(ids):
        problems.append("categories: an id appears more than once")
    for category in categories:
        if category.min > category.max:
            problems.append(f"category {category.id!r}: min {category.min} is above max {category.max}")
    if categories[0].max != Decimal("100.00"):
        problems.append(f"categories: the highest, {categories[0].id!r}, ends at {categories[0].max}, not 100.00")
    if categories[-1].min != Decimal("0.00"):
        problems.append(f"categories: the lowest, {categories[-1].id!r}, starts at {categories[-1].min}, not 0.00")
    for higher, lower in pairwise(categories):
        if lower.max >= higher.min:
            problems.append(
                f"categories {higher.id!r} (min {higher.min}) and {lower.id!r} (max {lower.max}) overlap"
            )
        elif lower.max + HUNDREDTH != higher.min:
            problems.append(
                f"categories {lower.id!r} (max {lower.max}) and {higher.id!r} (min {higher.min}) "
                "leave a gap"
            )
    return problems


# --- urusan ------------------------------------------------------------------------------


class Urusan(_Model):
    code: str
    name: str
    name_en: str
    group: str | None = None


class EnumOption(_Model):
    id: str
    label: str
    label_en: str


class UrusanCatalogue(_Model):
    id: Literal["urusan"]
    basic_services: tuple[Urusan, ...]
    urusan: tuple[Urusan, ...]
    enumerations: dict[str, tuple[EnumOption, ...]]

    @model_validator(mode="after")
    def _consistent(self) -> UrusanCatalogue:
        codes = [u.code for u in self.urusan]
        if len(set(codes)) != len(codes):
            raise ValueError("urusan: a code appears more than once")
        missing = [b.code for b in self.basic_services if b.code not in codes]
        if missing:
            raise ValueError(f"basic_services not in the urusan list: {', '.join(missing)}")
        return self

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(u.code for u in self.urusan)

    @property
    def basic_service_codes(self) -> frozenset[str]:
        return frozenset(b.code for b in self.basic_services)

    def enumeration(self, name: str) -> frozenset[str]:
        return frozenset(option.id for option in self.enumerations[name])


# --- loading -----------------------------------------------------------------------------

METHODOLOGY_IDS = ("iid-2023", "iid-2026")


def _format_validation_error(source: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{source}: {where + ': ' if where else ''}{message}")
    return "\n".join(lines)


def parse_methodology(text: str, source: str = "<catalogue>") -> Methodology:
    """Parse and check one methodology catalogue; CatalogueError names what is wrong."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: not valid YAML: {exc}") from None
    try:
        methodology = Methodology.model_validate(raw)
    except ValidationError as exc:
        raise CatalogueError(_format_validation_error(source, exc)) from None
    basic = len(load_urusan().basic_services)
    if methodology.sji.requires_basic_services_covered > basic:
        raise CatalogueError(
            f"{source}: sji.requires_basic_services_covered is "
            f"{methodology.sji.requires_basic_services_covered}, but there are only {basic} basic services"
        )
    return methodology


def _read_data(name: str) -> str:
    return resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")


@cache
def load_methodology(methodology_id: str) -> Methodology:
    if methodology_id not in METHODOLOGY_IDS:
        raise CatalogueError(
            f"unknown methodology {methodology_id!r}; known: {', '.join(METHODOLOGY_IDS)}"
        )
    return parse_methodology(_read_data(f"{methodology_id}.yaml"), f"{methodology_id}.yaml")


@cache
def load_urusan() -> UrusanCatalogue:
    try:
        return UrusanCatalogue.model_validate(yaml.safe_load(_read_data("urusan.yaml")))
    except ValidationError as exc:
        raise CatalogueError(_format_validation_error("urusan.yaml", exc)) from None


def methodology_for_cycle(cycle: int) -> Methodology:
    """The methodology whose catalogue says it is valid for `cycle`."""
    for methodology_id in METHODOLOGY_IDS:
        methodology = load_methodology(methodology_id)
        if cycle in methodology.valid_for_cycles:
            return methodology
    raise CatalogueError(f"no methodology is valid for cycle {cycle}")
