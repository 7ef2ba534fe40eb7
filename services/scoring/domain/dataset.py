"""The scoring input: regions with their SPD answers and innovations, as a validated model.

`parse_dataset` is the only way raw data (a JSON file, an event payload) becomes engine
input. Anything malformed raises `DatasetError`, whose lines name the path of the bad field
(`regions[3].innovations[0].answers.sid-99: unknown indicator`) — never another exception.
It reports every problem at once: the structure's (types, ranges) and the catalogues'
(indicators, urusan, the 546 regions) together, in the order of their paths.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from services.common.data.regions import RegionType, load_regions
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


# A problem is the path of the field at fault and the reason: (("regions", 3, "code"), "…").
Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

_UNION_TAGS = {"int", "constrained-int", "none", "function-after[...]"}
_REGION_TYPES: tuple[str, ...] = get_args(RegionType)


def _path(loc: Loc) -> str:
    """('regions', 3, 'spd', 'spd-01') → 'regions[3].spd.spd-01'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(dataset)"


def _in_path_order(problems: list[Problem]) -> list[str]:
    # Tagging each part keeps ints and strings from being compared with each other.
    ordered = sorted(problems, key=lambda problem: [(isinstance(part, str), part) for part in problem[0]])
    return [f"{_path(loc)}: {reason}" for loc, reason in ordered]


def _structure_problems(error: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors():
        # Drop pydantic's union/tag markers (e.g. 'int', 'constrained-int') from the path.
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
        problems.append((loc, item["msg"].removeprefix("Value error, ")))
    return problems


# --- reading raw data that may not have the dataset's structure --------------------------
# The checks against the catalogues read the raw data, so that they also run where the
# structure is broken elsewhere; each reads only the values that have the expected type.


def _field(node: object, name: str) -> object:
    return node.get(name) if isinstance(node, dict) else None


def _items(node: object) -> list[object]:
    return list(node) if isinstance(node, list | tuple) else []


def _keys(node: object) -> list[str]:
    return [key for key in node if isinstance(key, str)] if isinstance(node, dict) else []


def _text(node: object) -> str | None:
    return node if isinstance(node, str) else None


# --- checks against the catalogues ---------------------------------------------------------


def _methodology(raw: object, override: str | None) -> tuple[Methodology | None, list[Problem]]:
    chosen = override or _text(_field(raw, "methodology"))
    if chosen is None:
        return None, []  # a missing or mistyped methodology is a structure problem
    if chosen not in METHODOLOGY_IDS:
        field = "--methodology" if override else "methodology"
        return None, [((field,), f"unknown methodology {chosen!r} (known: {', '.join(METHODOLOGY_IDS)})")]
    return load_methodology(chosen), []


def _semantic_problems(data: object, methodology: Methodology | None) -> list[Problem]:
    """Checks that need the catalogues: region codes, indicator codes, urusan codes, uniqueness."""
    problems: list[Problem] = []
    seen_regions: set[str] = set()
    for r, region in enumerate(_items(_field(data, "regions"))):
        where: Loc = ("regions", r)
        problems += _region_problems(where, region, seen_regions)
        if methodology is not None:
            problems += _indicator_problems((*where, "spd"), _field(region, "spd"), methodology, "spd")
        seen_innovations: set[str] = set()
        for i, innovation in enumerate(_items(_field(region, "innovations"))):
            problems += _innovation_problems((*where, "innovations", i), innovation, seen_innovations, methodology)
    return problems


def _region_problems(where: Loc, region: object, seen: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    code = _text(_field(region, "code")) or None
    declared_type = _text(_field(region, "type"))
    kind = declared_type if declared_type in _REGION_TYPES else None
    province = _field(region, "province")
    if code is not None:
        if code in seen:
            problems.append(((*where, "code"), f"region {code!r} appears more than once"))
        seen.add(code)
        problems += _region_list_problems(where, code, kind, _text(province))
    if kind is not None and kind != "provinsi" and province in (None, ""):
        problems.append(((*where, "province"), f"required for a {kind}"))
    return problems


def _region_list_problems(where: Loc, code: str, kind: str | None, province: str | None) -> list[Problem]:
    """The code, type and province against the 546 regions."""
    known = load_regions().get(code)
    if known is None:
        return [((*where, "code"), f"{code!r} is not a Kemendagri region code")]
    problems: list[Problem] = []
    if kind is not None and kind != known.type:
        problems.append(((*where, "type"), f"{code} is a {known.type}, not a {kind}"))
    if province and province != known.province_code:
        problems.append(((*where, "province"), f"{code} is in province {known.province_code}, not {province}"))
    return problems


def _innovation_problems(
    where: Loc, innovation: object, seen: set[str], methodology: Methodology | None
) -> list[Problem]:
    problems: list[Problem] = []
    ident = _text(_field(innovation, "id")) or None
    if ident is not None:
        if ident in seen:
            problems.append(((*where, "id"), f"innovation {ident!r} appears more than once in this region"))
        seen.add(ident)
    urusan_codes = load_urusan().codes
    main = _text(_field(innovation, "urusan_utama"))
    if main is not None and main not in urusan_codes:
        problems.append(((*where, "urusan_utama"), f"unknown urusan {main!r}"))
    for k, other in enumerate(_items(_field(innovation, "urusan_lain"))):
        if isinstance(other, str) and other not in urusan_codes:
            problems.append(((*where, "urusan_lain", k), f"unknown urusan {other!r}"))
    if methodology is not None:
        problems += _indicator_problems((*where, "answers"), _field(innovation, "answers"), methodology, "sid")
    return problems


_ANSWERED_ELSEWHERE = {
    "spd": "not an SPD indicator (it is answered per innovation)",
    "sid": "not an SID indicator (it is answered once per region)",
}


def _indicator_problems(where: Loc, answers: object, methodology: Methodology, aspect: str) -> list[Problem]:
    problems: list[Problem] = []
    for code in _keys(answers):
        indicator = methodology.indicator_by_code.get(code)
        if indicator is None:
            problems.append(((*where, code), "unknown indicator"))
        elif indicator.aspect != aspect:
            problems.append(((*where, code), _ANSWERED_ELSEWHERE[aspect]))
    return problems


def _validate_structure(raw: object) -> tuple[DatasetIn | None, list[Problem]]:
    try:
        return DatasetIn.model_validate(raw), []
    except ValidationError as exc:
        return None, _structure_problems(exc)


def parse_dataset(raw: object, methodology_override: str | None = None) -> tuple[DatasetIn, Methodology]:
    """Validate raw data into a dataset and its methodology, or raise DatasetError naming
    every problem found."""
    if isinstance(raw, DatasetIn):
        raw = raw.model_dump()
    dataset, problems = _validate_structure(raw)
    methodology, methodology_problems = _methodology(raw, methodology_override)
    # Valid data is checked in its validated form: pydantic also accepts, say, a tuple for a list.
    checked = raw if dataset is None else dataset.model_dump()
    problems += methodology_problems + _semantic_problems(checked, methodology)
    if problems or dataset is None or methodology is None:
        raise DatasetError(_in_path_order(problems))
    return dataset, methodology
