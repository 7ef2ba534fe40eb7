import pytest

from services.scoring.domain.dataset import DatasetError, parse_dataset

from .builders import dataset, innovation, worked_example_1


def problems(raw) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        parse_dataset(raw)
    return caught.value.problems


def test_unknown_indicator_is_named_by_its_path():
    regions = [worked_example_1() for _ in range(4)]
    for k, region in enumerate(regions):
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
