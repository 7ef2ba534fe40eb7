import pytest

from services.scoring.domain.dataset import DatasetError, parse_dataset

from .builders import dataset, innovation, worked_example_1


def problems(raw) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        parse_dataset(raw)
    return caught.value.problems


def test_unknown_indicator_is_named_by_its_path():
    regions = [worked_example_1() for _ in range(4)]
    for k, region in enumerate(regions, start=1):
        region["code"] = f"62.0{k}"
    regions[3]["innovations"][0]["answers"]["sid-99"] = {"level": 1, "evidence": "pending"}
    assert problems(dataset(*regions)) == ["regions[3].innovations[0].answers.sid-99: unknown indicator"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["spd"].update({"spd-01": {"level": 4, "evidence": "accepted"}}),
         "regions[0].spd.spd-01.level: Input should be less than or equal to 3"),
        (lambda r: r["spd"].update({"spd-01": {"level": "2", "evidence": "accepted"}}),
         "regions[0].spd.spd-01.level: Input should be a valid integer"),
        (lambda r: r["spd"].update({"spd-01": {"level": 2, "evidence": "maybe"}}),
         "regions[0].spd.spd-01.evidence: Input should be 'none', 'pending', 'accepted' or 'rejected'"),
        (lambda r: r["spd"].update({"sid-16": {"level": 2}}),
         "regions[0].spd.sid-16: not an SPD indicator (it is answered per innovation)"),
        (lambda r: r["innovations"][1].update({"status": "done"}),
         "regions[0].innovations[1].status: Input should be 'draft', 'submitted' or 'withdrawn'"),
        (lambda r: r["innovations"][1].update({"urusan_utama": "magic"}),
         "regions[0].innovations[1].urusan_utama: unknown urusan 'magic'"),
        (lambda r: r["innovations"][1].update({"id": "a0"}),
         "regions[0].innovations[1].id: innovation 'a0' appears more than once in this region"),
        (lambda r: r.update({"type": "kecamatan"}),
         "regions[0].type: Input should be 'provinsi', 'kabupaten' or 'kota'"),
        (lambda r: r.pop("province"), "regions[0].province: required for a kabupaten"),
        (lambda r: r.update({"innovation": []}), "regions[0].innovation: Extra inputs are not permitted"),
    ],
)
def test_malformed_fields_are_named(mutate, expected):
    region = worked_example_1()
    mutate(region)
    assert expected in problems(dataset(region))


def test_every_problem_is_reported_at_once():
    first, second = worked_example_1(), worked_example_1()
    first["spd"]["spd-01"] = {"level": 4, "evidence": "accepted"}  # structure: out of range
    first["innovations"][2]["status"] = "done"  # structure: not a status
    first["innovations"][0]["answers"]["sid-99"] = {"level": 1, "evidence": "pending"}  # catalogue
    second["innovations"][1]["urusan_utama"] = "magic"  # catalogue, in another region
    second["code"] = "99.99"  # the region list
    assert problems(dataset(first, second)) == [
        "regions[0].innovations[0].answers.sid-99: unknown indicator",
        "regions[0].innovations[2].status: Input should be 'draft', 'submitted' or 'withdrawn'",
        "regions[0].spd.spd-01.level: Input should be less than or equal to 3",
        "regions[1].code: '99.99' is not a Kemendagri region code",
        "regions[1].innovations[1].urusan_utama: unknown urusan 'magic'",
    ]


def test_catalogue_checks_run_beside_an_unknown_methodology():
    region = worked_example_1()
    region["innovations"][0]["urusan_lain"] = ["magic"]
    assert problems(dataset(region, methodology="iid-1999")) == [
        "methodology: unknown methodology 'iid-1999' (known: iid-2023, iid-2026)",
        "regions[0].innovations[0].urusan_lain[0]: unknown urusan 'magic'",
    ]


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ({"code": "99.99", "type": "kabupaten", "province": "99"},
         ["regions[0].code: '99.99' is not a Kemendagri region code"]),
        ({"code": "62.10", "type": "kabupaten", "province": "11"},
         ["regions[0].province: 62.10 is in province 62, not 11"]),
        ({"code": "62.71", "type": "kabupaten", "province": "62"},
         ["regions[0].type: 62.71 is a kota, not a kabupaten"]),
        ({"code": "62", "type": "provinsi", "province": "63"},
         ["regions[0].province: 62 is in province 62, not 63"]),
        ({"code": "62.10", "type": "provinsi", "province": "11"},
         ["regions[0].province: 62.10 is in province 62, not 11",
          "regions[0].type: 62.10 is a kabupaten, not a provinsi"]),
    ],
)
def test_regions_are_checked_against_the_546(region, expected):
    assert problems(dataset(region)) == expected


@pytest.mark.parametrize(
    "region",
    [
        {"code": "62", "type": "provinsi"},
        {"code": "62", "type": "provinsi", "province": "62"},
        {"code": "62.71", "type": "kota", "province": "62"},
    ],
)
def test_a_region_as_in_the_list_is_accepted(region):
    parsed, _ = parse_dataset(dataset(region))
    assert parsed.regions[0].code == region["code"]


def test_a_structure_problem_is_not_reported_twice():
    region = {"code": 62.1, "type": "kecamatan", "province": 62}
    assert problems(dataset(region)) == [
        "regions[0].code: Input should be a valid string",
        "regions[0].province: Input should be a valid string",
        "regions[0].type: Input should be 'provinsi', 'kabupaten' or 'kota'",
    ]


def test_unknown_methodology_and_duplicate_regions():
    assert problems({"methodology": "iid-1999", "regions": []}) == [
        "methodology: unknown methodology 'iid-1999' (known: iid-2023, iid-2026)"
    ]
    region = {"code": "11", "type": "provinsi"}
    assert problems(dataset(region, dict(region))) == ["regions[1].code: region '11' appears more than once"]


def test_not_an_object_at_all():
    assert problems([1, 2]) == ["(dataset): Input should be a valid dictionary or instance of DatasetIn"]


def test_methodology_override_wins():
    region = {"code": "11", "type": "provinsi", "innovations": [innovation("x", "kesehatan", {})]}
    _, methodology = parse_dataset(dataset(region), methodology_override="iid-2023")
    assert methodology.id == "iid-2023"
