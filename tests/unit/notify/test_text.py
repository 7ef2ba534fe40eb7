"""Text from outside made storable in PostgreSQL."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.notify.domain.text import pg_text


def test_nul_is_dropped_and_lone_surrogates_replaced():
    assert pg_text("ok\x00binary") == "okbinary"
    assert pg_text("\x00\x00") == ""
    assert pg_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert pg_text("naïve ✓ 🙂 \ufffd\t\n") == "naïve ✓ 🙂 \ufffd\t\n"
    assert pg_text(None) is None


def test_limit_counts_the_cleaned_text():
    assert pg_text("\x00" * 10 + "abcdef", limit=3) == "abc"
    assert pg_text("abc", limit=10) == "abc"


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=200))  # surrogates included
def test_the_result_is_always_utf8_without_nul(value):
    cleaned = pg_text(value)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # no lone surrogate left
