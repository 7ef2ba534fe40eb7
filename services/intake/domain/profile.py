"""An innovation's profile (the proposal's fields) and the rules on each field.

The enumerations (tahapan, jenis, bentuk, inisiator) and urusan codes come from the urusan
catalogue (`urusan.yaml`), so adding an option there needs no code change. Every function
here is pure: it returns the problems it finds, it never raises for bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache

from services.common.methodology.catalogue import UrusanCatalogue, load_urusan
from services.common.text import control_character_problem

ENUM_FIELDS: tuple[str, ...] = ("tahapan", "jenis", "bentuk", "inisiator")
TEXT_FIELDS: tuple[str, ...] = ("rancang_bangun", "tujuan", "manfaat", "hasil")
DATE_FIELDS: tuple[str, ...] = ("tanggal_uji_coba", "tanggal_penerapan")
# Everything a submission needs; urusan_lain may stay empty. Assumption: a trial date is
# required too, as in the national form, where every reported innovation went through a trial.
REQUIRED_FOR_SUBMISSION: tuple[str, ...] = (
    "name", *ENUM_FIELDS, "urusan_utama", *DATE_FIELDS, *TEXT_FIELDS,
)

NAME_MAX = 300
TEXT_MAX = 50_000
URUSAN_LAIN_MAX = 10

# A word is a run of non-space characters holding at least one letter or digit, so "e-KTP"
# and "2024" are words and a lone "-" or "•" is not.
_TOKEN = re.compile(r"\S+")
_HAS_ALNUM = re.compile(r"[^\W_]")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Profile:
    """What an operator writes about an innovation. Only name and urusan_utama are needed
    for a draft (every event carries them); the rest is needed at submission."""

    name: str
    urusan_utama: str
    tahapan: str | None = None
    jenis: str | None = None
    bentuk: str | None = None
    inisiator: str | None = None
    urusan_lain: tuple[str, ...] = ()
    tanggal_uji_coba: date | None = None
    tanggal_penerapan: date | None = None
    rancang_bangun: str | None = None
    tujuan: str | None = None
    manfaat: str | None = None
    hasil: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@lru_cache(maxsize=1024)  # the same texts are counted at every edit, view and check of their innovation
def count_words(text: str | None) -> int:
    if not text:
        return 0
    return sum(1 for token in _TOKEN.findall(text) if _HAS_ALNUM.search(token))


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _options(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def text_problem(value: str) -> str | None:
    """Text that is not fit to keep: a control character other than newline and tab (NUL,
    which PostgreSQL cannot store, carriage returns, escapes that would garble a page or a
    report), or a lone surrogate (not Unicode at all)."""
    if problem := control_character_problem(value):
        return problem
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


def enum_problem(name: str, value: str, catalogue: UrusanCatalogue | None = None) -> str | None:
    allowed = (catalogue or load_urusan()).enumeration(name)
    if value not in allowed:
        return f"{value!r} is not a known {name}; expected one of {_options(allowed)}"
    return None


def urusan_problem(code: str, catalogue: UrusanCatalogue | None = None) -> str | None:
    if code not in (catalogue or load_urusan()).codes:
        return f"{code!r} is not an urusan code of urusan.yaml"
    return None


def urusan_lain_problems(
    urusan_utama: str | None, urusan_lain: Sequence[str], catalogue: UrusanCatalogue | None = None
) -> list[str]:
    problems = [p for p in (urusan_problem(code, catalogue) for code in urusan_lain) if p]
    repeated = sorted({code for code in urusan_lain if urusan_lain.count(code) > 1})
    if repeated:
        problems.append(f"{', '.join(repeated)} listed more than once")
    if urusan_utama is not None and urusan_utama in urusan_lain:
        problems.append(f"{urusan_utama!r} is already the urusan utama")
    if len(urusan_lain) > URUSAN_LAIN_MAX:
        problems.append(f"at most {URUSAN_LAIN_MAX} urusan lain, got {len(urusan_lain)}")
    return problems


def date_order_problem(tanggal_uji_coba: date | None, tanggal_penerapan: date | None) -> str | None:
    if tanggal_uji_coba and tanggal_penerapan and tanggal_penerapan < tanggal_uji_coba:
        return (
            f"the application date {tanggal_penerapan.isoformat()} is before the trial date "
            f"{tanggal_uji_coba.isoformat()}"
        )
    return None


def profile_problems(profile: Profile, catalogue: UrusanCatalogue | None = None) -> list[FieldProblem]:
    """Every field rule the profile breaks (empty = a valid draft)."""
    catalogue = catalogue or load_urusan()
    problems: list[FieldProblem] = []
    for name in ("name", *TEXT_FIELDS):
        value = getattr(profile, name)
        if isinstance(value, str) and (reason := text_problem(value)):
            problems.append(FieldProblem(name, reason))
    if is_blank(profile.name):
        problems.append(FieldProblem("name", "must not be blank"))
    elif len(profile.name) > NAME_MAX:
        problems.append(FieldProblem("name", f"at most {NAME_MAX} characters"))
    for name in ENUM_FIELDS:
        value = getattr(profile, name)
        if value is not None and (reason := enum_problem(name, value, catalogue)):
            problems.append(FieldProblem(name, reason))
    if reason := urusan_problem(profile.urusan_utama, catalogue):
        problems.append(FieldProblem("urusan_utama", reason))
    for reason in urusan_lain_problems(profile.urusan_utama, profile.urusan_lain, catalogue):
        problems.append(FieldProblem("urusan_lain", reason))
    if reason := date_order_problem(profile.tanggal_uji_coba, profile.tanggal_penerapan):
        problems.append(FieldProblem("tanggal_penerapan", reason))
    for name in TEXT_FIELDS:
        value = getattr(profile, name)
        if value is not None and len(value) > TEXT_MAX:
            problems.append(FieldProblem(name, f"at most {TEXT_MAX} characters"))
    return problems


def missing_fields(profile: Profile) -> list[str]:
    """Fields a submission needs that are absent or blank, in form order."""
    return [name for name in REQUIRED_FOR_SUBMISSION if is_blank(getattr(profile, name))]
