"""Field rules of an innovation profile and word counting."""

from __future__ import annotations

from datetime import date

import pytest

from services.intake.domain.profile import (
    REQUIRED_FOR_SUBMISSION,
    FieldProblem,
    count_words,
    missing_fields,
    profile_problems,
)

from .builders import eligible_profile


def test_a_complete_profile_has_no_problem_and_nothing_missing():
    assert profile_problems(eligible_profile()) == []
    assert missing_fields(eligible_profile()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, 0),
        ("", 0),
        ("   \n\t ", 0),
        ("satu", 1),
        ("satu dua\ntiga\tempat", 4),
        ("layanan e-KTP 2024 — cepat", 4),  # a lone dash is not a word
        ("• butir satu • butir dua", 4),
        ("kata, kata. kata!", 3),
    ],
)
def test_count_words(text, expected):
    assert count_words(text) == expected


@pytest.mark.parametrize(
    ("field", "value", "reason_part"),
    [
        ("tahapan", "selesai", "not a known tahapan"),
        ("jenis", "Digital", "not a known jenis"),
        ("bentuk", "x", "not a known bentuk"),
        ("inisiator", "bupati", "not a known inisiator"),
        ("urusan_utama", "kesehatann", "not an urusan code"),
        ("name", "  ", "blank"),
    ],
)
def test_each_bad_field_is_named_with_its_reason(field, value, reason_part):
    problems = profile_problems(eligible_profile(**{field: value}))
    assert [p.field for p in problems] == [field]
    assert reason_part in problems[0].reason


def test_urusan_lain_rules_name_every_problem():
    problems = profile_problems(eligible_profile(urusan_lain=("kesehatan", "sosial", "sosial", "bukan_urusan")))
    assert {p.field for p in problems} == {"urusan_lain"}
    reasons = " | ".join(p.reason for p in problems)
    assert "'bukan_urusan' is not an urusan code" in reasons
    assert "sosial listed more than once" in reasons
    assert "'kesehatan' is already the urusan utama" in reasons


def test_application_before_trial_is_refused():
    problems = profile_problems(eligible_profile(tanggal_uji_coba=date(2025, 2, 1), tanggal_penerapan=date(2025, 1, 1)))
    assert problems == [FieldProblem(
        "tanggal_penerapan", "the application date 2025-01-01 is before the trial date 2025-02-01")]


def test_missing_fields_are_listed_in_form_order():
    profile = eligible_profile(tujuan=None, tahapan=None, hasil="  ", tanggal_penerapan=None)
    assert missing_fields(profile) == ["tahapan", "tanggal_penerapan", "tujuan", "hasil"]
    assert set(missing_fields(eligible_profile(**{f: None for f in REQUIRED_FOR_SUBMISSION if f != "name"}, name=""))) \
        >= set(REQUIRED_FOR_SUBMISSION) - {"urusan_utama"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("biasa", None),
        ("emoji 🚀 dan aksara ꦗꦮ", None),
        ("baris satu\nbaris dua\tdengan tab", None),
        ("ada\x00nul", "must not contain control characters other than newline and tab (found U+0000)"),
        ("baris\r\nWindows", "must not contain control characters other than newline and tab (found U+000D)"),
        ("warna \x1b[31mmerah", "must not contain control characters other than newline and tab (found U+001B)"),
        ("hapus\x7f", "must not contain control characters other than newline and tab (found U+007F)"),
        ("C1 \x85 NEL", "must not contain control characters other than newline and tab (found U+0085)"),
        ("separuh \ud800", "must be valid Unicode text"),
    ],
)
def test_text_with_control_characters_or_not_unicode_is_a_problem_of_its_field(text, problem):
    problems = profile_problems(eligible_profile(tujuan=text))
    assert problems == ([FieldProblem("tujuan", problem)] if problem else [])
