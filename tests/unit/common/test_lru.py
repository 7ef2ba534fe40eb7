"""LruCache against a list that records the order of use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.lru import LruCache

operations = st.lists(
    st.tuples(st.sampled_from(["get", "put", "discard"]), st.integers(0, 9), st.integers()), max_size=200
)


@given(st.integers(1, 5), operations)
def test_holds_the_most_recently_used_entries_up_to_its_capacity(
    capacity: int, steps: list[tuple[str, int, int]]
) -> None:
    cache: LruCache[int, int] = LruCache(capacity)
    model: list[tuple[int, int]] = []  # least recently used first
    for operation, key, value in steps:
        found = next((entry for entry in model if entry[0] == key), None)
        if operation == "get":
            assert cache.get(key) == (found[1] if found else None)
            if found:
                model.remove(found)
                model.append(found)
        elif operation == "put":
            cache.put(key, value)
            if found:
                model.remove(found)
            model.append((key, value))
            del model[:-capacity]
        else:
            cache.discard(key)
            if found:
                model.remove(found)
        assert len(cache) == len(model) <= capacity
        assert all(k in cache for k, _ in model)


def test_refuses_a_capacity_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LruCache(0)
