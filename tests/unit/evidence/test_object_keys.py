"""Evidence object keys reveal nothing and predict nothing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.evidence.domain.object_keys import (
    TOKEN_BYTES,
    ObjectKey,
    new_object_key,
    parse_object_key,
)

KEY_FORMAT = re.compile(r"evidence/2026/62\.10/[0-9a-f]{32}")


def test_key_format() -> None:
    key = new_object_key(2026, "62.10")
    assert KEY_FORMAT.fullmatch(key), key


def test_province_codes_are_accepted() -> None:
    assert re.fullmatch(r"evidence/2026/62/[0-9a-f]{32}", new_object_key(2026, "62"))


def test_token_carries_128_bits() -> None:
    token = bytes(range(TOKEN_BYTES))
    key = new_object_key(2026, "62.10", token=token)
    assert key == f"evidence/2026/62.10/{token.hex()}"
    assert TOKEN_BYTES * 8 == 128


def test_keys_are_unique_and_not_sequential() -> None:
    keys = [new_object_key(2026, "62.10") for _ in range(2000)]
    assert len(set(keys)) == len(keys)
    # A counter or a timestamp would come out in order (probability by chance: 1/2000!).
    assert keys != sorted(keys)
    # Consecutive keys share no long common prefix of the token, as a counter's would.
    tokens = [parse_object_key(key).token for key in keys]
    shared = [len(_common_prefix(a, b)) for a, b in zip(tokens, tokens[1:], strict=False)]
    assert max(shared) < 12  # 48 equal leading bits between random neighbours: ~2000/2**48


def test_token_bits_look_uniform() -> None:
    tokens = [parse_object_key(new_object_key(2026, "11")).token for _ in range(500)]
    ones = sum(bin(int(token, 16)).count("1") for token in tokens)
    bits = 500 * 128
    # Mean 32000, standard deviation ~179: six sigma either way.
    assert abs(ones - bits / 2) < 6 * (bits**0.5) / 2


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


@pytest.mark.parametrize(
    ("cycle", "region"),
    [
        (26, "62.10"),
        (20260, "62.10"),
        (True, "62.10"),
        ("2026", "62.10"),
        (2026, "62.1"),
        (2026, "62-10"),
        (2026, "../62"),
        (2026, "62.10/../../x"),
        (2026, "٦٢.١٠"),  # Arabic-Indic digits are digits to \d, not to Kemendagri
        (2026, ""),
    ],
)
def test_bad_cycles_and_regions_are_refused(cycle: object, region: object) -> None:
    with pytest.raises(ValueError):
        new_object_key(cycle, region)  # type: ignore[arg-type]


def test_wrong_token_length_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        new_object_key(2026, "62.10", token=b"\x00" * 8)


@pytest.mark.parametrize(
    "key",
    [
        "evidence/2026/62.10/laporan.pdf",
        "evidence/2026/62.10/" + "0" * 31,
        "evidence/2026/62.10/" + "A" * 32,
        "other/2026/62.10/" + "0" * 32,
        "evidence/2026/62.10/" + "0" * 32 + "/x",
    ],
)
def test_parse_refuses_foreign_keys(key: str) -> None:
    with pytest.raises(ValueError):
        parse_object_key(key)


@given(
    st.integers(min_value=1000, max_value=9999),
    st.from_regex(r"[0-9]{2}(\.[0-9]{2})?", fullmatch=True),
    st.binary(min_size=TOKEN_BYTES, max_size=TOKEN_BYTES),
)
def test_parse_inverts_new(cycle: int, region: str, token: bytes) -> None:
    key = new_object_key(cycle, region, token=token)
    assert parse_object_key(key) == ObjectKey(cycle, region, token.hex())
    assert str(parse_object_key(key)) == key
