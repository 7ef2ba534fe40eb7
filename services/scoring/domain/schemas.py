"""The JSON Schemas of the scoring formats, generated from their models: the dataset (input
of `inovasi score`) and the result, explanation and gap plan it prints. `schemas/` holds them
(`inovasi score schema NAME` prints one); a test fails when a committed file differs from
what the models generate."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.scoring.domain.dataset import DatasetIn
from services.scoring.domain.explain import Explanation
from services.scoring.domain.gap import GapPlan
from services.scoring.domain.results import ScoringResult

# name -> (model, mode, title, description)
FORMATS: dict[str, tuple[type[BaseModel], str, str, str]] = {
    "dataset": (
        DatasetIn,
        "validation",
        "inovasi scoring dataset",
        "Regions with their SPD answers and innovations, input of `inovasi score`. "
        "Indicator codes and urusan codes must exist in the methodology and urusan catalogues.",
    ),
    "result": (
        ScoringResult,
        "serialization",
        "inovasi scoring result",
        "Output of `inovasi score compute`: the three figures, categories and ranks of every region, "
        "ranked among the dataset's regions. Decimals are strings.",
    ),
    "explain": (
        Explanation,
        "serialization",
        "inovasi score explanation",
        "Output of `inovasi score explain --json` and of the scoring service's explain endpoint: "
        "why one region scores what it does in one figure. Decimals are strings.",
    ),
    "gap": (
        GapPlan,
        "serialization",
        "inovasi gap analysis",
        "Output of `inovasi score gap --json` and of the scoring service's gap endpoint: the actions "
        "that lift one figure of a region to a target, each with the IID after it. Decimals are strings.",
    ),
}


def json_schema(name: str) -> dict[str, Any]:
    model, mode, title, description = FORMATS[name]
    schema = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": title,
        "description": description,
    }
