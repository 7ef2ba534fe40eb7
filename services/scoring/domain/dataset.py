"""The scoring input: regions with their SPD answers and innovations, as a validated model.

`parse_dataset` is the only way raw data (a JSON file, an event payload) becomes engine
input. Anything malformed raises `DatasetError`, whose lines name the path of the bad field
(`regions[3].innovations[0].answers.sid-99: unknown indicator`) — never another exception.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from services.common.data.regions import RegionType
from services.common.methodology.catalogue import (
    METHODOLOGY_IDS,
    Methodology,
    load_methodology,
    load_urusan,
)

EvidenceState = Literal["none", "pending", "accepted", "rejected"]
InnovationStatus = Literal["draft", "submitted", "withdrawn"]

# Evidence states ranked so that an answer counts in a figure when its rank reaches the
# figure's threshold: claimed ≥ rejected, provisional ≥ pending, validated = accepted.
EVIDENCE_RANK: dict[EvidenceState, int] = {"none": 0, "rejected": 1, "pending": 2, "accepted": 3}


class DatasetError(ValueError):
    """A malformed dataset. `problems` holds one `path: reason` line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerIn(_Input):
    level: Annotated[StrictInt, Field(ge=1, le=3)] | None = None
    evidence: EvidenceState = "none"


class InnovationIn(_Input):
    id: Annotated[StrictStr, Field(min_length=1)]
    name: StrictStr | None = None
    agency: StrictStr | None = None
    status: InnovationStatus
    urusan_utama: StrictStr
    urusan_lain: list[StrictStr] = []
    answers: dict[StrictStr, AnswerIn] = {}


class RegionIn(_Input):
    code: Annotated[StrictStr, Field(min_length=1)]
    name: StrictStr | None = None
    type: RegionType
    province: StrictStr | None = None
    spd: dict[StrictStr, AnswerIn] = {}
    innovations: list[InnovationIn] = []


class DatasetIn(_Input):
    methodology: StrictStr
    regions: list[RegionIn]


def _path(loc: tuple[Any, ...]) -> str:
    """('regions', 3, 'spd', 'spd-01') → 'regions[3].spd.spd-01'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(dataset)"


def _pydantic_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        # Drop pydantic's union/tag markers (e.g. 'int', 'constrained-int') from the path.
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
        problems.append(f"{_path(loc)}: {item['msg'].removeprefix('Value error, ')}")
    return problems


_UNION_TAGS = {"int", "constrained-int", "none", "function-after[...]"}


def _semantic_problems(dataset: DatasetIn, methodology: Methodology) -> list[str]:
    """Checks that need the catalogues: indicator codes, urusan codes, uniqueness."""
    problems: list[str] = []
    indicators = methodology.indicator_by_code
    urusan_codes = load_urusan().codes
    seen_regions: set[str] = set()
    for r, region in enumerate(dataset.regions):
        where = f"regions[{r}]"
        if region.code in seen_regions:
            problems.append(f"{where}.code: region {region.code!r} appears more than once")
        seen_regions.add(region.code)
        if region.type != "provinsi" and not region.province:
            problems.append(f"{where}.province: required for a {region.type}")
        for code in region.spd:
            indicator = indicators.get(code)
            if indicator is None:
                problems.append(f"{where}.spd.{code}: unknown indicator")
            elif indicator.aspect != "spd":
                problems.append(f"{where}.spd.{code}: not an SPD indicator (it is answered per innovation)")
        seen_innovations: set[str] = set()
        for i, innovation in enumerate(region.innovations):
            inner = f"{where}.innovations[{i}]"
            if innovation.id in seen_innovations:
                problems.append(f"{inner}.id: innovation {innovation.id!r} appears more than once in this region")
            seen_innovations.add(innovation.id)
            if innovation.urusan_utama not in urusan_codes:
                problems.append(f"{inner}.urusan_utama: unknown urusan {innovation.urusan_utama!r}")
            for k, other in enumerate(innovation.urusan_lain):
                if other not in urusan_codes:
                    problems.append(f"{inner}.urusan_lain[{k}]: unknown urusan {other!r}")
            for code in innovation.answers:
                indicator = indicators.get(code)
                if indicator is None:
                    problems.append(f"{inner}.answers.{code}: unknown indicator")
                elif indicator.aspect != "sid":
                    problems.append(f"{inner}.answers.{code}: not an SID indicator (it is answered once per region)")
    return problems


def parse_dataset(raw: object, methodology_override: str | None = None) -> tuple[DatasetIn, Methodology]:
    """Validate raw data into a dataset and its methodology, or raise DatasetError."""
    try:
        dataset = DatasetIn.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError(_pydantic_problems(exc)) from None
    methodology_id = methodology_override or dataset.methodology
    if methodology_id not in METHODOLOGY_IDS:
        field = "--methodology" if methodology_override else "methodology"
        raise DatasetError(
            [f"{field}: unknown methodology {methodology_id!r} (known: {', '.join(METHODOLOGY_IDS)})"]
        )
    methodology = load_methodology(methodology_id)
    problems = _semantic_problems(dataset, methodology)
    if problems:
        raise DatasetError(problems)
    return dataset, methodology
