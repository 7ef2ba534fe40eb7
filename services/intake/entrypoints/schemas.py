"""Request bodies. Types are strict (a level of "2" or true is refused, not coerced) and
unknown fields are refused, so a typo is reported instead of silently ignored. The rules of
each field come from `domain.profile`, so every problem of a body is reported in one 422."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from services.common.methodology.catalogue import load_urusan
from services.common.openapi import NAME_PATTERN, TEXT_PATTERN
from services.common.principal import AGENCY_ID_PATTERN
from services.intake.domain import profile as rules
from services.intake.domain.profile import Profile

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_value", "{value} is not a calendar date", {"value": value}) from None


def _storable(value: Any) -> Any:
    if isinstance(value, str) and (reason := rules.text_problem(value)):
        raise PydanticCustomError("text", reason)
    return value


IsoDate = Annotated[date | None, BeforeValidator(_iso_date)]
# Every free text passes _storable: PostgreSQL refuses NUL and lone surrogates, and a
# client must get a 422 for them, not a 500. The document publishes the rule as a pattern.
Text = Annotated[
    StrictStr | None,
    Field(max_length=rules.TEXT_MAX, json_schema_extra={"pattern": TEXT_PATTERN}),
    AfterValidator(_storable),
]
Name = Annotated[
    StrictStr,
    Field(json_schema_extra={"pattern": NAME_PATTERN},
          description="not blank; no control characters but newline and tab"),
    AfterValidator(_storable),
]


def _listed(name: str) -> dict[str, Any]:
    """The values urusan.yaml allows (its urusan codes, or one of its enumerations), for the
    document: the validators below check them, so a 422 names the field and the options."""
    catalogue = load_urusan()
    return {"enum": sorted(catalogue.codes if name == "urusan" else catalogue.enumeration(name))}


Urusan = Annotated[StrictStr, Field(json_schema_extra=_listed("urusan"))]
Tahapan = Annotated[StrictStr, Field(json_schema_extra=_listed("tahapan"))]
Jenis = Annotated[StrictStr, Field(json_schema_extra=_listed("jenis"))]
Bentuk = Annotated[StrictStr, Field(json_schema_extra=_listed("bentuk"))]
Inisiator = Annotated[StrictStr, Field(json_schema_extra=_listed("inisiator"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfileBody(_Body):
    """The whole profile: PUT replaces it (a field left out becomes empty)."""

    name: Annotated[Name, Field(max_length=rules.NAME_MAX)]
    urusan_utama: Urusan
    tahapan: Tahapan | None = None
    jenis: Jenis | None = None
    bentuk: Bentuk | None = None
    inisiator: Inisiator | None = None
    urusan_lain: Annotated[
        list[Urusan],
        Field(max_length=rules.URUSAN_LAIN_MAX, json_schema_extra={"uniqueItems": True},
              description="other urusan, each once, not the urusan utama"),
    ] = []
    tanggal_uji_coba: IsoDate = None
    tanggal_penerapan: Annotated[IsoDate, Field(description="on or after tanggal_uji_coba")] = None
    rancang_bangun: Text = None
    tujuan: Text = None
    manfaat: Text = None
    hasil: Text = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if rules.is_blank(value):
            raise PydanticCustomError("blank", "must not be blank")
        return value

    @field_validator(*rules.ENUM_FIELDS)
    @classmethod
    def _enumeration(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (reason := rules.enum_problem(info.field_name or "", value)):
            raise PydanticCustomError("enum", reason)
        return value

    @field_validator("urusan_utama")
    @classmethod
    def _urusan_utama(cls, value: str) -> str:
        if reason := rules.urusan_problem(value):
            raise PydanticCustomError("urusan", reason)
        return value

    @field_validator("urusan_lain")
    @classmethod
    def _urusan_lain(cls, value: list[str], info: ValidationInfo) -> list[str]:
        problems = rules.urusan_lain_problems(info.data.get("urusan_utama"), value)
        if problems:
            raise PydanticCustomError("urusan", "; ".join(problems))
        return value

    @field_validator("tanggal_penerapan")
    @classmethod
    def _after_trial(cls, value: date | None, info: ValidationInfo) -> date | None:
        if reason := rules.date_order_problem(info.data.get("tanggal_uji_coba"), value):
            raise PydanticCustomError("date_order", reason)
        return value

    def to_profile(self) -> Profile:
        values = self.model_dump()
        values["urusan_lain"] = tuple(self.urusan_lain)
        return Profile(**values)

    def fingerprint(self) -> str:
        """Same for bodies that mean the same (key order, spacing), for Idempotency-Key."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _whole_number(value: Any) -> Any:
    """2.0 is the JSON number 2 (JSON Schema's integer), unlike "2" or true, still refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class LevelBody(_Body):
    level: Annotated[StrictInt, Field(ge=1, le=3), BeforeValidator(_whole_number)] | None = Field(
        description="1, 2 or 3; null clears the answer"
    )


class AgencyBody(_Body):
    id: Annotated[
        StrictStr, Field(pattern=AGENCY_ID_PATTERN, description="slug: a-z, 0-9, '-', '_'; the operator tokens' agency")
    ]
    name: Annotated[Name, Field(min_length=1, max_length=200)]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if rules.is_blank(value):
            raise PydanticCustomError("blank", "must not be blank")
        return value
