"""The methodology catalogues load, add up, and are refused with a named problem when not."""

from decimal import Decimal
from importlib import resources

import pytest
import yaml

from services.common.methodology.catalogue import CatalogueError, load_methodology, parse_methodology


def catalogue_text(methodology_id: str) -> str:
    data = resources.files("services.common.methodology").joinpath("data", f"{methodology_id}.yaml")
    return data.read_text(encoding="utf-8")


@pytest.mark.parametrize("methodology_id", ["iid-2023", "iid-2026"])
def test_shipped_catalogues_add_up(methodology_id):
    m = load_methodology(methodology_id)
    assert len(m.indicators_of("spd")) == 20 and len(m.indicators_of("sid")) == 20
    assert sum(i.weight * 3 for i in m.indicators_of("spd")) == Decimal(63)
    assert sum(i.weight * 3 for i in m.indicators_of("sid")) == Decimal(111)
    assert m.max_scores.total == 250


def test_assumed_rows_stay_visible():
    m2023 = load_methodology("iid-2023")
    assert all(i.assumed for i in m2023.indicators_of("spd"))
    assert m2023.sji.assumed
    m2026 = load_methodology("iid-2026")
    assert m2026.indicator_by_code["sid-16"].evidence.assumed
    assert not m2026.indicator_by_code["spd-01"].assumed
    assert m2026.mandatory_codes("sid")[:2] == ("sid-16", "sid-17")


def edited(change) -> str:
    raw = yaml.safe_load(catalogue_text("iid-2026"))
    change(raw)
    return yaml.safe_dump(raw, allow_unicode=True)


def refusal(change) -> str:
    with pytest.raises(CatalogueError) as caught:
        parse_methodology(edited(change), "edited.yaml")
    return str(caught.value)


def test_maxima_that_do_not_add_up_are_refused():
    def heavier(raw):
        raw["indicators"][0]["weight"] = 2
    assert "max_scores.spd is 63 but the indicators add up to 66" in refusal(heavier)

    def total(raw):
        raw["max_scores"]["total"] = 251
    assert "max_scores.total is 251 but spd + sid + sji = 250" in refusal(total)

    def sji(raw):
        raw["sji"]["cap_innovations"] = 100
    assert "max_scores.sji is 76 but the indicators add up to 38.00" in refusal(sji)


def test_repeated_codes_are_refused():
    def repeat(raw):
        raw["indicators"][1]["code"] = raw["indicators"][0]["code"]
    assert "indicator code 'spd-01' appears more than once" in refusal(repeat)


def test_overlapping_and_gapped_categories_are_refused():
    def overlap(raw):
        raw["categories"][1]["max"] = 65.01
    assert "categories 'sangat_inovatif' (min 65.01) and 'inovatif' (max 65.01) overlap" in refusal(overlap)

    def gap(raw):
        raw["categories"][2]["max"] = 39.50
    assert "categories 'kurang_inovatif' (max 39.5) and 'inovatif' (min 40.01) leave a gap" in refusal(gap)


def test_levels_must_be_one_to_three():
    def levels(raw):
        raw["indicators"][0]["levels"] = raw["indicators"][0]["levels"][:2]
    assert "spd-01: levels must be exactly 1, 2 and 3" in refusal(levels)


def test_unknown_methodology_is_refused():
    with pytest.raises(CatalogueError, match="unknown methodology 'iid-1999'"):
        load_methodology("iid-1999")
