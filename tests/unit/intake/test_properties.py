"""Property tests: eligibility names exactly the rules that fail, and word counting."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain.eligibility import (
    APPLICATION_DATE_IN_PERIOD,
    MANDATORY_INDICATORS,
    MIN_RANCANG_BANGUN_WORDS,
    RANCANG_BANGUN_LENGTH,
    REQUIRED_FIELDS,
    RULES,
    SUBMISSION_WINDOW,
    check_eligibility,
)
from services.intake.domain.profile import count_words

from .builders import CYCLE_2026, MANDATORY, OPEN, all_mandatory_answered, eligible_profile, words

# Fields whose absence breaks only the required-fields rule (the date and rancang bangun
# have rules of their own).
PLAIN_REQUIRED = ("tahapan", "jenis", "bentuk", "inisiator", "tanggal_uji_coba", "tujuan", "manfaat", "hasil")

alnum_words = st.text(
    alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12
)
separators = st.text(alphabet=" \t\n\r\u00a0\u2003", min_size=1, max_size=3)
punctuation_tokens = st.text(alphabet="-—–•.,;:!?()\"'/", min_size=1, max_size=3)


@st.composite
def broken_innovations(draw):
    """An eligible innovation with a random set of rules broken, and that set."""
    broken = draw(st.sets(st.sampled_from(RULES)))
    changes: dict[str, object] = {}
    answers = all_mandatory_answered(draw(st.integers(1, 3)))
    now = OPEN
    missing: list[str] = []
    unanswered: list[str] = []
    if REQUIRED_FIELDS in broken:
        missing = draw(st.lists(st.sampled_from(PLAIN_REQUIRED), min_size=1, unique=True))
        for name in missing:
            changes[name] = draw(st.sampled_from([None, "", "  \n"])) if name != "tanggal_uji_coba" else None
    if APPLICATION_DATE_IN_PERIOD in broken:
        days = draw(st.integers(1, 5000))
        before = draw(st.booleans())
        changes["tanggal_penerapan"] = (
            CYCLE_2026.application_from - timedelta(days=days) if before
            else CYCLE_2026.application_to + timedelta(days=days)
        )
        if "tanggal_uji_coba" not in missing:  # a trial before the application, as required
            changes["tanggal_uji_coba"] = changes["tanggal_penerapan"] - timedelta(days=30)  # type: ignore[operator]
    else:
        changes["tanggal_penerapan"] = CYCLE_2026.application_from + timedelta(
            days=draw(st.integers(0, (CYCLE_2026.application_to - CYCLE_2026.application_from).days))
        )
        if "tanggal_uji_coba" not in missing:
            changes["tanggal_uji_coba"] = date(2023, 1, 1)
    if RANCANG_BANGUN_LENGTH in broken:
        n = draw(st.integers(1, MIN_RANCANG_BANGUN_WORDS - 1))
    else:
        n = draw(st.integers(MIN_RANCANG_BANGUN_WORDS, MIN_RANCANG_BANGUN_WORDS + 50))
    changes["rancang_bangun"] = words(n)
    if MANDATORY_INDICATORS in broken:
        unanswered = draw(st.lists(st.sampled_from([m.code for m in MANDATORY]), min_size=1, unique=True))
        for code in unanswered:
            if draw(st.booleans()):
                del answers[code]
            else:
                answers[code] = None
    if SUBMISSION_WINDOW in broken:
        if draw(st.booleans()):
            now = CYCLE_2026.window_closes_at + timedelta(seconds=draw(st.integers(0, 10**8)))
        else:
            now = CYCLE_2026.window_opens_at - timedelta(seconds=draw(st.integers(1, 10**8)))
    return eligible_profile(**changes), answers, now, broken, set(missing), set(unanswered)


@given(broken_innovations())
@settings(max_examples=300, deadline=None)
def test_eligibility_names_exactly_the_rules_that_fail(case):
    profile, answers, now, broken, missing, unanswered = case
    failures = check_eligibility(profile, answers, CYCLE_2026, MANDATORY, now)
    assert {f.rule for f in failures} == broken
    assert {f.field for f in failures if f.rule == REQUIRED_FIELDS} == missing
    assert {f.field for f in failures if f.rule == MANDATORY_INDICATORS} == {f"answers.{c}" for c in unanswered}
    # One failure per field: nothing is reported twice.
    assert len({f.field for f in failures}) == len(failures)
    assert all(f.reason for f in failures)


@given(st.lists(alnum_words, max_size=60), st.data())
@settings(max_examples=120, deadline=None)
def test_words_count_whatever_the_spacing_and_loose_punctuation(tokens, data):
    pieces: list[str] = [data.draw(st.one_of(st.just(""), separators))]
    for word in tokens:
        pieces.append(word)
        pieces.append(data.draw(separators))
        if data.draw(st.booleans()):  # a bullet or dash standing alone is not a word
            pieces.append(data.draw(punctuation_tokens))
            pieces.append(data.draw(separators))
    assert count_words("".join(pieces)) == len(tokens)


@given(st.lists(alnum_words, min_size=1, max_size=30), st.lists(alnum_words, min_size=1, max_size=30))
def test_word_counts_add_up(first, second):
    one, other = " ".join(first), " ".join(second)
    assert count_words(one + "\n" + other) == count_words(one) + count_words(other)
