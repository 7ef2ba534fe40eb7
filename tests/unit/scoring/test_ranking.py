from services.scoring.domain.engine import FIGURES
from services.scoring.domain.ranking import Entry, LiveRanking, competition_ranks, rank_changes, rank_regions


def entry(code, type_, province, iid):
    return Entry(code, type_, province, {f: iid for f in FIGURES})


def test_competition_ranking_shares_ties_and_skips():
    assert competition_ranks({"a": 50, "b": 40, "c": 40, "d": 30}) == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_ranks_within_type_and_province():
    entries = [
        entry("62", "provinsi", None, 1000),
        entry("63", "provinsi", None, 2000),
        entry("62.01", "kabupaten", "62", 3000),
        entry("62.02", "kabupaten", "62", 4000),
        entry("63.01", "kabupaten", "63", 3500),
        entry("62.71", "kota", "62", 100),
    ]
    ranking = rank_regions(entries)
    assert ranking["63"]["validated"].type == 1 and ranking["63"]["validated"].province is None
    assert ranking["62"]["validated"].type == 2
    assert [ranking[c]["validated"].type for c in ("62.02", "63.01", "62.01")] == [1, 2, 3]
    assert ranking["62.01"]["validated"].province == 2
    assert ranking["63.01"]["validated"].province == 1
    # A kota is ranked among kota, not with the kabupaten of its province.
    assert ranking["62.71"]["validated"].type == 1 and ranking["62.71"]["validated"].province == 1
    assert ranking["62.01"]["validated"].type_size == 3


def test_rank_change_is_positive_when_moving_up():
    before = rank_regions([entry("62.01", "kabupaten", "62", 10), entry("62.02", "kabupaten", "62", 20)])
    after = rank_regions([entry("62.01", "kabupaten", "62", 30), entry("62.02", "kabupaten", "62", 20)])
    changes = rank_changes(after, before)
    assert changes["62.01"]["validated"] == {"type": 1, "province": 1}
    assert changes["62.02"]["validated"] == {"type": -1, "province": -1}


def test_live_ranking_matches_a_full_ranking_after_updates():
    entries = [entry(f"62.{k:02d}", "kabupaten", "62" if k % 2 else "63", k * 7 % 11) for k in range(1, 30)]
    live = LiveRanking(entries)
    changed = entry("62.05", "kabupaten", "62", 99)
    moved = entry("62.06", "kabupaten", "62", 0)  # was in province 63
    live.update(changed)
    live.update(moved)
    expected_entries = {e.code: e for e in entries}
    expected_entries[changed.code] = changed
    expected_entries[moved.code] = moved
    assert live.snapshot() == rank_regions(expected_entries.values())
