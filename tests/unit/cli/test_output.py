"""What the commands print: nothing but valid JSON under `--json` (an empty list included),
and no traceback when stdout is closed before they are done (`inovasi … | head`)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.cli import build_parser
from services.common.data.regions import load_regions
from services.common.dlq import dead_letter
from services.common.events import INTAKE_STREAM
from tests.support.infra import REDIS_URL, delete_keys, unique_suffix
from tests.unit.scoring.builders import dataset, worked_example_1, worked_example_2

from .running import inovasi

DATASET = "DATASET"  # replaced by the example dataset's path
JSON_COMMANDS = [
    ["score", "compute", DATASET],
    ["score", "explain", DATASET, "--region", "62.11", "--json"],
    ["score", "gap", DATASET, "--region", "62.11", "--target", "inovatif", "--json"],
]
TEXT_COMMANDS = [
    ["score", "explain", DATASET, "--region", "62.11"],
    ["score", "gap", DATASET, "--region", "62.11", "--target", "inovatif"],
    ["score", "schema"],
    ["asyncapi"],
]


@pytest.fixture
def example_file(tmp_path) -> Path:
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(dataset(worked_example_1(), worked_example_2())))
    return path


@pytest.fixture
def every_region_file(tmp_path) -> Path:
    """A dataset whose result (about 450 kB) is more than a pipe holds."""
    regions = [{"code": r.code, "type": r.type, "province": r.province_code} for r in load_regions().values()]
    path = tmp_path / "every-region.json"
    path.write_text(json.dumps(dataset(*regions)))
    return path


def with_dataset(command: list[str], path: Path) -> list[str]:
    return [str(path) if arg == DATASET else arg for arg in command]


# --- a closed stdout -------------------------------------------------------------------------


@pytest.mark.parametrize("command", JSON_COMMANDS + TEXT_COMMANDS, ids=" ".join)
def test_a_stdout_closed_before_the_output_is_no_traceback(command, example_file):
    read_end, write_end = os.pipe()
    os.close(read_end)  # whoever was to read is gone before the command writes
    try:
        done = inovasi(*with_dataset(command, example_file), stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


def test_a_reader_that_stops_early_is_no_traceback(every_region_file):
    command = f"{shlex.quote(sys.executable)} -m services.cli score compute {shlex.quote(str(every_region_file))}"
    done = subprocess.run(["sh", "-c", f"{command} | head -c 10"], capture_output=True, text=True, timeout=60)
    assert done.stdout == '{"methodol'
    assert done.stderr == ""


# --- --json ------------------------------------------------------------------------------------


def json_flags(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The commands (as paths of subcommand names) that take --json."""
    found = {path} if "--json" in parser._option_string_actions else set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= json_flags(sub, (*path, name))
    return found


def test_every_json_flag_is_checked_here():
    checked = {("dlq", "list")} | {tuple(c[:2]) for c in JSON_COMMANDS if "--json" in c}
    assert json_flags(build_parser()) == checked


@pytest.mark.parametrize("command", JSON_COMMANDS, ids=" ".join)
def test_score_json_outputs_are_one_json_document(command, example_file):
    done = inovasi(*with_dataset(command, example_file))
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), dict)


@pytest.fixture
async def stream_prefix() -> AsyncIterator[str]:
    prefix = f"{unique_suffix()}."
    yield prefix
    redis = Redis.from_url(REDIS_URL)
    try:
        await delete_keys(redis, prefix)
    finally:
        await redis.aclose()


def dlq_list_json(prefix: str) -> object:
    done = inovasi("dlq", "list", INTAKE_STREAM, "--json",
                   env={"INOVASI_REDIS_URL": REDIS_URL, "INOVASI_STREAM_PREFIX": prefix})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.integration
def test_dlq_list_json_of_an_empty_dlq_is_an_empty_array(stream_prefix):
    assert dlq_list_json(stream_prefix) == []


@pytest.mark.integration
async def test_dlq_list_json_is_one_array_of_the_dead_letters(stream_prefix):
    redis = Redis.from_url(REDIS_URL)
    try:
        ids = [
            await dead_letter(redis, stream_prefix + INTAKE_STREAM, f"1-{k}", {"type": "spd.answer_set"},
                              group="scoring", deliveries=5, reason=f"failure {k}")
            for k in (1, 2)
        ]
    finally:
        await redis.aclose()
    letters = dlq_list_json(stream_prefix)
    assert [(letter["id"], letter["original_id"], letter["reason"]) for letter in letters] == [
        (ids[0], "1-1", "failure 1"), (ids[1], "1-2", "failure 2"),
    ]
