"""The JSON Schema of the scoring dataset, generated from the input model (`schemas/` holds
it, with hand-written schemas of the outputs that tests check against real output)."""

from __future__ import annotations

from .dataset import DatasetIn


def dataset_schema() -> dict:
    schema = DatasetIn.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "inovasi scoring dataset"
    schema["description"] = (
        "Regions with their SPD answers and innovations, input of `inovasi score`. "
        "Indicator codes and urusan codes must exist in the methodology and urusan catalogues."
    )
    return schema
