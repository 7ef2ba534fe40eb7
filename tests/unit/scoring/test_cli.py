"""The `inovasi score` commands, run as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from .builders import dataset, worked_example_1, worked_example_2

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def inovasi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, timeout=60
    )


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in SCHEMAS.glob("*.schema.json")
    ]
    registry = Registry().with_resources(resources)
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / name).read_text()), registry=registry)


@pytest.fixture
def example_file(tmp_path) -> Path:
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(dataset(worked_example_1(), worked_example_2())))
    return path


def test_compute_reproduces_the_worked_examples(example_file):
    done = inovasi("score", "compute", str(example_file))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    schema_validator("result.schema.json").validate(result)
    by_code = {r["region"]: r for r in result["regions"]}
    assert by_code["62.10"]["validated"]["iid"] == "47.04"
    assert by_code["62.10"]["validated"]["category"] == "inovatif"
    assert by_code["62.11"]["validated"]["iid"] == "38.55"
    assert by_code["62.11"]["validated"]["category"] == "kurang_inovatif"
    assert by_code["62.11"]["validated"]["ranks"]["type"] == {"position": 2, "of": 2}


def test_methodology_override_and_rank_change(example_file, tmp_path):
    first = inovasi("score", "compute", str(example_file), "--methodology", "iid-2023")
    assert json.loads(first.stdout)["methodology"] == "iid-2023"
    previous = tmp_path / "previous.json"
    previous.write_text(first.stdout)
    second = inovasi("score", "compute", str(example_file), "--previous", str(previous))
    changes = {r["region"]: r["rank_change"] for r in json.loads(second.stdout)["regions"]}
    assert changes["62.10"]["validated"] == {"type": 0, "province": 0}


def test_explain_and_gap_reports(example_file):
    text = inovasi("score", "explain", str(example_file), "--region", "62.11")
    assert text.returncode == 0 and "IID 38.55: Kurang Inovatif" in text.stdout
    assert "1.46 IID points below Inovatif" in text.stdout
    explained = inovasi("score", "explain", str(example_file), "--region", "62.11", "--json")
    schema_validator("explain.schema.json").validate(json.loads(explained.stdout))
    gap_text = inovasi("score", "gap", str(example_file), "--region", "62.11", "--target", "inovatif")
    assert "SPD: raise spd-12 from level 1 to 3 → IID 40.15" in gap_text.stdout
    gap_json = inovasi("score", "gap", str(example_file), "--region", "62.11", "--target", "sangat_inovatif", "--json")
    gap = json.loads(gap_json.stdout)
    schema_validator("gap.schema.json").validate(gap)
    assert gap["more_innovations"]["count"] > 0


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("{not json", [], "not valid JSON"),
        (json.dumps({"methodology": "iid-2026", "regions": [{"code": "1", "type": "provinsi", "spd": {"x": {}}}]}), [],
         "regions[0].spd.x: unknown indicator"),
        (None, ["--region", "99.99"], "--region: no region '99.99' in the dataset"),
        ("[" * 100_000, [], "not valid JSON: nested too deeply"),
    ],
)
def test_bad_input_exits_2_with_a_named_reason(example_file, content, args, message):
    if content is not None:
        example_file.write_text(content)
    done = inovasi("score", "explain" if args else "compute", str(example_file), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_gap_bad_target_exits_2(example_file):
    done = inovasi("score", "gap", str(example_file), "--region", "62.10", "--target", "excellent")
    assert done.returncode == 2 and "--target" in done.stderr


@pytest.mark.parametrize("name", ["dataset", "result", "explain", "gap"])
def test_committed_schemas_are_the_ones_the_models_generate(name):
    done = inovasi("score", "schema", name)
    assert json.loads(done.stdout) == json.loads((SCHEMAS / f"{name}.schema.json").read_text()), (
        f"regenerate with: inovasi score schema {name} > schemas/{name}.schema.json"
    )


def test_the_dataset_schema_accepts_a_dataset():
    validator = schema_validator("dataset.schema.json")
    validator.validate(dataset(worked_example_1()))


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ({"code": "99.99", "type": "kabupaten", "province": "99"},
         "regions[0].code: '99.99' is not a Kemendagri region code"),
        ({"code": "62.10", "type": "kabupaten", "province": "11"},
         "regions[0].province: 62.10 is in province 62, not 11"),
    ],
)
def test_compute_refuses_a_region_not_in_the_region_list(example_file, region, message):
    example_file.write_text(json.dumps(dataset(region)))
    done = inovasi("score", "compute", str(example_file))
    assert (done.returncode, done.stdout) == (2, "")
    assert f"  {message}\n" in done.stderr


def test_every_problem_of_a_dataset_is_listed(example_file):
    region = worked_example_1()
    region["spd"]["spd-01"] = {"level": 4, "evidence": "accepted"}
    region["innovations"][0]["answers"]["sid-99"] = {"level": 1, "evidence": "pending"}
    example_file.write_text(json.dumps(dataset(region)))
    done = inovasi("score", "compute", str(example_file))
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == [
        "  regions[0].innovations[0].answers.sid-99: unknown indicator",
        "  regions[0].spd.spd-01.level: Input should be less than or equal to 3",
    ]
